# PCREL_HI20 one byte past its reach: S - P = 0x7ffff800.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-pcrel-hi20.o,.text=0x90000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation PCREL_HI20 at .text+0x0 in `overflow-pcrel-hi20.o` against `<unnamed>` is out of range: value 0x7ffff800 not in

        .globl  far
        .set    far, 0x10ffff800
        .text
        .option norvc
        .reloc  ., R_RISCV_PCREL_HI20, far
        auipc   a0, 0
