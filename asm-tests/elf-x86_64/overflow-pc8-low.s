# R_X86_64_PC8 one below its minimum: S - P = -0x81.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-pc8-low.o,.data=0x20000
# rivet-check-args: --dummy-extern pc8_under=0x1ff7f
# rivet-check-error: PC8 at .data+0x0 in `overflow-pc8-low.o` against `pc8_under` is out of range

        .data
        .byte   pc8_under - .
