# Code relocations of ELF AArch64: branches (CALL26, JUMP26, CONDBR19,
# TSTBR14), page addressing (ADR_PREL_PG_HI21 and _NC, ADD_ABS_LO12_NC,
# LDST8/16/32/64/128_ABS_LO12_NC), ADR_PREL_LO21, LD_PREL_LO19, and the
# GOT pair (ADR_GOT_PAGE, LD64_GOT_LO12_NC). Data sits at 0x12345000 + ...
# so that page numbers and low bits are not trivially 0.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section code-relocations.o,.text=0x10000
# rivet-check-args: --map-section code-relocations.o,.data=0x12345670
# rivet-check-args: --dummy-extern ext_data=0xfedcba987650

        .text
        .globl  main
        .p2align 2
main:
# bl and b to a global function of this object (imm26, in words).
# jitlink-check: decode_operand(call26, 0)[25:0] = (func - call26)[27:2]
# jitlink-check: decode_operand(jump26, 0)[25:0] = (func - jump26)[27:2]
call26:
        bl      func
jump26:
        b       func

# b.cond, cbz and cbnz (imm19) and tbz/tbnz (imm14), backwards to main.
# jitlink-check: decode_operand(condbr19_bcond, 1)[18:0] = (main - condbr19_bcond)[20:2]
# jitlink-check: decode_operand(condbr19_cbz, 1)[18:0] = (main - condbr19_cbz)[20:2]
# jitlink-check: decode_operand(condbr19_cbnz, 1)[18:0] = (func - condbr19_cbnz)[20:2]
# jitlink-check: decode_operand(tstbr14_tbz, 2)[13:0] = (main - tstbr14_tbz)[15:2]
# jitlink-check: decode_operand(tstbr14_tbnz, 2)[13:0] = (func - tstbr14_tbnz)[15:2]
condbr19_bcond:
        b.ne    main
condbr19_cbz:
        cbz     x1, main
condbr19_cbnz:
        cbnz    w2, func
tstbr14_tbz:
        tbz     x3, #5, main
tstbr14_tbnz:
        tbnz    w4, #31, func

# adrp: the distance in 4 KiB pages (checked and _NC); add: the low 12 bits.
# jitlink-check: decode_operand(adrp, 1) = (words[63:12] - adrp[63:12])[20:0]
# jitlink-check: decode_operand(adrp_nc, 1) = (words + 0x1000)[63:12] - adrp_nc[63:12]
# jitlink-check: decode_operand(add_lo12, 2) = words[11:0]
# jitlink-check: decode_operand(add_lo12_addend, 2) = (words + 0x9a)[11:0]
adrp:
        adrp    x0, words
adrp_nc:
        adrp    x1, :pg_hi21_nc:words+0x1000
add_lo12:
        add     x0, x0, :lo12:words
add_lo12_addend:
        add     x2, x2, :lo12:words+0x9a

# Loads and stores: the low 12 bits scaled by the access size.
# jitlink-check: decode_operand(ldst8, 2) = (words + 3)[11:0]
# jitlink-check: decode_operand(ldst16, 2) = (words + 2)[11:1]
# jitlink-check: decode_operand(ldst32, 2) = (words + 4)[11:2]
# jitlink-check: decode_operand(ldst64, 2) = (words + 8)[11:3]
# jitlink-check: decode_operand(ldst128, 2) = (words + 16)[11:4]
# jitlink-check: decode_operand(st64, 2) = (words + 24)[11:3]
ldst8:
        ldrb    w0, [x0, :lo12:words+3]
ldst16:
        ldrh    w0, [x0, :lo12:words+2]
ldst32:
        ldr     w0, [x0, :lo12:words+4]
ldst64:
        ldr     x0, [x0, :lo12:words+8]
ldst128:
        ldr     q0, [x0, :lo12:words+16]
st64:
        str     x5, [x0, :lo12:words+24]

# adr (imm21, bytes) and ldr literal (imm19, words), to a nearby constant.
# jitlink-check: decode_operand(adr_lo21, 1) = (constant - adr_lo21)[20:0]
# jitlink-check: decode_operand(ld_prel_lo19, 1)[18:0] = (constant - ld_prel_lo19)[20:2]
adr_lo21:
        adr     x6, constant
ld_prel_lo19:
        ldr     x7, constant

# The GOT: adrp to the slot's page, ldr from the slot (scaled by 8).
# jitlink-check: *{8}got_addr(code-relocations.o, ext_data) = ext_data
# jitlink-check: decode_operand(adr_got_page, 1) = \
# jitlink-check:     got_addr(code-relocations.o, ext_data)[63:12] - adr_got_page[63:12]
# jitlink-check: decode_operand(ld64_got_lo12, 2) = got_addr(code-relocations.o, ext_data)[11:3]
adr_got_page:
        adrp    x8, :got:ext_data
ld64_got_lo12:
        ldr     x8, [x8, :got_lo12:ext_data]
        ret

        .section .text.constant,"ax",@progbits
        .p2align 3
constant:
        .quad   0x0123456789abcdef

        .text
        .globl  func
        .p2align 2
func:
        ret

        .data
        .p2align 4
        .globl  words
words:
        .quad   1, 2, 3, 4
