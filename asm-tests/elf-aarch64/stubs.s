# Veneers: a branch to an external out of reach (bl/b: ±128 MiB; b.cond
# and cbz: ±1 MiB; tbz: ±32 KiB) goes through a stub, `adrp x16, slot;
# ldr x16, [x16, :lo12:slot]; br x16`, in the module's stub area right
# after the text, which jumps through the target's GOT slot (right after
# the stubs): the slot is the one place holding the target.
# Branches to one target share its stub; a target within reach is branched
# to directly (its stub is reserved all the same).
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# The GOT's place right after the stubs is rivet's own layout (each
# module's segments in class order: text, stubs, GOT, read-only data, data).
# rivet-check-args: --layout rivet
# rivet-check-args: --dummy-extern far_func=0x7f0000001230
# rivet-check-args: --dummy-extern near_func=0x10000

        .text
        .globl  main
        .p2align 2
main:
# jitlink-check: decode_operand(call_far, 0) = (stub_addr(stubs.o, far_func) - call_far)[27:2]
# jitlink-check: decode_operand(jump_far, 0) = (stub_addr(stubs.o, far_func) - jump_far)[27:2]
# jitlink-check: decode_operand(cond_far, 1) = (stub_addr(stubs.o, far_func) - cond_far)[20:2]
# jitlink-check: decode_operand(cbz_far, 1) = (stub_addr(stubs.o, far_func) - cbz_far)[20:2]
# jitlink-check: decode_operand(tbz_far, 2) = (stub_addr(stubs.o, far_func) - tbz_far)[15:2]
call_far:
        bl      far_func
jump_far:
        b       far_func
cond_far:
        b.eq    far_func
cbz_far:
        cbz     x0, far_func
tbz_far:
        tbz     w0, #0, far_func

# The stub: adrp x16 to the slot's page, ldr x16 from the slot, br x16.
# jitlink-check: (*{4}stub_addr(stubs.o, far_func)) & 0x9f00001f = 0x90000010
# jitlink-check: (*{4}stub_addr(stubs.o, far_func))[30:29] = (got_addr(stubs.o, far_func)[63:12] - stub_addr(stubs.o, far_func)[63:12])[1:0]
# jitlink-check: (*{4}stub_addr(stubs.o, far_func))[23:5] = (got_addr(stubs.o, far_func)[63:12] - stub_addr(stubs.o, far_func)[63:12])[20:2]
# jitlink-check: *{4}(stub_addr(stubs.o, far_func) + 4) = 0xf9400210 | (got_addr(stubs.o, far_func)[11:3] << 10)
# jitlink-check: *{4}(stub_addr(stubs.o, far_func) + 8) = 0xd61f0200
# jitlink-check: *{8}got_addr(stubs.o, far_func) = far_func
# jitlink-check: stub_addr(stubs.o, far_func) = section_addr(stubs.o, [stubs])
# The GOT follows the two 12-byte stubs, 8-aligned: 24 to 31 bytes on.
# jitlink-check: (section_addr(stubs.o, [got]) - section_addr(stubs.o, [stubs]))[63:3] = 3

# Within reach: direct.
# jitlink-check: decode_operand(call_near, 0)[25:0] = (near_func - call_near)[27:2]
# jitlink-check: stub_addr(stubs.o, near_func) = section_addr(stubs.o, [stubs]) + 12
# jitlink-check: *{8}got_addr(stubs.o, near_func) = near_func
call_near:
        bl      near_func
        ret
