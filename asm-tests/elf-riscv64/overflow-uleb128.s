# SET_ULEB128 one past what its one byte holds: 128.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-uleb128.o,.text=0x90000000
# rivet-check-args: --map-section overflow-uleb128.o,.data=0x90100000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation SET_ULEB128 at .data+0x0 in `overflow-uleb128.o` against `<unnamed>` is out of range: value 0x80 not in

        .globl  far
        .set    far, 0x80
        .text
        .option norvc
        ret
        .data
        .reloc  ., R_RISCV_SET_ULEB128, far
        .byte   0
