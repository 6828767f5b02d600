# CONDBR19 (b.cond) one word past its reach: S - P = 0x100000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-condbr19.o,.text=0x10000000
# rivet-check-args: --map-section overflow-condbr19.o,.rodata=0x10100000
# rivet-check-error: CONDBR19 at .text+0x0 in `overflow-condbr19.o` against `.rodata` is out of range: value 0x100000 not in

        .text
        b.lt    far
        .section .rodata,"a",@progbits
        .p2align 2
far:
        .word   0
