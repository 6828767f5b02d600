# GOT_LOAD_PAGE21 one page past its reach: the GOT page is 0x100000000
# bytes above the adrp's.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-args: --map-section overflow-got-load-page21.o,__text=0x10000000
# rivet-check-args: --map-section overflow-got-load-page21.o,[got]=0x110000000
# rivet-check-args: --dummy-extern _got_target=0x1234
# rivet-check-error: ADR_GOT_PAGE at __text+0x0 in `overflow-got-load-page21.o` against `got_target` is out of range: value 0x100000000 not in

        .section __TEXT,__text,regular,pure_instructions
        adrp    x0, _got_target@GOTPAGE
        ldr     x0, [x0, _got_target@GOTPAGEOFF]
.subsections_via_symbols
