# A branch to an address that is not 4-aligned.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --dummy-extern odd=0x1002
# rivet-check-error: CALL26 at .text+0x0 in `invalid-branch-misaligned.o` against `odd`: the branch target is not 4-byte aligned

        .text
        bl      odd
