# CALL one byte past its reach: S - P = 0x7ffff800 (the high part would be
# 0x80000, which auipc sign-extends), to an absolute symbol no stub serves.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-call.o,.text=0x90000000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-error: relocation CALL at .text+0x0 in `overflow-call.o` against `<unnamed>` is out of range: value 0x7ffff800 not in

        .globl  far
        .set    far, 0x10ffff800
        .text
        .option norvc
        .reloc  ., R_RISCV_CALL_PLT, far
        auipc   ra, 0
        jalr    ra, 0(ra)
