# ABS32 one past its maximum (0xffffffff).
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-abs32.o,.data=0x20000
# rivet-check-args: --dummy-extern abs32_over=0x100000000
# rivet-check-error: ABS32 at .data+0x0 in `overflow-abs32.o` against `abs32_over` is out of range: value 0x100000000 not in

        .data
        .word   abs32_over
