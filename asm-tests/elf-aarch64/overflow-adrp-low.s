# ADR_PREL_PG_HI21 one page below its reach: -0x100001000 between pages.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-adrp-low.o,.text=0x10000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: ADR_PREL_PG_HI21 at .text+0x0 in `overflow-adrp-low.o` against `zero` is out of range

        .text
        adrp    x0, zero - 0xf0001000
