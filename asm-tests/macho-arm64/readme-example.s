# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-args: --map-section readme-example.o,__data=0x12345678
        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 2
_main:
# adrp holds the distance in 4 KiB pages (PAGE21), add the low 12 bits
# (PAGEOFF12); names keep their underscore.
# jitlink-check: decode_operand(_main, 1) = _counter[63:12] - _main[63:12]
# jitlink-check: decode_operand(_main + 4, 2) = _counter[11:0]
        adrp    x0, _counter@PAGE
        add     x0, x0, _counter@PAGEOFF
        ret

        .section __DATA,__data
        .p2align 3
        .globl  _counter
_counter:
        .quad   0
# jitlink-check: _counter = 0x12345678
.subsections_via_symbols
