# JAL one halfword past its reach: S - P = 0x100000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-jal.o,.text=0x90000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation JAL at .text+0x0 in `overflow-jal.o` against `<unnamed>` is out of range: value 0x100000 not in

        .globl  far
        .set    far, 0x90100000
        .text
        .option norvc
        .reloc  ., R_RISCV_JAL, far
        jal     ra, .
