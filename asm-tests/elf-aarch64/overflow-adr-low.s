# ADR_PREL_LO21 one byte below its reach: S - P = -0x100001.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-adr-low.o,.text=0x10000000
# rivet-check-args: --dummy-extern adr_under=0xfefffff
# rivet-check-error: ADR_PREL_LO21 at .text+0x0 in `overflow-adr-low.o` against `adr_under` is out of range

        .text
        adr     x0, adr_under
