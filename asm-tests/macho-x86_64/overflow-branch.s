# BRANCH to a symbol of this object (no stub can help) one past its reach:
# S - next_pc = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15
# rivet-check-args: --map-section overflow-branch.o,__text=0x10000
# rivet-check-args: --map-section overflow-branch.o,__data=0x80010005
# rivet-check-error: BRANCH32 at __text+0x1 in `overflow-branch.o` against `target` is out of range: value 0x80000000 not in

        .section __TEXT,__text,regular,pure_instructions
        callq   _target
        .section __DATA,__data
        .globl  _target
_target:
        .long   0
.subsections_via_symbols
