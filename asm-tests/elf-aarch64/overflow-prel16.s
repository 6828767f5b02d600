# PREL16 one past its maximum: S - P = 0x10000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-prel16.o,.data=0x20000
# rivet-check-args: --dummy-extern prel16_over=0x30000
# rivet-check-error: PREL16 at .data+0x0 in `overflow-prel16.o` against `prel16_over` is out of range: value 0x10000 not in

        .data
        .hword  prel16_over - .
