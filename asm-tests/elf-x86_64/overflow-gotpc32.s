# R_X86_64_GOTPC32 one past its maximum: GOT + A - P = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-gotpc32.o,.data=0x20000
# rivet-check-args: --map-section overflow-gotpc32.o,[got]=0x80020000
# rivet-check-error: GOTPC32 at .data+0x0 in `overflow-gotpc32.o` against `_GLOBAL_OFFSET_TABLE_` is out of range: value 0x80000000 not in

        .data
        .reloc  ., R_X86_64_GOTPC32, _GLOBAL_OFFSET_TABLE_
        .long   0
