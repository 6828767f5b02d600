# A second module with a section of the same name as section-bounds.s's
# registry, whose bounds are its own.
        .section __DATA,__reg
        .p2align 3
        .globl  _other_reg
_other_reg:
        .quad   9
        .quad   10
        .quad   11

        .section __DATA,__data
        .globl  _other_bounds
_other_bounds:
        .quad   section$start$__DATA$__reg
        .quad   section$end$__DATA$__reg
