# The last values Mach-O arm64 fixups accept (the overflow-*.s files next
# to this one hold the first each rejects). __text is pinned at
# 0x10000000, __data at 0x17fffffc, __const at 0x8ffff009 and the GOT at
# 0x10ffff008.
#
# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-args: --map-section overflow-limits.o,__text=0x10000000
# rivet-check-args: --map-section overflow-limits.o,__data=0x17fffffc
# rivet-check-args: --map-section overflow-limits.o,__const=0x8ffff009
# rivet-check-args: --map-section overflow-limits.o,[got]=0x10ffff008
# rivet-check-args: --dummy-extern _page_max=0x10ffff000 --dummy-extern _got_target=0x1234
# rivet-check-args: --dummy-extern _abs32_max=0xffffffff

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 2
_main:
# BRANCH26 to a symbol of this object (no veneer): 0x7fffffc bytes ahead.
# jitlink-check: decode_operand(branch_max, 0) = 0x1ffffff
branch_max:
        bl      _branch_target
# PAGE21: 0xfffff pages ahead.
# jitlink-check: decode_operand(page_max, 1) = 0xfffff
page_max:
        adrp    x0, _page_max@PAGE
# GOT_LOAD_PAGE21: the GOT's page is 0xfffff pages ahead.
# jitlink-check: got_addr(overflow-limits.o, _got_target) = 0x10ffff008
# jitlink-check: decode_operand(got_page_max, 1) = 0xfffff
# jitlink-check: decode_operand(got_page_max + 4, 2) = 1
got_page_max:
        adrp    x1, _got_target@GOTPAGE
        ldr     x1, [x1, _got_target@GOTPAGEOFF]

        .section __DATA,__data
        .globl  _branch_target
_branch_target:
        .long   0
# UNSIGNED, 4 bytes: up to 0xffffffff.
# jitlink-check: *{4}abs32 = 0xffffffff
abs32:
        .long   _abs32_max

# POINTER_TO_GOT, 4 bytes pc-relative, signed: G - P = 0x10ffff008 -
# 0x8ffff009 = 0x7fffffff.
# jitlink-check: *{4}got_rel32 = 0x7fffffff
        .section __TEXT,__const
got_rel32:
        .long   _got_target@GOT - .
.subsections_via_symbols
