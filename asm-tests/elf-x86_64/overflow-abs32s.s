# R_X86_64_32S one past its maximum (0x7fffffff).
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-abs32s.o,.data=0x20000
# rivet-check-args: --dummy-extern abs32s_over=0x80000000
# rivet-check-error: ABS32S at .data+0x0 in `overflow-abs32s.o` against `abs32s_over` is out of range: value 0x80000000 not in

        .data
        .reloc  ., R_X86_64_32S, abs32s_over
        .long   0
