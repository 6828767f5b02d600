# MOVW_UABS_G0: S + A must fit 16 bits; 0x10000 does not.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-movw-uabs-g0.o,.text=0x10000000
# rivet-check-args: --dummy-extern g0_over=0x10000
# rivet-check-error: MOVW_UABS_G0 at .text+0x0 in `overflow-movw-uabs-g0.o` against `g0_over` is out of range: value 0x10000 not in

        .text
        movz    x0, #:abs_g0:g0_over
