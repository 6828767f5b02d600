# BRANCH26 to a symbol of this object (no veneer can help) one word past
# its reach: S - P = 0x8000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --map-section overflow-branch26.o,.text=0x10000000
# rivet-check-args: --map-section overflow-branch26.o,.data=0x18000000
# rivet-check-error: CALL26 at .text+0x0 in `overflow-branch26.o` against `target` is out of range: value 0x8000000 not in

        .text
        bl      target
        .data
        .globl  target
target:
        .long   0
