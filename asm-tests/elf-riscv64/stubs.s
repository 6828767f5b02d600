# Stubs: a call (auipc + jalr, ±2 GiB) or a jal (±1 MiB) to an external out
# of reach goes through a stub, `auipc t3, 0; ld t3, 16(t3); jr t3; nop;
# .quad target`, in the module's stub area. Calls to one target share its
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

# The stub, 8-aligned so that its literal is.
# jitlink-check: *{4}stub_addr(stubs.o, far_func) = 0x00000e17
# jitlink-check: *{4}(stub_addr(stubs.o, far_func) + 4) = 0x010e3e03
# jitlink-check: *{4}(stub_addr(stubs.o, far_func) + 8) = 0x000e0067
# jitlink-check: *{4}(stub_addr(stubs.o, far_func) + 12) = 0x00000013
# jitlink-check: *{8}(stub_addr(stubs.o, far_func) + 16) = far_func
# jitlink-check: stub_addr(stubs.o, far_func)[2:0] = 0
# jitlink-check: stub_addr(stubs.o, far_func) = section_addr(stubs.o, [stubs])

# Within reach: direct.
# jitlink-check: decode_operand(call_near, 1) = (near_func - call_near + 0x800)[31:12]
# jitlink-check: decode_operand(call_near + 4, 2)[11:0] = (near_func - call_near)[11:0]
# jitlink-check: decode_operand(jal_near, 1) = (near_func - jal_near)[63:0]
# jitlink-check: stub_addr(stubs.o, near_func) = section_addr(stubs.o, [stubs]) + 24
call_near:
        call    near_func
jal_near:
        jal     near_func
        ret
