# MOVW_UABS_G1: S + A must fit 32 bits; 0x100000000 does not.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-movw-uabs-g1.o,.text=0x10000000
# rivet-check-args: --dummy-extern g1_over=0x100000000
# rivet-check-error: MOVW_UABS_G1 at .text+0x0 in `overflow-movw-uabs-g1.o` against `g1_over` is out of range: value 0x100000000 not in

        .text
        movz    x0, #:abs_g1:g1_over
