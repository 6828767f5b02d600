# Veneers and the GOT in Mach-O arm64: a BRANCH26 to an external out of
# reach goes through a stub (adrp x16, slot; ldr x16, [x16, :lo12:slot];
# br x16) through the target's GOT slot; every GOT reference to one target
# shares its slot, including POINTER_TO_GOT.
#
# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-args: --dummy-extern _far_func=0x7f0000001230
# rivet-check-args: --dummy-extern _far_data=0x7f0000004560

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 2
_main:
# jitlink-check: decode_operand(call_far, 0) = (stub_addr(stubs-got.o, _far_func) - call_far)[27:2]
# jitlink-check: decode_operand(jump_far, 0) = (stub_addr(stubs-got.o, _far_func) - jump_far)[27:2]
# jitlink-check: (*{4}stub_addr(stubs-got.o, _far_func)) & 0x9f00001f = 0x90000010
# jitlink-check: (*{4}stub_addr(stubs-got.o, _far_func))[30:29] = (got_addr(stubs-got.o, _far_func)[63:12] - stub_addr(stubs-got.o, _far_func)[63:12])[1:0]
# jitlink-check: (*{4}stub_addr(stubs-got.o, _far_func))[23:5] = (got_addr(stubs-got.o, _far_func)[63:12] - stub_addr(stubs-got.o, _far_func)[63:12])[20:2]
# jitlink-check: *{4}(stub_addr(stubs-got.o, _far_func) + 4) = 0xf9400210 | (got_addr(stubs-got.o, _far_func)[11:3] << 10)
# jitlink-check: *{4}(stub_addr(stubs-got.o, _far_func) + 8) = 0xd61f0200
# jitlink-check: *{8}got_addr(stubs-got.o, _far_func) = _far_func
call_far:
        bl      _far_func
jump_far:
        b       _far_func

# jitlink-check: *{8}got_addr(stubs-got.o, _far_data) = _far_data
# jitlink-check: decode_operand(got_page, 1) = got_addr(stubs-got.o, _far_data)[63:12] - got_page[63:12]
# jitlink-check: decode_operand(got_pageoff, 2) = got_addr(stubs-got.o, _far_data)[11:3]
got_page:
        adrp    x0, _far_data@GOTPAGE
got_pageoff:
        ldr     x0, [x0, _far_data@GOTPAGEOFF]
        ret

        .section __DATA,__data
        .p2align 3
# POINTER_TO_GOT: 8 bytes absolute (the slot's address) and 4 bytes
# pc-relative; both use _far_data's one slot.
# jitlink-check: *{8}got_abs64 = got_addr(stubs-got.o, _far_data)
# jitlink-check: *{4}got_rel32 = (got_addr(stubs-got.o, _far_data) - got_rel32)[31:0]
# jitlink-check: section_addr(stubs-got.o, [got]) = got_addr(stubs-got.o, _far_data)
got_abs64:
        .quad   _far_data@GOT
got_rel32:
        .long   _far_data@GOT - .
.subsections_via_symbols
