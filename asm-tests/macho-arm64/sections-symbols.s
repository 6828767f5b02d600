# Mach-O arm64 sections and symbols: segment layout from
# --target-addr-start, section_addr with and without the segment name,
# zero-fill and commons, and a second module reached by BRANCH26 and
# through the GOT.
#
# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-args: --target-addr-start 0x200000000 --target-section-sep 0x4000
# rivet-check-args: Inputs/helper.s
# The addresses below are those of rivet's own layout (each module's
# segments in class order: text, stubs, GOT, read-only data, data).
# rivet-check-args: --layout rivet

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 2
_main:
# jitlink-check: _main = 0x200000000
# jitlink-check: section_addr(sections-symbols.o, __TEXT,__text) = _main
# jitlink-check: decode_operand(call_helper, 0)[25:0] = (_helper - call_helper)[27:2]
# jitlink-check: stub_addr(sections-symbols.o, _helper) = section_addr(sections-symbols.o, [stubs])
# jitlink-check: *{8}got_addr(sections-symbols.o, _shared) = _shared
call_helper:
        bl      _helper
        adrp    x0, _shared@GOTPAGE
        ldr     x0, [x0, _shared@GOTPAGEOFF]
        ret
# The stub area follows the 16 bytes of text after the gap, 8-aligned.
# jitlink-check: section_addr(sections-symbols.o, [stubs]) = 0x200004010

        .section __DATA,__data
        .p2align 3
        .globl  _first
_first:
        .quad   _main
# jitlink-check: *{8}_first = _main
        .zerofill __DATA,__bss,_zeroes,24,3
        .comm   _common_block, 16, 4
# jitlink-check: _zeroes - _first = 8
# jitlink-check: _common_block - _first = 0x20

# The other module's code reaches its data by page.
# jitlink-check: decode_operand(_helper, 1) = _shared[63:12] - _helper[63:12]
# jitlink-check: decode_operand(_helper + 4, 2) = _shared[11:3]
.subsections_via_symbols
