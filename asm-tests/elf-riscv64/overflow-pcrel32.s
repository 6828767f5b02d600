# 32_PCREL one past its reach: S + A - P = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-pcrel32.o,.text=0x90000000
# rivet-check-args: --map-section overflow-pcrel32.o,.data=0x90100000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation 32_PCREL at .data+0x0 in `overflow-pcrel32.o` against `<unnamed>` is out of range: value 0x80000000 not in

        .globl  far
        .set    far, 0x110100000
        .text
        .option norvc
        ret
        .data
        .reloc  ., R_RISCV_32_PCREL, far
        .word   0
