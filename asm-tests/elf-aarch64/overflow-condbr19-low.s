# CONDBR19 (cbnz) one word below its reach: S - P = -0x100004.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-condbr19-low.o,.text=0x10000000
# rivet-check-args: --map-section overflow-condbr19-low.o,.rodata=0xfeffffc
# rivet-check-error: CONDBR19 at .text+0x0 in `overflow-condbr19-low.o` against `.rodata` is out of range

        .text
        cbnz    x3, far
        .section .rodata,"a",@progbits
        .p2align 2
far:
        .word   0
