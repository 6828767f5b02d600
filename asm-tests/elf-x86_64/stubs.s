# Stubs: a branch to an external out of reach of rel32 goes through a stub
# (movabs $target, %r11; jmp *%r11) in the module's stub area; every branch
# to that target shares it; one within reach goes direct.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
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

# The stub: 49 bb <imm64> (movabs $far_func, %r11), 41 ff e3 (jmp *%r11).
# jitlink-check: *{2}stub_addr(stubs.o, far_func) = 0xbb49
# jitlink-check: *{8}(stub_addr(stubs.o, far_func) + 2) = far_func
# jitlink-check: *{4}(stub_addr(stubs.o, far_func) + 10) = 0xcce3ff41

# A second far target gets the next stub, 16 bytes further, 16-aligned.
# jitlink-check: decode_operand(call_other, 0) = stub_addr(stubs.o, other_far) - next_pc(call_other)
# jitlink-check: stub_addr(stubs.o, other_far)[3:0] = 0
# jitlink-check: *{8}(stub_addr(stubs.o, other_far) + 2) = other_far
call_other:
        callq   other_far@PLT

# A conditional jump to a far target (jcc rel32) uses the stub too.
# jitlink-check: decode_operand(jcc_far, 0) = stub_addr(stubs.o, far_func) - next_pc(jcc_far)
jcc_far:
        jne     far_func@PLT

# Within reach: direct.
# jitlink-check: decode_operand(call_near, 0) = near_func - next_pc(call_near)
call_near:
        callq   near_func@PLT

# The stub area is a segment of its own, 16-aligned, right after the text
# (32 bytes here); stubs are in the order of their targets' first branch.
# jitlink-check: section_addr(stubs.o, [stubs]) = section_addr(stubs.o, .text) + 0x20
# jitlink-check: stub_addr(stubs.o, far_func) = section_addr(stubs.o, [stubs])
# jitlink-check: stub_addr(stubs.o, other_far) = section_addr(stubs.o, [stubs]) + 16
# jitlink-check: stub_addr(stubs.o, near_func) = section_addr(stubs.o, [stubs]) + 32
        retq
        .size   main, .-main
