# 32 one below its reach: S + A = -0x80000001.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-abs32-low.o,.text=0x90000000
# rivet-check-args: --map-section overflow-abs32-low.o,.data=0x90100000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation 32 at .data+0x0 in `overflow-abs32-low.o` against `zero` is out of range: value -0x80000001 not in

        .text
        .option norvc
        ret
        .data
        .reloc  ., R_RISCV_32, zero - 0x80000001
        .word   0
