# TSTBR14 one word below its reach: S - P = -0x8004.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-tstbr14-low.o,.text=0x10000000
# rivet-check-args: --map-section overflow-tstbr14-low.o,.rodata=0xfff7ffc
# rivet-check-error: TSTBR14 at .text+0x0 in `overflow-tstbr14-low.o` against `.rodata` is out of range

        .text
        tbnz    x0, #3, far
        .section .rodata,"a",@progbits
        .p2align 2
far:
        .word   0
