# REL21 (adr) one byte past its reach: S - P = 0x100000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --map-section overflow-rel21.o,.text=0x10000000
# rivet-check-args: --dummy-extern adr_over=0x10100000
# rivet-check-error: ADR_PREL_LO21 at .text+0x0 in `overflow-rel21.o` against `adr_over` is out of range: value 0x100000 not in

        .text
        adr     x0, adr_over
