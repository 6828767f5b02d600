# ADR_GOT_PAGE at the last page it reaches: the GOT page is 0xfffff000
# bytes above the adrp's (overflow-adr-got-page.s is one page further).
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-adr-got-page-limit.o,.text=0x10000000
# rivet-check-args: --map-section overflow-adr-got-page-limit.o,[got]=0x10ffff008
# rivet-check-args: --dummy-extern ext=0x1234

# jitlink-check: got_addr(overflow-adr-got-page-limit.o, ext) = 0x10ffff008
# jitlink-check: decode_operand(adrp_got, 1) = 0xfffff
# jitlink-check: decode_operand(adrp_got + 4, 2) = 1
        .text
adrp_got:
        adrp    x0, :got:ext
        ldr     x0, [x0, :got_lo12:ext]
