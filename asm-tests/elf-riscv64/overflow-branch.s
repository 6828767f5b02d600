# BRANCH one halfword past its reach: S - P = 4096.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-branch.o,.text=0x90000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation BRANCH at .text+0x0 in `overflow-branch.o` against `<unnamed>` is out of range: value 0x1000 not in

        .globl  far
        .set    far, 0x90001000
        .text
        .option norvc
        .reloc  ., R_RISCV_BRANCH, far
        beq     a0, a1, .
