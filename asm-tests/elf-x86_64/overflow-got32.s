# R_X86_64_GOT32 one past its maximum: G + A = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-got32.o,.data=0x20000
# rivet-check-args: --dummy-extern got32_target=0x1234
# rivet-check-error: GOT32 at .data+0x0 in `overflow-got32.o` against `got32_target` is out of range: value 0x80000000 not in

        .data
        .reloc  ., R_X86_64_GOT32, got32_target + 0x80000000
        .long   0
