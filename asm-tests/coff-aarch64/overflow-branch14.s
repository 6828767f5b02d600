# BRANCH14 (tbz) to a symbol of this object one word past its reach:
# S - P = 0x8000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --map-section overflow-branch14.o,.text=0x10000000
# rivet-check-args: --map-section overflow-branch14.o,.data=0x10008000
# rivet-check-error: TSTBR14 at .text+0x0 in `overflow-branch14.o` against `target` is out of range: value 0x8000 not in

        .text
        tbz     x0, #7, target
        .data
        .globl  target
target:
        .long   0
