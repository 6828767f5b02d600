# REL32 one past its maximum: S + A - P = 0x80000000 (P = 0x20000000).
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --map-section overflow-rel32.o,.data=0x20000000
# rivet-check-args: --dummy-extern rel32_over=0xa0000000
# rivet-check-error: REL32 at .data+0x0 in `overflow-rel32.o` against `rel32_over` is out of range: value 0x80000000 not in

        .data
        .long   rel32_over - .
