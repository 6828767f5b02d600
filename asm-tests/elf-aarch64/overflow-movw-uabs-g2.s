# MOVW_UABS_G2: S + A must fit 48 bits; 0x1000000000000 does not.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-movw-uabs-g2.o,.text=0x10000000
# rivet-check-args: --dummy-extern g2_over=0x1000000000000
# rivet-check-error: MOVW_UABS_G2 at .text+0x0 in `overflow-movw-uabs-g2.o` against `g2_over` is out of range: value 0x1000000000000 not in

        .text
        movz    x0, #:abs_g2:g2_over
