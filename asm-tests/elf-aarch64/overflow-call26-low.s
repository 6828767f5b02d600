# CALL26 one word below its reach: S - P = -0x8000004.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-call26-low.o,.text=0x10000000
# rivet-check-args: --map-section overflow-call26-low.o,.rodata=0x7fffffc
# rivet-check-error: CALL26 at .text+0x0 in `overflow-call26-low.o` against `.rodata` is out of range

        .text
        bl      far
        .section .rodata,"a",@progbits
        .p2align 2
far:
        .word   0
