# HI20 one byte past its reach: S + A = 0x7ffff800.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-hi20.o,.text=0x90000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation HI20 at .text+0x0 in `overflow-hi20.o` against `<unnamed>` is out of range: value 0x7ffff800 not in

        .globl  far
        .set    far, 0x7ffff800
        .text
        .option norvc
        .reloc  ., R_RISCV_HI20, far
        lui     a0, 0
