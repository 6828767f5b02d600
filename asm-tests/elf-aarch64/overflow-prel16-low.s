# PREL16 one below its minimum: S - P = -0x8001.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-prel16-low.o,.data=0x20000
# rivet-check-args: --dummy-extern prel16_under=0x17fff
# rivet-check-error: PREL16 at .data+0x0 in `overflow-prel16-low.o` against `prel16_under` is out of range

        .data
        .hword  prel16_under - .
