# R_X86_64_32S one below its minimum (-0x80000000).
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-abs32s-low.o,.data=0x20000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: ABS32S at .data+0x0 in `overflow-abs32s-low.o` against `zero` is out of range

        .data
        .reloc  ., R_X86_64_32S, zero - 0x80000001
        .long   0
