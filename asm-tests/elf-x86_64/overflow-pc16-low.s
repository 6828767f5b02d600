# R_X86_64_PC16 one below its minimum: S - P = -0x8001.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-pc16-low.o,.data=0x20000
# rivet-check-args: --dummy-extern pc16_under=0x17fff
# rivet-check-error: PC16 at .data+0x0 in `overflow-pc16-low.o` against `pc16_under` is out of range

        .data
        .short  pc16_under - .
