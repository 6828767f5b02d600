# R_X86_64_32 is zero-extended: -1 does not fit.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-abs32-negative.o,.data=0x20000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: ABS32 at .data+0x0 in `overflow-abs32-negative.o` against `zero` is out of range

        .data
        .long   zero - 1
