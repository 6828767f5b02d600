# Mach-O arm64 linker-defined section bounds: section$start$SEG$SECT and
# section$end$SEG$SECT of the referring module's section, by page
# (PAGE21/PAGEOFF12), through the GOT (GOT_LOAD_PAGE21/PAGEOFF12) and from
# data (UNSIGNED), for a data section and a read-only one.
#
# rivet-check-args: --triple arm64-apple-macosx11.0 --target-addr-start 0x200000000

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 2
_main:
# jitlink-check: decode_operand(_main, 1) = section$start$__DATA$__reg[63:12] - _main[63:12]
# jitlink-check: decode_operand(_main + 4, 2) = section$start$__DATA$__reg[11:0]
        adrp    x0, section$start$__DATA$__reg@PAGE
        add     x0, x0, section$start$__DATA$__reg@PAGEOFF
got_ref:
# jitlink-check: *{8}got_addr(section-bounds.o, section$end$__DATA$__reg) = section$end$__DATA$__reg
        adrp    x1, section$end$__DATA$__reg@GOTPAGE
        ldr     x1, [x1, section$end$__DATA$__reg@GOTPAGEOFF]
        ret

        .section __DATA,__reg
        .p2align 3
_reg_first:
        .quad   1
        .quad   2
        .quad   3

        .section __TEXT,__names
_names:
        .ascii  "abcde"

        .section __DATA,__data
        .p2align 3
_bounds:
        .quad   section$start$__DATA$__reg
        .quad   section$end$__DATA$__reg
        .quad   section$start$__TEXT$__names
        .quad   section$end$__TEXT$__names

# jitlink-check: section$start$__DATA$__reg = _reg_first
# jitlink-check: section$end$__DATA$__reg = _reg_first + 24
# jitlink-check: *{8}_bounds = _reg_first
# jitlink-check: *{8}(_bounds + 8) = _reg_first + 24
# jitlink-check: *{8}(_bounds + 16) = _names
# jitlink-check: *{8}(_bounds + 24) = _names + 5
