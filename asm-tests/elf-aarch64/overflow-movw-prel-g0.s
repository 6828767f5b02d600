# MOVW_PREL_G0: S - P must lie in [-0x10000, 0x10000); 0x10000 does not.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-movw-prel-g0.o,.text=0x10000000
# rivet-check-args: --dummy-extern p0_over=0x10010000
# rivet-check-error: MOVW_PREL_G0 at .text+0x0 in `overflow-movw-prel-g0.o` against `p0_over` is out of range: value 0x10000 not in

        .text
        movz    x0, #:prel_g0:p0_over
