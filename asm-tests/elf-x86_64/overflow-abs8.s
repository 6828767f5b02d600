# R_X86_64_8 one past its maximum (0xff).
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-abs8.o,.data=0x20000
# rivet-check-args: --dummy-extern abs8_over=0x100
# rivet-check-error: ABS8 at .data+0x0 in `overflow-abs8.o` against `abs8_over` is out of range: value 0x100 not in

        .data
        .byte   abs8_over
