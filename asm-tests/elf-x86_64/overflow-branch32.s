# R_X86_64_PLT32 to a symbol of this object (no stub can help) one
# byte out of reach: S + A - P = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-branch32.o,.text=0x10000
# rivet-check-error: BRANCH32 at .text+0x1 in `overflow-branch32.o` against `branch_over` is out of range: value 0x80000000 not in

        .text
        .globl  branch_over
        .set    branch_over, 0x80010005
        callq   branch_over@PLT
