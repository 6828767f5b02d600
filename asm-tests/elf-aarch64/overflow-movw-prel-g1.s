# MOVW_PREL_G1: S - P must lie in [-2^32, 2^32); 2^32 does not.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-movw-prel-g1.o,.text=0x10000000
# rivet-check-args: --dummy-extern p1_over=0x110000000
# rivet-check-error: MOVW_PREL_G1 at .text+0x0 in `overflow-movw-prel-g1.o` against `p1_over` is out of range: value 0x100000000 not in

        .text
        movz    x0, #:prel_g1:p1_over
