# PREL32 one past its maximum: S - P = 0x100000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-prel32.o,.data=0x20000
# rivet-check-args: --dummy-extern prel32_over=0x100020000
# rivet-check-error: PREL32 at .data+0x0 in `overflow-prel32.o` against `prel32_over` is out of range: value 0x100000000 not in

        .data
        .word   prel32_over - .
