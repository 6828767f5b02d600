# JUMP26 one word past its reach: S - P = 0x8000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-jump26.o,.text=0x10000000
# rivet-check-args: --map-section overflow-jump26.o,.rodata=0x18000000
# rivet-check-error: JUMP26 at .text+0x0 in `overflow-jump26.o` against `.rodata` is out of range: value 0x8000000 not in

        .text
        b       far
        .section .rodata,"a",@progbits
        .p2align 2
far:
        .word   0
