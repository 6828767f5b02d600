# RVC_JUMP one halfword below its reach: S - P = -2050.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-rvc-jump-low.o,.text=0x90000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation RVC_JUMP at .text+0x0 in `overflow-rvc-jump-low.o` against `<unnamed>` is out of range: value -0x802 not in

        .globl  far
        .set    far, 0x8ffff7fe
        .text
        .option norvc
        .option rvc
        .reloc  ., R_RISCV_RVC_JUMP, far
        c.j     .
