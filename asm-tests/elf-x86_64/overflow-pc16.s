# R_X86_64_PC16 one past its maximum: S - P = 0x8000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-pc16.o,.data=0x20000
# rivet-check-args: --dummy-extern pc16_over=0x28000
# rivet-check-error: PC16 at .data+0x0 in `overflow-pc16.o` against `pc16_over` is out of range: value 0x8000 not in

        .data
        .short  pc16_over - .
