# PAGE21 one page past its reach: 0x100000000 bytes between the pages.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-args: --map-section overflow-page21.o,__text=0x10000000
# rivet-check-args: --dummy-extern _page_over=0x110000000
# rivet-check-error: ADR_PREL_PG_HI21 at __text+0x0 in `overflow-page21.o` against `page_over` is out of range: value 0x100000000 not in

        .section __TEXT,__text,regular,pure_instructions
        adrp    x0, _page_over@PAGE
.subsections_via_symbols
