# BRANCH26 to a symbol of this object (no veneer can help) one word past
# its reach: S - P = 0x8000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-args: --map-section overflow-branch26.o,__text=0x10000000
# rivet-check-args: --map-section overflow-branch26.o,__data=0x18000000
# rivet-check-error: CALL26 at __text+0x0 in `overflow-branch26.o` against `target` is out of range: value 0x8000000 not in

        .section __TEXT,__text,regular,pure_instructions
        bl      _target
        .section __DATA,__data
        .globl  _target
_target:
        .long   0
.subsections_via_symbols
