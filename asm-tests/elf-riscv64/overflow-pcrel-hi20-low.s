# PCREL_HI20 one byte below its reach: S - P = -0x80000801.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-pcrel-hi20-low.o,.text=0x90000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation PCREL_HI20 at .text+0x0 in `overflow-pcrel-hi20-low.o` against `<unnamed>` is out of range: value -0x80000801 not in

        .globl  far
        .set    far, 0xffff7ff
        .text
        .option norvc
        .reloc  ., R_RISCV_PCREL_HI20, far
        auipc   a0, 0
