# The last value each range-checked AArch64 fixup accepts, at both ends
# where it has two (the overflow-*.s files next to this one hold the first
# value each rejects). .text is pinned at 0x10000000, .data at 0x20000,
# .rodata at 0x80030000 and the GOT at 0x80020038; every field sits at a
# fixed offset (.org), so each place P is known. Branches are written with
# .reloc to absolute addresses (the assembler would resolve a branch to an
# absolute symbol itself), which no veneer serves.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-limits.o,.text=0x10000000
# rivet-check-args: --map-section overflow-limits.o,.data=0x20000
# rivet-check-args: --map-section overflow-limits.o,.rodata=0x80030000
# rivet-check-args: --map-section overflow-limits.o,[got]=0x80020038
# rivet-check-args: --dummy-extern zero=0 --dummy-extern got_target=0x1234
# rivet-check-args: --dummy-extern adr_max_t=0x1010001b --dummy-extern adr_min_t=0x0ff00020
# rivet-check-args: --dummy-extern ldr_lit_max_t=0x10100020 --dummy-extern adrp_max_t=0x10ffff234
# rivet-check-args: --dummy-extern g0_max=0xffff --dummy-extern g1_max=0xffffffff
# rivet-check-args: --dummy-extern g2_max=0xffffffffffff
# rivet-check-args: --dummy-extern prel_g0_max_t=0x1001003b --dummy-extern prel_g0_min_t=0x0fff0040
# rivet-check-args: --dummy-extern prel_g1_max_t=0x110000043 --dummy-extern prel_g2_max_t=0x100001000004b
# rivet-check-args: --dummy-extern abs32_max=0xffffffff --dummy-extern abs16_max=0xffff
# rivet-check-args: --dummy-extern prel32_max=0x10002001f --dummy-extern prel32_min=0x30000
# rivet-check-args: --dummy-extern prel16_max=0x30027 --dummy-extern prel16_min=0x18030

        .globl  call26_max_t, call26_min_t, jump26_max_t
        .globl  condbr19_max_t, condbr19_min_t, tstbr14_max_t, tstbr14_min_t
        .set    call26_max_t, 0x17fffffc
        .set    call26_min_t, 0x08000004
        .set    jump26_max_t, 0x18000004
        .set    condbr19_max_t, 0x10100008
        .set    condbr19_min_t, 0x0ff00010
        .set    tstbr14_max_t, 0x10008010
        .set    tstbr14_min_t, 0x0fff8018

        .text
# CALL26 and JUMP26: imm26 words, from -0x8000000 to 0x7fffffc bytes.
# jitlink-check: decode_operand(call26_max, 0) = 0x1ffffff
# jitlink-check: decode_operand(call26_min, 0) = 0xfffffffffe000000
# jitlink-check: decode_operand(jump26_max, 0) = 0x1ffffff
        .org    0x00
call26_max:
        .reloc  ., R_AARCH64_CALL26, call26_max_t
        bl      .
        .org    0x04
call26_min:
        .reloc  ., R_AARCH64_CALL26, call26_min_t
        bl      .
        .org    0x08
jump26_max:
        .reloc  ., R_AARCH64_JUMP26, jump26_max_t
        b       .

# CONDBR19: imm19 words, -0x100000 to 0xffffc bytes.
# jitlink-check: decode_operand(condbr19_max, 1) = 0x3ffff
# jitlink-check: decode_operand(condbr19_min, 1) = 0xfffffffffffc0000
        .org    0x0c
condbr19_max:
        .reloc  ., R_AARCH64_CONDBR19, condbr19_max_t
        b.ne    .
        .org    0x10
condbr19_min:
        .reloc  ., R_AARCH64_CONDBR19, condbr19_min_t
        cbz     x0, .

# TSTBR14: imm14 words, -0x8000 to 0x7ffc bytes.
# jitlink-check: decode_operand(tstbr14_max, 2) = 0x1fff
# jitlink-check: decode_operand(tstbr14_min, 2) = 0xffffffffffffe000
        .org    0x14
tstbr14_max:
        .reloc  ., R_AARCH64_TSTBR14, tstbr14_max_t
        tbz     x0, #1, .
        .org    0x18
tstbr14_min:
        .reloc  ., R_AARCH64_TSTBR14, tstbr14_min_t
        tbnz    w0, #1, .

# ADR_PREL_LO21: bytes, -0x100000 to 0xfffff.
# jitlink-check: decode_operand(adr_max, 1) = 0xfffff
# jitlink-check: decode_operand(adr_min, 1) = 0xfffffffffff00000
        .org    0x1c
adr_max:
        adr     x0, adr_max_t
        .org    0x20
adr_min:
        adr     x0, adr_min_t

# LD_PREL_LO19: words, up to 0xffffc bytes.
# jitlink-check: decode_operand(ldr_lit_max, 1) = 0x3ffff
        .org    0x24
ldr_lit_max:
        ldr     x0, ldr_lit_max_t

# ADR_PREL_PG_HI21: pages, -0x100000000 to 0xfffff000 bytes between pages.
# jitlink-check: decode_operand(adrp_max, 1) = 0xfffff
# jitlink-check: decode_operand(adrp_min, 1) = 0xfffffffffff00000
        .org    0x28
adrp_max:
        adrp    x0, adrp_max_t
        .org    0x2c
adrp_min:
        adrp    x0, zero - 0xf0000000

# MOVW_UABS_G0/G1/G2: S + A must fit 16, 32 and 48 bits.
# jitlink-check: decode_operand(uabs_g0, 1) = 0xffff
# jitlink-check: decode_operand(uabs_g1, 1) = 0xffff
# jitlink-check: decode_operand(uabs_g2, 1) = 0xffff
        .org    0x30
uabs_g0:
        movz    x0, #:abs_g0:g0_max
        .org    0x34
uabs_g1:
        movz    x0, #:abs_g1:g1_max
        .org    0x38
uabs_g2:
        movz    x0, #:abs_g2:g2_max

# MOVW_PREL_G0/G1/G2: S + A - P in [-2^17, 2^17), [-2^33, 2^33),
# [-2^49, 2^49) would be the full signed field; AAELF64's checks are
# [-2^16, 2^16), [-2^32, 2^32), [-2^48, 2^48).
# jitlink-check: decode_operand(prel_g0_max, 1) = 0xffff
# jitlink-check: (*{4}prel_g0_max)[30:29] = 2
# jitlink-check: decode_operand(prel_g0_min, 1) = 0xffff
# jitlink-check: (*{4}prel_g0_min)[30:29] = 0
# jitlink-check: decode_operand(prel_g1_max, 1) = 0xffff
# jitlink-check: decode_operand(prel_g1_min, 1) = 0xffff
# jitlink-check: (*{4}prel_g1_min)[30:29] = 0
# jitlink-check: decode_operand(prel_g2_max, 1) = 0xffff
        .org    0x3c
prel_g0_max:
        movz    x0, #:prel_g0:prel_g0_max_t
        .org    0x40
prel_g0_min:
        movz    x0, #:prel_g0:prel_g0_min_t
        .org    0x44
prel_g1_max:
        movz    x0, #:prel_g1:prel_g1_max_t
        .org    0x48
prel_g1_min:
        movz    x0, #:prel_g1:zero - 0xefffffb8
        .org    0x4c
prel_g2_max:
        movz    x0, #:prel_g2:prel_g2_max_t

        .data
# ABS32 and ABS16: [-2^31, 2^32) and [-2^15, 2^16).
# jitlink-check: *{4}abs32 = 0xffffffff
# jitlink-check: *{4}abs32_low = 0x80000000
# jitlink-check: *{2}abs16 = 0xffff
# jitlink-check: *{2}abs16_low = 0x8000
        .org    0x00
abs32:  .word   abs32_max
        .org    0x08
abs32_low:
        .word   zero - 0x80000000
        .org    0x10
abs16:  .hword  abs16_max
        .org    0x18
abs16_low:
        .hword  zero - 0x8000

# PREL32 and PREL16: S - P in [-2^31, 2^32) and [-2^15, 2^16).
# jitlink-check: *{4}prel32 = 0xffffffff
# jitlink-check: *{2}prel16 = 0xffff
# jitlink-check: *{2}prel16_low = 0x8000
        .org    0x20
prel32: .word   prel32_max - .
        .org    0x28
prel16: .hword  prel16_max - .
        .org    0x30
prel16_low:
        .hword  prel16_min - .

# GOTPCREL32: G - P, signed 32 bits: 0x80020038 - 0x20039.
# jitlink-check: got_addr(overflow-limits.o, got_target) = 0x80020038
# jitlink-check: *{4}gotpcrel32 = 0x7fffffff
        .org    0x39
gotpcrel32:
        .reloc  ., R_AARCH64_GOTPCREL32, got_target
        .word   0

# PREL32 at its minimum, from .rodata pinned high: 0x30000 - 0x80030000.
# jitlink-check: *{4}prel32_low = 0x80000000
        .section .rodata,"a",@progbits
prel32_low:
        .word   prel32_min - .
