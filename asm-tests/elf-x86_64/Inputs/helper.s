# A second module for sections-symbols.s (not a test of its own).
        .text
        .globl  helper_func
        .type   helper_func,@function
helper_func:
        movq    shared(%rip), %rax
        retq
        .size   helper_func, .-helper_func

        .data
        .p2align 3
        .globl  shared
        .type   shared,@object
shared:
        .quad   0x5348415245440000
        .size   shared, 8
