# CALL26 on an instruction that is not a branch.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --dummy-extern f=0x1000
# rivet-check-error: CALL26 at .text+0x0 in `invalid-wrong-instruction.o` against `f`: CALL26/JUMP26 applies to a b or bl instruction

        .text
        .reloc  ., R_AARCH64_CALL26, f
        nop
