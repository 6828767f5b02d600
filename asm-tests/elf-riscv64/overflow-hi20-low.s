# HI20 one byte below its reach: S + A = -0x80000801.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-hi20-low.o,.text=0x90000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation HI20 at .text+0x0 in `overflow-hi20-low.o` against `zero` is out of range: value -0x80000801 not in

        .text
        .option norvc
        .reloc  ., R_RISCV_HI20, zero - 0x80000801
        lui     a0, 0
