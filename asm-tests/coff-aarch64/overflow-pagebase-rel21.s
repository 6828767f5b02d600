# PAGEBASE_REL21 one page past its reach: 0x100000000 bytes between the
# pages.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --map-section overflow-pagebase-rel21.o,.text=0x10000000
# rivet-check-args: --dummy-extern page_over=0x110000000
# rivet-check-error: ADR_PREL_PG_HI21 at .text+0x0 in `overflow-pagebase-rel21.o` against `page_over` is out of range: value 0x100000000 not in

        .text
        adrp    x0, page_over
