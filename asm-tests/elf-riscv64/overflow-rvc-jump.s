# RVC_JUMP one halfword past its reach: S - P = 2048.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-rvc-jump.o,.text=0x90000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation RVC_JUMP at .text+0x0 in `overflow-rvc-jump.o` against `<unnamed>` is out of range: value 0x800 not in

        .globl  far
        .set    far, 0x90000800
        .text
        .option norvc
        .option rvc
        .reloc  ., R_RISCV_RVC_JUMP, far
        c.j     .
