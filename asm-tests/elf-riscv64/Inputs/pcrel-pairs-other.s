# A second object for pcrel-pairs.s (not a test of its own): its
# `.Lpcrel_hi0` has the name of the first object's, at another offset,
# for data of its own.
        .text
        .globl  other_func, other_hi, other_lo
        .p2align 2
other_func:
        nop
        nop
other_hi:
.Lpcrel_hi0:
        auipc   a0, %pcrel_hi(other_data)
other_lo:
        ld      a0, %pcrel_lo(.Lpcrel_hi0)(a0)
        ret

        .data
        .p2align 3
        .globl  other_data
other_data:
        .quad   0x07e5
