# RVC_BRANCH one halfword past its reach: S - P = 256.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-rvc-branch.o,.text=0x90000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation RVC_BRANCH at .text+0x0 in `overflow-rvc-branch.o` against `<unnamed>` is out of range: value 0x100 not in

        .globl  far
        .set    far, 0x90000100
        .text
        .option norvc
        .option rvc
        .reloc  ., R_RISCV_RVC_BRANCH, far
        c.beqz  a0, .
