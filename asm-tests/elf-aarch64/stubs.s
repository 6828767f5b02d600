# Veneers: a branch to an external out of reach (bl/b: ±128 MiB; b.cond
# and cbz: ±1 MiB; tbz: ±32 KiB) goes through a stub, `ldr x16, #8;
# br x16; .quad target`, in the module's stub area right after the text.
# Branches to one target share its stub; a target within reach is branched
# to directly (its stub is reserved all the same).
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
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

# The stub, 8-aligned so that its literal is.
# jitlink-check: *{4}stub_addr(stubs.o, far_func) = 0x58000050
# jitlink-check: *{4}(stub_addr(stubs.o, far_func) + 4) = 0xd61f0200
# jitlink-check: *{8}(stub_addr(stubs.o, far_func) + 8) = far_func
# jitlink-check: stub_addr(stubs.o, far_func)[2:0] = 0
# jitlink-check: stub_addr(stubs.o, far_func) = section_addr(stubs.o, [stubs])

# Within reach: direct.
# jitlink-check: decode_operand(call_near, 0)[25:0] = (near_func - call_near)[27:2]
# jitlink-check: stub_addr(stubs.o, near_func) = section_addr(stubs.o, [stubs]) + 16
call_near:
        bl      near_func
        ret
