# R_X86_64_8 one below its minimum (-0x80).
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-abs8-low.o,.data=0x20000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: ABS8 at .data+0x0 in `overflow-abs8-low.o` against `zero` is out of range

        .data
        .byte   zero - 0x81
