# BRANCH one halfword below its reach: S - P = -4098.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-branch-low.o,.text=0x90000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation BRANCH at .text+0x0 in `overflow-branch-low.o` against `<unnamed>` is out of range: value -0x1002 not in

        .globl  far
        .set    far, 0x8fffeffe
        .text
        .option norvc
        .reloc  ., R_RISCV_BRANCH, far
        bge     a0, a1, .
