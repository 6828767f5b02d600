# Indirect functions (STT_GNU_IFUNC): the symbol's definition is its
# resolver. rivet gives each one a slot in the module's data (the GOT entry
# GOT loads of it read, which receives the resolver's result when the
# module runs; `rivet check` runs nothing, so it holds 0) and a thunk that
# jumps through the slot (listed as its stub), which calls and direct
# references reach. Also a local indirect function.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu --target-addr-start 0x10000

        .text
        .globl  main
        .p2align 4
main:
# A call goes to the thunk.
# jitlink-check: decode_operand(main, 0) = stub_addr(ifunc.o, pick) - next_pc(main)
        callq   pick@PLT
got_load:
# A GOT load reads the slot, in the data segment, which holds 0 until the
# resolver has run.
# jitlink-check: decode_operand(got_load, 4) = got_addr(ifunc.o, pick) - next_pc(got_load)
# jitlink-check: *{8}got_addr(ifunc.o, pick) = 0
# Slots follow the data sections, in symbol order (the local one first).
# jitlink-check: got_addr(ifunc.o, pick) = section_addr(ifunc.o, .data) + 16
        movq    pick@GOTPCREL(%rip), %rax
call_local:
# jitlink-check: decode_operand(call_local, 0) = stub_addr(ifunc.o, local_pick) - next_pc(call_local)
        callq   local_pick
        retq

# The thunk: movabs $slot, %r11; jmp *(%r11).
# jitlink-check: *{2}stub_addr(ifunc.o, pick) = 0xbb49
# jitlink-check: *{8}(stub_addr(ifunc.o, pick) + 2) = got_addr(ifunc.o, pick)
# jitlink-check: *{3}(stub_addr(ifunc.o, pick) + 10) = 0x23ff41
# The name stands for the thunk inside the link; the resolver stays where
# its code is.
# jitlink-check: pick = stub_addr(ifunc.o, pick)
# Thunks follow the text, 16-aligned, in symbol order.
# jitlink-check: stub_addr(ifunc.o, local_pick) = (((resolve_pick + 8) + 15) >> 4) << 4
# jitlink-check: stub_addr(ifunc.o, pick) = stub_addr(ifunc.o, local_pick) + 16
# jitlink-check: *{8}(stub_addr(ifunc.o, local_pick) + 2) = section_addr(ifunc.o, .data) + 8

        .p2align 4
impl_a:
        movl    $1, %eax
        retq

resolve_pick:
        leaq    impl_a(%rip), %rax
        retq

        .globl  pick
        .type   pick, @gnu_indirect_function
        .set    pick, resolve_pick

        .type   local_pick, @gnu_indirect_function
        .set    local_pick, resolve_pick

        .data
        .p2align 3
pointer:
# An absolute reference is the thunk too (the function's canonical
# address in the module).
# jitlink-check: *{8}pointer = stub_addr(ifunc.o, pick)
        .quad   pick
