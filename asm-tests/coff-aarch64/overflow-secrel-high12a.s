# SECREL_HIGH12A one past its maximum: the offset of bss_over in its
# section is 0x1000000, past the 24 bits of imm12 << 12.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-error: SECREL_HIGH12A at .text+0x0 in `overflow-secrel-high12a.o` against `bss_over` is out of range: value 0x1000000 not in

        .text
        add     x0, x0, :secrel_hi12:bss_over
        .bss
        .zero   0x1000000
        .globl  bss_over
bss_over:
        .zero   4
