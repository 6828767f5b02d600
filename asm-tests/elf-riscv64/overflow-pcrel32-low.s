# 32_PCREL one below its reach: S + A - P = -0x80000001.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-pcrel32-low.o,.text=0x90000000
# rivet-check-args: --map-section overflow-pcrel32-low.o,.data=0x90100000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation 32_PCREL at .data+0x0 in `overflow-pcrel32-low.o` against `<unnamed>` is out of range: value -0x80000001 not in

        .globl  far
        .set    far, 0x100fffff
        .text
        .option norvc
        ret
        .data
        .reloc  ., R_RISCV_32_PCREL, far
        .word   0
