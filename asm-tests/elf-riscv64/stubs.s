# Stubs: a call (auipc + jalr, ±2 GiB) or a jal (±1 MiB) to an external out
# of reach goes through a stub, `auipc t3, %pcrel_hi(slot); ld t3,
# %pcrel_lo(slot)(t3); jr t3`, in the module's stub area, through the
# target's GOT slot (the one place holding the target). Calls to one target share its
# stub; a target within reach is called directly (its stub is reserved all
# the same). t3 is a temporary no caller expects kept across a call.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section stubs.o,.text=0x10000
# rivet-check-args: --dummy-extern far_func=0x7f0000001230
# rivet-check-args: --dummy-extern near_func=0x10100

        .text
        .globl  main
        .p2align 2
main:
# jitlink-check: decode_operand(call_far, 1) = (stub_addr(stubs.o, far_func) - call_far + 0x800)[31:12]
# jitlink-check: decode_operand(call_far + 4, 2)[11:0] = (stub_addr(stubs.o, far_func) - call_far)[11:0]
# jitlink-check: decode_operand(tail_far, 1) = (stub_addr(stubs.o, far_func) - tail_far + 0x800)[31:12]
# jitlink-check: decode_operand(tail_far + 4, 2)[11:0] = (stub_addr(stubs.o, far_func) - tail_far)[11:0]
# jitlink-check: decode_operand(jal_far, 1) = (stub_addr(stubs.o, far_func) - jal_far)[63:0]
call_far:
        call    far_func
tail_far:
        tail    far_func
jal_far:
        jal     far_func

# The stub: auipc t3 and ld t3 split slot - stub into its high 20 bits
# (rounded) and low 12 bits (sign-extended), then jr t3.
# jitlink-check: *{4}stub_addr(stubs.o, far_func) = \
# jitlink-check:     0x00000e17 | ((got_addr(stubs.o, far_func) - stub_addr(stubs.o, far_func) + 0x800)[31:12] << 12)
# jitlink-check: *{4}(stub_addr(stubs.o, far_func) + 4) = \
# jitlink-check:     0x000e3e03 | ((got_addr(stubs.o, far_func) - stub_addr(stubs.o, far_func))[11:0] << 20)
# jitlink-check: *{4}(stub_addr(stubs.o, far_func) + 8) = 0x000e0067
# jitlink-check: *{8}got_addr(stubs.o, far_func) = far_func
# jitlink-check: stub_addr(stubs.o, far_func)[1:0] = 0
# jitlink-check: stub_addr(stubs.o, far_func) = section_addr(stubs.o, [stubs])

# Within reach: direct.
# jitlink-check: decode_operand(call_near, 1) = (near_func - call_near + 0x800)[31:12]
# jitlink-check: decode_operand(call_near + 4, 2)[11:0] = (near_func - call_near)[11:0]
# jitlink-check: decode_operand(jal_near, 1) = (near_func - jal_near)[63:0]
# jitlink-check: stub_addr(stubs.o, near_func) = section_addr(stubs.o, [stubs]) + 12
# jitlink-check: *{8}got_addr(stubs.o, near_func) = near_func
call_near:
        call    near_func
jal_near:
        jal     near_func
        ret
