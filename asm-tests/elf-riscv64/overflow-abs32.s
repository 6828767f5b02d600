# 32 one past its reach: S + A = 0x100000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-abs32.o,.text=0x90000000
# rivet-check-args: --map-section overflow-abs32.o,.data=0x90100000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation 32 at .data+0x0 in `overflow-abs32.o` against `<unnamed>` is out of range: value 0x100000000 not in

        .globl  far
        .set    far, 0x100000000
        .text
        .option norvc
        ret
        .data
        .reloc  ., R_RISCV_32, far
        .word   0
