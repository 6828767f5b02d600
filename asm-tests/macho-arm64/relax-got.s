# GOT loads relaxed in Mach-O arm64: the pair GOT_LOAD_PAGE21 +
# GOT_LOAD_PAGEOFF12 (`adrp xN, _sym@GOTPAGE; ldr xN, [xN, _sym@GOTPAGEOFF]`)
# of a symbol defined in the link becomes `adrp xN, _sym@PAGE; add xN, xN,
# _sym@PAGEOFF` when the instructions are adjacent, of these forms with one
# register, and the symbol's page is within the adrp's ±4 GiB. Otherwise
# the load of the slot stays.
#
# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-args: --dummy-extern _ext_data=0x2000

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 2
_main:
# jitlink-check: decode_operand(own_page, 1) = _local_data[63:12] - own_page[63:12]
# jitlink-check: *{4}own_pageoff = 0x91000000 | (_local_data[11:0] << 10)
# jitlink-check: *{8}got_addr(relax-got.o, _local_data) = _local_data
own_page:
        adrp    x0, _local_data@GOTPAGE
own_pageoff:
        ldr     x0, [x0, _local_data@GOTPAGEOFF]

# Not defined in the link: the load stays.
# jitlink-check: decode_operand(ext_page, 1) = got_addr(relax-got.o, _ext_data)[63:12] - ext_page[63:12]
# jitlink-check: *{4}ext_pageoff = 0xf9400021 | (got_addr(relax-got.o, _ext_data)[11:3] << 10)
ext_page:
        adrp    x1, _ext_data@GOTPAGE
ext_pageoff:
        ldr     x1, [x1, _ext_data@GOTPAGEOFF]
        ret

        .section __DATA,__data
        .p2align 3
        .globl  _local_data
_local_data:
        .quad   1

.subsections_via_symbols
