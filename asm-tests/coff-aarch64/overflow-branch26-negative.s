# BRANCH26 backwards one word past its reach: S - P = -0x8000004.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --map-section overflow-branch26-negative.o,.text=0x10000000
# rivet-check-args: --map-section overflow-branch26-negative.o,.data=0x7fffffc
# rivet-check-error: CALL26 at .text+0x0 in `overflow-branch26-negative.o` against `target` is out of range: value -0x8000004 not in

        .text
        b       target
        .data
        .globl  target
target:
        .long   0
