# A second module for sections-symbols.s (not a test of its own).
        .text
        .globl  helper_func
        .p2align 2
helper_func:
        adrp    x0, shared
        ldr     x0, [x0, :lo12:shared]
        ret

        .data
        .p2align 3
        .globl  shared
shared:
        .quad   0x5348415245440000
