# REL32 at a call site to a symbol of this object (no stub can help)
# one past its reach: S - next_pc = 0x80010008 - 0x10008 = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-pc-windows-msvc
# rivet-check-args: --map-section overflow-rel32-branch.o,.text=0x10000
# rivet-check-args: --map-section overflow-rel32-branch.o,.data=0x80010008
# rivet-check-error: BRANCH32 at .text+0x4 in `overflow-rel32-branch.o` against `target` is out of range: value 0x80000000 not in

        .text
        nop
        nop
        nop
        callq   target
        .data
        .globl  target
target:
        .long   0
