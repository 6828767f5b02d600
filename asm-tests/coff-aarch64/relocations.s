# COFF arm64 relocations, each with the implicit addend LLVM keeps in the
# field at the place: BRANCH26 (b, bl), BRANCH19 (b.cond, cbz), BRANCH14
# (tbz), PAGEBASE_REL21 + PAGEOFFSET_12A (add) and PAGEOFFSET_12L (loads
# and stores of 1 to 16 bytes, scaled by the access size), REL21 (adr),
# ADDR64, ADDR32, ADDR32NB (image-relative), REL32, SECTION, SECREL and
# SECREL_LOW12A / SECREL_HIGH12A / SECREL_LOW12L.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --dummy-extern ext_func=0x5000 --dummy-extern low=0x1234
# ADDR32NB counts from the module's lowest address, which is its text in
# rivet's layout (JITLink's puts read-only data first).
# rivet-check-args: --layout rivet

        .text
        .globl  main
        .p2align 2
main:
# BRANCH26: bl and b, to this object and to an external, with an addend.
# jitlink-check: decode_operand(call_local, 0)[25:0] = (func - call_local)[27:2]
# jitlink-check: decode_operand(call_ext, 0)[25:0] = (ext_func - call_ext)[27:2]
# jitlink-check: decode_operand(jump_ext, 0)[25:0] = (ext_func - jump_ext)[27:2]
# jitlink-check: decode_operand(call_addend, 0)[25:0] = (func + 8 - call_addend)[27:2]
call_local:
        bl      func
call_ext:
        bl      ext_func
jump_ext:
        b       ext_func
call_addend:
        bl      func+8

# BRANCH19 (b.cond, cbz, cbnz) and BRANCH14 (tbz, tbnz) to an external
# label of this section.
# jitlink-check: decode_operand(bcond, 1)[18:0] = (func - bcond)[20:2]
# jitlink-check: decode_operand(cbz_x, 1)[18:0] = (func - cbz_x)[20:2]
# jitlink-check: decode_operand(cbnz_w, 1)[18:0] = (func + 4 - cbnz_w)[20:2]
# jitlink-check: decode_operand(tbz_x, 2)[13:0] = (func - tbz_x)[15:2]
# jitlink-check: decode_operand(tbnz_w, 2)[13:0] = (func + 8 - tbnz_w)[15:2]
bcond:
        b.ne    func
cbz_x:
        cbz     x1, func
cbnz_w:
        cbnz    w1, func+4
tbz_x:
        tbz     x1, #3, func
tbnz_w:
        tbnz    w1, #5, func+8

# PAGEBASE_REL21 and PAGEOFFSET_12A.
# jitlink-check: decode_operand(page, 1) = words[63:12] - page[63:12]
# jitlink-check: decode_operand(pageoff_add, 2) = words[11:0]
page:
        adrp    x0, words
pageoff_add:
        add     x0, x0, :lo12:words

# PAGEOFFSET_12L on loads and stores: scaled by the access size.
# jitlink-check: decode_operand(ldrb, 2) = words[11:0]
# jitlink-check: decode_operand(ldrh, 2) = words[11:1]
# jitlink-check: decode_operand(ldr_w, 2) = words[11:2]
# jitlink-check: decode_operand(ldr_x, 2) = words[11:3]
# jitlink-check: decode_operand(ldr_q, 2) = words[11:4]
# jitlink-check: decode_operand(str_x, 2) = words[11:3]
# jitlink-check: decode_operand(ldr_d, 2) = words[11:3]
ldrb:
        ldrb    w1, [x0, :lo12:words]
ldrh:
        ldrh    w1, [x0, :lo12:words]
ldr_w:
        ldr     w1, [x0, :lo12:words]
ldr_x:
        ldr     x1, [x0, :lo12:words]
ldr_q:
        ldr     q1, [x0, :lo12:words]
str_x:
        str     x1, [x0, :lo12:words]
ldr_d:
        ldr     d1, [x0, :lo12:words]

# Addends in the instruction: adrp keeps bytes (not pages), add its
# imm12, a load its scaled imm12.
# jitlink-check: decode_operand(page_addend, 1) = (words + 0x1008)[63:12] - page_addend[63:12]
# jitlink-check: decode_operand(pageoff_addend, 2) = (words + 0x1008)[11:3]
# jitlink-check: decode_operand(add_addend, 2) = (words + 0x18)[11:0]
page_addend:
        adrp    x2, words+0x1008
pageoff_addend:
        ldr     x2, [x2, :lo12:words+0x1008]
add_addend:
        add     x2, x2, :lo12:words+0x18

# REL21: adr, S + A - P in bytes.
# jitlink-check: decode_operand(adr_local, 1) = func - adr_local
# jitlink-check: decode_operand(adr_addend, 1) = func + 12 - adr_addend
adr_local:
        adr     x3, func
adr_addend:
        adr     x3, func+12

# SECREL_HIGH12A / SECREL_LOW12A / SECREL_LOW12L: the target's offset in
# its section (how Windows code addresses thread-locals in .tls$). The
# assembler keeps the addend in bytes in all three immediates.
# jitlink-check: decode_operand(secrel_hi, 2) = (words + 0x10 - section_addr(relocations.o, .data))[23:12]
# jitlink-check: decode_operand(secrel_lo, 2) = (words + 0x10 - section_addr(relocations.o, .data))[11:0]
# jitlink-check: decode_operand(secrel_ldr, 2) = (words + 0x10 - section_addr(relocations.o, .data))[11:3]
secrel_hi:
        add     x4, x4, :secrel_hi12:words+0x10
secrel_lo:
        add     x4, x4, :secrel_lo12:words+0x10
secrel_ldr:
        ldr     x4, [x4, :secrel_lo12:words+0x10]
        ret

        .globl  func
        .p2align 2
func:
        ret
        nop
        nop
        nop

        .data
        .p2align 4
        .quad   0, 0
        .globl  words
words:
        .quad   1, 2, 3, 4
# ADDR64 and ADDR32.
# jitlink-check: *{8}addr64 = func + 4
# jitlink-check: *{8}addr64_data = words + 16
# jitlink-check: *{4}addr32 = low
addr64:
        .quad   func + 4
addr64_data:
        .quad   words + 16
addr32:
        .long   low
# ADDR32NB: the offset from the image base, the module's lowest address
# (its text here).
# jitlink-check: *{4}addr32nb = func - section_addr(relocations.o, .text)
# jitlink-check: *{4}addr32nb_data = words + 8 - section_addr(relocations.o, .text)
addr32nb:
        .rva    func
addr32nb_data:
        .rva    words + 8
# REL32: S + A - P, COFF measuring from the end of the field.
# jitlink-check: *{4}rel32 = (func - rel32)[31:0]
# jitlink-check: *{4}rel32_addend = (words + 8 - rel32_addend)[31:0]
rel32:
        .long   func - .
rel32_addend:
        .long   words + 8 - .
# SECTION (.text is section 1) and SECREL.
# jitlink-check: *{2}secidx = 1
# jitlink-check: *{4}secrel = func - section_addr(relocations.o, .text)
# jitlink-check: *{4}secrel_data = words + 8 - section_addr(relocations.o, .data)
secidx:
        .secidx func
        .p2align 2
secrel:
        .secrel32 func
secrel_data:
        .secrel32 words + 8
