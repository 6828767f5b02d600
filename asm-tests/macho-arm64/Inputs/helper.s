# A second module for sections-symbols.s (not a test of its own).
        .section __TEXT,__text,regular,pure_instructions
        .globl  _helper
        .p2align 2
_helper:
        adrp    x0, _shared@PAGE
        ldr     x0, [x0, _shared@PAGEOFF]
        ret

        .section __DATA,__data
        .p2align 3
        .globl  _shared
_shared:
        .quad   0x5348415245440000
.subsections_via_symbols
