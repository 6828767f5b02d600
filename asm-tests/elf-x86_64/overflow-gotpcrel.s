# R_X86_64_GOTPCREL one past its maximum: slot - 4 - P = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-gotpcrel.o,.data=0x20000
# rivet-check-args: --map-section overflow-gotpcrel.o,[got]=0x80020008
# rivet-check-args: --dummy-extern gotpcrel_target=0x5678
# rivet-check-error: GOTPCREL32 at .data+0x4 in `overflow-gotpcrel.o` against `gotpcrel_target` is out of range: value 0x80000000 not in

        .data
        .org    4
        .reloc  ., R_X86_64_GOTPCREL, gotpcrel_target - 4
        .long   0
