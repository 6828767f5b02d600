# A second module for sections-symbols.s (not a test of its own).
        .text
        .globl  helper
helper:
        movq    shared(%rip), %rax
        retq

# The same COMDAT function as sections-symbols.s, whose copy comes first.
        .section .text$inline_func,"xr",discard,inline_func
        .globl  inline_func
inline_func:
        movl    $2, %eax
        retq

        .data
        .p2align 3
        .globl  shared
shared:
        .quad   0x5348415245440000
