# ABS32 one below its minimum (-0x80000000).
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-abs32-low.o,.data=0x20000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: ABS32 at .data+0x0 in `overflow-abs32-low.o` against `zero` is out of range

        .data
        .word   zero - 0x80000001
