# The last values COFF arm64 fixups accept, at both ends where both can be
# reached (the overflow-*.s files next to this one hold the first each
# rejects). .text is pinned at 0x10000000 (the image base: the stubs and
# the rest start at 0x40000000), .data at 0x20000000, .bss (16 MiB, for
# SECREL_HIGH12A's 24-bit offset) after it. (SECTION cannot reach
# its limit from assembly: the assembler leaves its field, the implicit
# addend, 0.)
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --target-addr-start 0x40000000
# rivet-check-args: --map-section overflow-limits.o,.text=0x10000000
# rivet-check-args: --map-section overflow-limits.o,.data=0x20000000
# rivet-check-args: --dummy-extern b26_max=0x17fffffc --dummy-extern b26_min=0x8000004
# rivet-check-args: --dummy-extern b19_max=0x10100004 --dummy-extern b19_min=0xff0000c
# rivet-check-args: --dummy-extern b14_max=0x1000800c --dummy-extern b14_min=0xfff8014
# rivet-check-args: --dummy-extern page_max=0x10ffff123
# rivet-check-args: --dummy-extern adr_max=0x1010001b --dummy-extern adr_min=0xff00020
# rivet-check-args: --dummy-extern addr32_max=0xffffffff --dummy-extern rva_max=0x10fffffff
# rivet-check-args: --dummy-extern rel32_max=0xa0000013 --dummy-extern rel32_min=0x20000018

        .text
        .globl  main
main:
# BRANCH26: S - P in [-0x8000000, 0x7fffffc].
# jitlink-check: decode_operand(b26_hi, 0)[25:0] = 0x1ffffff
# jitlink-check: decode_operand(b26_lo, 0)[25:0] = 0x2000000
b26_hi:
        bl      b26_max
b26_lo:
        b       b26_min
# BRANCH19: S - P in [-0x100000, 0xffffc].
# jitlink-check: decode_operand(b19_hi, 1)[18:0] = 0x3ffff
# jitlink-check: decode_operand(b19_lo, 1)[18:0] = 0x40000
b19_hi:
        b.eq    b19_max
b19_lo:
        cbz     x0, b19_min
# BRANCH14: S - P in [-0x8000, 0x7ffc].
# jitlink-check: decode_operand(b14_hi, 2)[13:0] = 0x1fff
# jitlink-check: decode_operand(b14_lo, 2)[13:0] = 0x2000
b14_hi:
        tbz     x0, #1, b14_max
b14_lo:
        tbnz    x0, #1, b14_min
# PAGEBASE_REL21: Page(S) - Page(P) up to 0xfffff000 (the low end lies
# below address 0 from here).
# jitlink-check: decode_operand(page_hi, 1) = 0xfffff
page_hi:
        adrp    x0, page_max
# REL21: S - P in [-0x100000, 0xfffff].
# jitlink-check: decode_operand(adr_hi, 1) = 0xfffff
# jitlink-check: decode_operand(adr_lo, 1)[20:0] = 0x100000
adr_hi:
        adr     x0, adr_max
adr_lo:
        adr     x0, adr_min
# SECREL_HIGH12A: the offset in the section up to 0xffffff (imm12 0xfff),
# and 0.
# jitlink-check: decode_operand(hi12_max, 2) = 0xfff
# jitlink-check: decode_operand(hi12_zero, 2) = 0
hi12_max:
        add     x0, x0, :secrel_hi12:bss_last
hi12_zero:
        add     x0, x0, :secrel_hi12:bss_start
        ret

        .data
        .globl  data_start
data_start:
        .long   0
# ADDR32: up to 0xffffffff.
# jitlink-check: *{4}addr32 = 0xffffffff
addr32:
        .long   addr32_max
# ADDR32NB: S - image base in [0, 0xffffffff].
# jitlink-check: *{4}rva_hi = 0xffffffff
# jitlink-check: *{4}rva_lo = 0
rva_hi:
        .rva    rva_max
rva_lo:
        .rva    main
# SECREL: at its minimum, 0 (the start of its section).
# jitlink-check: *{4}secrel = 0
secrel:
        .secrel32 data_start
# REL32: S + A - P in [-0x80000000, 0x7fffffff]; P = 0x20000014 and
# 0x20000018.
# jitlink-check: *{4}rel32_hi = 0x7fffffff
# jitlink-check: *{4}rel32_lo = 0x80000000
rel32_hi:
        .long   rel32_max - .
rel32_lo:
        .long   rel32_min - . - 0x80000000
# SECTION: .text is section 1.
# jitlink-check: *{2}secidx = 1
secidx:
        .secidx main

        .bss
        .globl  bss_start
bss_start:
        .zero   0xffffff
        .globl  bss_last
bss_last:
        .zero   1
