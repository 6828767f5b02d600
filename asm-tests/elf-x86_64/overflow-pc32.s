# R_X86_64_PC32 one past its maximum: S - P = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-pc32.o,.data=0x20000
# rivet-check-args: --dummy-extern pc32_over=0x80020000
# rivet-check-error: PC32 at .data+0x0 in `overflow-pc32.o` against `pc32_over` is out of range: value 0x80000000 not in

        .data
        .long   pc32_over - .
