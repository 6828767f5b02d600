# TSTBR14 one word past its reach: S - P = 0x8000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-tstbr14.o,.text=0x10000000
# rivet-check-args: --map-section overflow-tstbr14.o,.rodata=0x10008000
# rivet-check-error: TSTBR14 at .text+0x0 in `overflow-tstbr14.o` against `.rodata` is out of range: value 0x8000 not in

        .text
        tbz     x0, #3, far
        .section .rodata,"a",@progbits
        .p2align 2
far:
        .word   0
