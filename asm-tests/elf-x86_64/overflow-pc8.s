# R_X86_64_PC8 one past its maximum: S - P = 0x80.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-pc8.o,.data=0x20000
# rivet-check-args: --dummy-extern pc8_over=0x20080
# rivet-check-error: PC8 at .data+0x0 in `overflow-pc8.o` against `pc8_over` is out of range: value 0x80 not in

        .data
        .byte   pc8_over - .
