# Stubs: a branch to an external out of reach of rel32 goes through a stub
# (jmp *slot(%rip)) in the module's stub area, which jumps through the
# target's GOT slot: the slot is the one place holding the target, so
# `*{8}got_addr(F, sym) = sym` holds for a called symbol as in JITLink.
# Every branch to that target shares the stub; one within reach goes direct.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# The GOT's place right after the stubs is rivet's own layout (each
# module's segments in class order: text, stubs, GOT, read-only data, data).
# rivet-check-args: --layout rivet
# rivet-check-args: --dummy-extern far_func=0x7f0000001230
# rivet-check-args: --dummy-extern other_far=0x7f0000004560
# rivet-check-args: --dummy-extern near_func=0x10000

        .text
        .globl  main
        .type   main,@function
main:
# A call and a tail jump to far_func: both through the same stub.
# jitlink-check: decode_operand(call_far, 0) = stub_addr(stubs.o, far_func) - next_pc(call_far)
# jitlink-check: decode_operand(jump_far, 0) = stub_addr(stubs.o, far_func) - next_pc(jump_far)
call_far:
        callq   far_func@PLT
jump_far:
        jmp     far_func@PLT

# The stub: ff 25 <disp32> (jmp *disp32(%rip)) to far_func's GOT slot,
# which holds far_func; two int3 pad it to 8 bytes.
# jitlink-check: *{2}stub_addr(stubs.o, far_func) = 0x25ff
# jitlink-check: *{4}(stub_addr(stubs.o, far_func) + 2) = \
# jitlink-check:     (got_addr(stubs.o, far_func) - (stub_addr(stubs.o, far_func) + 6))[31:0]
# jitlink-check: *{2}(stub_addr(stubs.o, far_func) + 6) = 0xcccc
# jitlink-check: *{8}got_addr(stubs.o, far_func) = far_func

# A second far target gets the next stub, 8 bytes further, 8-aligned, and
# the next slot.
# jitlink-check: decode_operand(call_other, 0) = stub_addr(stubs.o, other_far) - next_pc(call_other)
# jitlink-check: stub_addr(stubs.o, other_far)[2:0] = 0
# jitlink-check: *{4}(stub_addr(stubs.o, other_far) + 2) = \
# jitlink-check:     (got_addr(stubs.o, other_far) - (stub_addr(stubs.o, other_far) + 6))[31:0]
# jitlink-check: *{8}got_addr(stubs.o, other_far) = other_far
call_other:
        callq   other_far@PLT

# A conditional jump to a far target (jcc rel32) uses the stub too.
# jitlink-check: decode_operand(jcc_far, 0) = stub_addr(stubs.o, far_func) - next_pc(jcc_far)
jcc_far:
        jne     far_func@PLT

# Within reach: direct (its stub and slot are reserved all the same, and
# the stub is whole code).
# jitlink-check: decode_operand(call_near, 0) = near_func - next_pc(call_near)
# jitlink-check: *{8}got_addr(stubs.o, near_func) = near_func
# jitlink-check: *{2}stub_addr(stubs.o, near_func) = 0x25ff
call_near:
        callq   near_func@PLT

# The stub area is a segment of its own, 8-aligned, right after the text
# (32 bytes here), and the GOT right after it (3 stubs of 8 bytes), so
# that every stub reaches its slot; stubs and slots are in the order of
# their targets' first branch.
# jitlink-check: section_addr(stubs.o, [stubs]) = section_addr(stubs.o, .text) + 0x20
# jitlink-check: stub_addr(stubs.o, far_func) = section_addr(stubs.o, [stubs])
# jitlink-check: stub_addr(stubs.o, other_far) = section_addr(stubs.o, [stubs]) + 8
# jitlink-check: stub_addr(stubs.o, near_func) = section_addr(stubs.o, [stubs]) + 16
# jitlink-check: section_addr(stubs.o, [got]) = section_addr(stubs.o, [stubs]) + 24
# jitlink-check: got_addr(stubs.o, far_func) = section_addr(stubs.o, [got])
# jitlink-check: got_addr(stubs.o, other_far) = section_addr(stubs.o, [got]) + 8
        retq
        .size   main, .-main
