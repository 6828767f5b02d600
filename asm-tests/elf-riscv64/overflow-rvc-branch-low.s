# RVC_BRANCH one halfword below its reach: S - P = -258.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-rvc-branch-low.o,.text=0x90000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation RVC_BRANCH at .text+0x0 in `overflow-rvc-branch-low.o` against `<unnamed>` is out of range: value -0x102 not in

        .globl  far
        .set    far, 0x8ffffefe
        .text
        .option norvc
        .option rvc
        .reloc  ., R_RISCV_RVC_BRANCH, far
        c.bnez  a0, .
