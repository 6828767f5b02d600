# Move-wide relocations: MOVW_UABS_G0..G3 (checked and _NC) take a 16-bit
# group of S + A; MOVW_PREL_G0..G3 take a group of S + A - P, and the
# checked ones make the instruction movz for X >= 0 or movn with the group
# of !X for X < 0 (a movk keeps its opcode).
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section move-wide.o,.text=0x100000
# rivet-check-args: --dummy-extern small=0xbeef --dummy-extern mid=0xcafebabe
# rivet-check-args: --dummy-extern wide=0x123456789abc --dummy-extern big=0xfedcba9876543210
# rivet-check-args: --dummy-extern below=0xff000 --dummy-extern far_below=0x20

        .text
        .globl  main
        .p2align 2
main:
# Unsigned absolute groups (movz: operand 1; movk: operand 2).
# jitlink-check: decode_operand(uabs_g0, 1) = small
# jitlink-check: decode_operand(uabs_g0_nc, 2) = big[15:0]
# jitlink-check: decode_operand(uabs_g1, 1) = mid[31:16]
# jitlink-check: decode_operand(uabs_g1_nc, 2) = big[31:16]
# jitlink-check: decode_operand(uabs_g2, 1) = wide[47:32]
# jitlink-check: decode_operand(uabs_g2_nc, 2) = big[47:32]
# jitlink-check: decode_operand(uabs_g3, 2) = big[63:48]
# The shift operand of each is the one assembled (lsl 16 for G1).
# jitlink-check: decode_operand(uabs_g1, 2) = 16
uabs_g0:
        movz    x0, #:abs_g0:small
uabs_g0_nc:
        movk    x0, #:abs_g0_nc:big
uabs_g1:
        movz    x1, #:abs_g1:mid
uabs_g1_nc:
        movk    x1, #:abs_g1_nc:big
uabs_g2:
        movz    x2, #:abs_g2:wide
uabs_g2_nc:
        movk    x2, #:abs_g2_nc:big
uabs_g3:
        movk    x3, #:abs_g3:big

# The whole of `big` built from four instructions.
# jitlink-check: decode_operand(build, 1) = big[63:48]
# jitlink-check: decode_operand(build + 4, 2) = big[47:32]
# jitlink-check: decode_operand(build + 8, 2) = big[31:16]
# jitlink-check: decode_operand(build + 12, 2) = big[15:0]
build:
        movz    x4, #:abs_g3:big
        movk    x4, #:abs_g2_nc:big
        movk    x4, #:abs_g1_nc:big
        movk    x4, #:abs_g0_nc:big

# PC-relative, positive: movz with the group of X = S - P (bits 30:29 of
# the instruction, opc, are 2 for movz and 0 for movn).
# jitlink-check: decode_operand(prel_g0, 1) = (target - prel_g0)[15:0]
# jitlink-check: (*{4}prel_g0)[30:29] = 2
prel_g0:
        movz    x5, #:prel_g0:target
# PC-relative, negative (below is under the text): movn with the group of
# !X, so that the register ends up holding X.
# jitlink-check: decode_operand(prel_g0_neg, 1) = (0xffffffffffffffff - (below - prel_g0_neg))[15:0]
# jitlink-check: (*{4}prel_g0_neg)[30:29] = 0
prel_g0_neg:
        movz    x6, #:prel_g0:below
# G1 and G2 of a large negative distance, and the _NC forms in movk.
# jitlink-check: decode_operand(prel_g1, 1) = (0xffffffffffffffff - (far_below - prel_g1))[31:16]
# jitlink-check: decode_operand(prel_g1_nc, 2) = (far_below - prel_g1_nc)[31:16]
# jitlink-check: (*{4}prel_g1_nc)[30:29] = 3
# jitlink-check: decode_operand(prel_g0_nc, 2) = (far_below - prel_g0_nc)[15:0]
# jitlink-check: decode_operand(prel_g2, 1) = (0xffffffffffffffff - (far_below - prel_g2))[47:32]
# jitlink-check: decode_operand(prel_g2_nc, 2) = (far_below - prel_g2_nc)[47:32]
# jitlink-check: decode_operand(prel_g3, 1) = (0xffffffffffffffff - (far_below - prel_g3))[63:48]
prel_g1:
        movz    x7, #:prel_g1:far_below
prel_g1_nc:
        movk    x7, #:prel_g1_nc:far_below
prel_g0_nc:
        movk    x7, #:prel_g0_nc:far_below
prel_g2:
        movz    x8, #:prel_g2:far_below
prel_g2_nc:
        movk    x8, #:prel_g2_nc:far_below
prel_g3:
        movz    x9, #:prel_g3:far_below
# G3 of a positive distance: movz.
# jitlink-check: decode_operand(prel_g3_pos, 1) = (big - prel_g3_pos)[63:48]
# jitlink-check: (*{4}prel_g3_pos)[30:29] = 2
prel_g3_pos:
        movz    x10, #:prel_g3:big
        ret

        .p2align 4
target:
        .quad   0
