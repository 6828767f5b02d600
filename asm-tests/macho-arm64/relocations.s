# Mach-O arm64 relocations: BRANCH26, PAGE21 + PAGEOFF12 (add, and loads
# and stores of 1 to 16 bytes, whose scale PAGEOFF12 reads from the
# instruction), ADDEND pairs (positive and negative), GOT_LOAD_PAGE21 +
# GOT_LOAD_PAGEOFF12, POINTER_TO_GOT, UNSIGNED (8 and 4) and SUBTRACTOR.
#
# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-args: --map-section relocations.o,__data=0x12345670
# rivet-check-args: --dummy-extern _ext_func=0x5000 --dummy-extern _ext_data=0xfedcba987650

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 2
_main:
# BRANCH26 to a function of this object and to an external (both direct).
# jitlink-check: decode_operand(call_local, 0)[25:0] = (_func - call_local)[27:2]
# jitlink-check: decode_operand(call_ext, 0)[25:0] = (_ext_func - call_ext)[27:2]
# jitlink-check: decode_operand(jump_ext, 0)[25:0] = (_ext_func - jump_ext)[27:2]
call_local:
        bl      _func
call_ext:
        bl      _ext_func
jump_ext:
        b       _ext_func

# PAGE21 and PAGEOFF12 on add.
# jitlink-check: decode_operand(page, 1) = _words[63:12] - page[63:12]
# jitlink-check: decode_operand(pageoff_add, 2) = _words[11:0]
page:
        adrp    x0, _words@PAGE
pageoff_add:
        add     x0, x0, _words@PAGEOFF

# PAGEOFF12 on loads and stores: scaled by the access size.
# jitlink-check: decode_operand(ldrb, 2) = _words[11:0]
# jitlink-check: decode_operand(ldrh, 2) = _words[11:1]
# jitlink-check: decode_operand(ldr_w, 2) = _words[11:2]
# jitlink-check: decode_operand(ldr_x, 2) = _words[11:3]
# jitlink-check: decode_operand(ldr_q, 2) = _words[11:4]
# jitlink-check: decode_operand(str_x, 2) = _words[11:3]
# jitlink-check: decode_operand(ldr_d, 2) = _words[11:3]
ldrb:
        ldrb    w1, [x0, _words@PAGEOFF]
ldrh:
        ldrh    w1, [x0, _words@PAGEOFF]
ldr_w:
        ldr     w1, [x0, _words@PAGEOFF]
ldr_x:
        ldr     x1, [x0, _words@PAGEOFF]
ldr_q:
        ldr     q1, [x0, _words@PAGEOFF]
str_x:
        str     x1, [x0, _words@PAGEOFF]
ldr_d:
        ldr     d1, [x0, _words@PAGEOFF]

# An ADDEND entry before PAGE21, PAGEOFF12 and BRANCH26 carries the addend,
# positive or negative.
# jitlink-check: decode_operand(page_addend, 1) = (_words + 0x1008)[63:12] - page_addend[63:12]
# jitlink-check: decode_operand(pageoff_addend, 2) = (_words + 0x1008)[11:3]
# jitlink-check: decode_operand(page_negative, 1) = (_words - 0x1680)[63:12] - page_negative[63:12]
# jitlink-check: decode_operand(pageoff_negative, 2) = (_words - 0x10)[11:0]
# jitlink-check: decode_operand(call_addend, 0)[25:0] = (_func + 8 - call_addend)[27:2]
page_addend:
        adrp    x2, _words@PAGE+0x1008
pageoff_addend:
        ldr     x2, [x2, _words@PAGEOFF+0x1008]
page_negative:
        adrp    x3, _words@PAGE-0x1680
pageoff_negative:
        add     x3, x3, _words@PAGEOFF-0x10
call_addend:
        bl      _func+8

# The GOT: page and slot of _ext_data's slot.
# jitlink-check: *{8}got_addr(relocations.o, _ext_data) = _ext_data
# jitlink-check: decode_operand(got_page, 1) = \
# jitlink-check:     got_addr(relocations.o, _ext_data)[63:12] - got_page[63:12]
# jitlink-check: decode_operand(got_pageoff, 2) = got_addr(relocations.o, _ext_data)[11:3]
got_page:
        adrp    x4, _ext_data@GOTPAGE
got_pageoff:
        ldr     x4, [x4, _ext_data@GOTPAGEOFF]
        ret

        .globl  _func
        .p2align 2
_func:
        ret
        nop
        nop

        .section __TEXT,__const
        .p2align 3
        .quad   0
Lconst:
        .quad   0

        .section __DATA,__data
        .p2align 4
        .globl  _words
_words:
        .quad   1, 2, 3, 4
# UNSIGNED, 8 and 4 bytes.
# jitlink-check: *{8}ptr64 = _func + 4
# jitlink-check: *{4}ptr32 = _words[31:0] + 8
ptr64:
        .quad   _func + 4
ptr32:
        .long   _words + 8
# UNSIGNED against an assembler-local label of another section (LLVM
# writes it against the section's `ltmp` symbol, + the label's offset).
# jitlink-check: *{8}ptr_local = section_addr(relocations.o, __const) + 12
        .p2align 3
ptr_local:
        .quad   Lconst + 4
# SUBTRACTOR + UNSIGNED, 8 and 4 bytes.
# jitlink-check: *{8}diff64 = _words - _func
# jitlink-check: *{4}diff32 = (_func - _words + 0x10)[31:0]
diff64:
        .quad   _words - _func
diff32:
        .long   _func - _words + 0x10
# POINTER_TO_GOT, pc-relative 4 bytes: the slot's address - P.
# jitlink-check: *{8}got_addr(relocations.o, _ext_func) = _ext_func
# jitlink-check: *{4}got_rel32 = (got_addr(relocations.o, _ext_func) - got_rel32)[31:0]
got_rel32:
        .long   _ext_func@GOT - .
.subsections_via_symbols
