# A second module for sections-symbols.s (not a test of its own).
        .section __TEXT,__text,regular,pure_instructions
        .globl  _helper
_helper:
        movq    _shared(%rip), %rax
        retq

        .section __DATA,__data
        .p2align 3
        .globl  _shared
_shared:
        .quad   0x5348415245440000
.subsections_via_symbols
