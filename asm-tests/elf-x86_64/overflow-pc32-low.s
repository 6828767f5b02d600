# R_X86_64_PC32 one below its minimum: S - P = -0x80000001.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-pc32-low.o,.data=0x80020000
# rivet-check-args: --dummy-extern pc32_under=0x1ffff
# rivet-check-error: PC32 at .data+0x0 in `overflow-pc32-low.o` against `pc32_under` is out of range

        .data
        .long   pc32_under - .
