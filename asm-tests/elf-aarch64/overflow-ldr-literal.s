# LD_PREL_LO19 one word past its reach: S - P = 0x100000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-ldr-literal.o,.text=0x10000000
# rivet-check-args: --dummy-extern lit_over=0x10100000
# rivet-check-error: LD_PREL_LO19 at .text+0x0 in `overflow-ldr-literal.o` against `lit_over` is out of range: value 0x100000 not in

        .text
        ldr     x0, lit_over
