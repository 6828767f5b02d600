# MOVW_PREL_G2: S - P must lie in [-2^48, 2^48); 2^48 does not.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-movw-prel-g2.o,.text=0x10000000
# rivet-check-args: --dummy-extern p2_over=0x1000010000000
# rivet-check-error: MOVW_PREL_G2 at .text+0x0 in `overflow-movw-prel-g2.o` against `p2_over` is out of range: value 0x1000000000000 not in

        .text
        movz    x0, #:prel_g2:p2_over
