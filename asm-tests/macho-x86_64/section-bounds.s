# Mach-O linker-defined section bounds: section$start$SEG$SECT and
# section$end$SEG$SECT are the first and one-past-the-last byte of that
# section of the referring module, reached PC-relative (SIGNED) and from
# data (UNSIGNED). Another module's section of the same name has bounds of
# its own (Inputs/bounds-other.s), and so does a text section.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15 --target-addr-start 0x100000000
# rivet-check-args: Inputs/bounds-other.s

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 4
_main:
# jitlink-check: decode_operand(_main, 4) = section$start$__DATA$__reg - next_pc(_main)
        leaq    section$start$__DATA$__reg(%rip), %rax
end_ref:
# jitlink-check: decode_operand(end_ref, 4) = section$end$__DATA$__reg - next_pc(end_ref)
        leaq    section$end$__DATA$__reg(%rip), %rcx
        retq

        .section __DATA,__reg
        .p2align 3
_reg_first:
        .quad   1
        .quad   2

        .section __DATA,__data
        .p2align 3
_bounds:
        .quad   section$start$__DATA$__reg
        .quad   section$end$__DATA$__reg
        .quad   section$start$__TEXT$__text
        .quad   section$end$__TEXT$__text

# jitlink-check: section$start$__DATA$__reg = _reg_first
# jitlink-check: section$end$__DATA$__reg = _reg_first + 16
# jitlink-check: *{8}_bounds = _reg_first
# jitlink-check: *{8}(_bounds + 8) = _reg_first + 16
# jitlink-check: *{8}(_bounds + 16) = _main
# jitlink-check: *{8}(_bounds + 24) = _main + 15
# The other module's bounds are of its own section.
# jitlink-check: *{8}_other_bounds = _other_reg
# jitlink-check: *{8}(_other_bounds + 8) = _other_reg + 24
