# ABS16 one past its maximum (0xffff).
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-abs16.o,.data=0x20000
# rivet-check-args: --dummy-extern abs16_over=0x10000
# rivet-check-error: ABS16 at .data+0x0 in `overflow-abs16.o` against `abs16_over` is out of range: value 0x10000 not in

        .data
        .hword  abs16_over
