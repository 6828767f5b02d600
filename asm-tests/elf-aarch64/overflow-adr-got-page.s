# ADR_GOT_PAGE one page past its reach: the GOT page is 0x100000000
# bytes above the adrp's (overflow-adr-got-page-limit.s is the last that fits).
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-adr-got-page.o,.text=0x10000000
# rivet-check-args: --map-section overflow-adr-got-page.o,[got]=0x110000000
# rivet-check-args: --dummy-extern ext=0x1234
# rivet-check-error: ADR_GOT_PAGE at .text+0x0 in `overflow-adr-got-page.o` against `ext` is out of range: value 0x100000000 not in

        .text
        adrp    x0, :got:ext
        ldr     x0, [x0, :got_lo12:ext]
