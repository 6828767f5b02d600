# BRANCH19 (b.cond) to a symbol of this object one word past its reach:
# S - P = 0x100000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --map-section overflow-branch19.o,.text=0x10000000
# rivet-check-args: --map-section overflow-branch19.o,.data=0x10100000
# rivet-check-error: CONDBR19 at .text+0x0 in `overflow-branch19.o` against `target` is out of range: value 0x100000 not in

        .text
        b.ne    target
        .data
        .globl  target
target:
        .long   0
