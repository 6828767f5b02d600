# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --dummy-extern puts=0x7f0000001000
        .text
        .globl  main
main:
# puts is 2^39 bytes away: the call goes through a stub, `jmp *slot(%rip)`
# through puts's GOT slot (the one the load below reads).
# jitlink-check: decode_operand(call, 0) = stub_addr(readme-example.o, puts) - next_pc(call)
# jitlink-check: *{4}(stub_addr(readme-example.o, puts) + 2) = \
# jitlink-check:     (got_addr(readme-example.o, puts) - (stub_addr(readme-example.o, puts) + 6))[31:0]
call:
        callq   puts@PLT
# RIP-relative data (R_X86_64_PC32) and a GOT slot (REX_GOTPCRELX).
# jitlink-check: decode_operand(load, 4) = message - next_pc(load)
# jitlink-check: decode_operand(got, 4) = got_addr(readme-example.o, puts) - next_pc(got)
# jitlink-check: *{8}got_addr(readme-example.o, puts) = puts
load:
        leaq    message(%rip), %rdi
got:
        movq    puts@GOTPCREL(%rip), %rax
        retq

        .section .rodata,"a",@progbits
message:
        .asciz  "hello"
