# JAL one halfword below its reach: S - P = -0x100002.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-jal-low.o,.text=0x90000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation JAL at .text+0x0 in `overflow-jal-low.o` against `<unnamed>` is out of range: value -0x100002 not in

        .globl  far
        .set    far, 0x8feffffe
        .text
        .option norvc
        .reloc  ., R_RISCV_JAL, far
        jal     zero, .
