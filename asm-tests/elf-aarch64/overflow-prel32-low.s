# PREL32 one below its minimum: S - P = -0x80000001.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-prel32-low.o,.data=0x80020000
# rivet-check-args: --dummy-extern prel32_under=0x1ffff
# rivet-check-error: PREL32 at .data+0x0 in `overflow-prel32-low.o` against `prel32_under` is out of range

        .data
        .word   prel32_under - .
