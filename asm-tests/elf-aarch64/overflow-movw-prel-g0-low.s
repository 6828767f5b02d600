# MOVW_PREL_G0: S - P = -0x10001 is one below the range.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-movw-prel-g0-low.o,.text=0x10000000
# rivet-check-args: --dummy-extern p0_under=0xffeffff
# rivet-check-error: MOVW_PREL_G0 at .text+0x0 in `overflow-movw-prel-g0-low.o` against `p0_under` is out of range

        .text
        movz    x0, #:prel_g0:p0_under
