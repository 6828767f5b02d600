# A PCREL_LO12 whose label holds no PCREL_HI20 (or GOT_HI20): an error that
# names the low part, its label and the offset looked at, never a guess.
# (The assembler refuses `%pcrel_lo` of such a label; .reloc writes it.)
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-error: R_RISCV_PCREL_LO12 at .text+0x2 (label `not_an_auipc`): no R_RISCV_PCREL_HI20, GOT_HI20 or TLS_GD_HI20 at the label's offset 0x0

        .text
        .globl  main
main:
not_an_auipc:
        addi    a0, a0, 1
        .reloc  ., R_RISCV_PCREL_LO12_I, not_an_auipc
        addi    a0, a0, 0
        ret
