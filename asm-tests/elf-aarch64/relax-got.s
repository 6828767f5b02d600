# GOT loads relaxed as lld does for AArch64: the pair
#   adrp xN, :got:sym              (R_AARCH64_ADR_GOT_PAGE)
#   ldr  xN, [xN, :got_lo12:sym]   (R_AARCH64_LD64_GOT_LO12_NC)
# becomes
#   adrp xN, sym
#   add  xN, xN, :lo12:sym
# when sym is defined in the link (this module or another one linked with
# it), the two instructions are adjacent and of exactly these forms with one
# register, and sym's page is within the adrp's ±4 GiB of the final
# addresses. The slot stays, holding sym. Anything else keeps the load.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: Inputs/relax-near.s Inputs/relax-far.s
# rivet-check-args: --map-section relax-far.o,.text=0x200000000
# rivet-check-args: --dummy-extern ext_data=0x2000

        .text
        .globl  main
        .p2align 2
main:
# This module's own symbol: adrp to its page, then `add x0, x0, #lo12`
# (0x91000000 | imm12 << 10 | x0 << 5 | x0).
# jitlink-check: decode_operand(own_page, 1) = local_data[63:12] - own_page[63:12]
# jitlink-check: *{4}own_lo12 = 0x91000000 | (local_data[11:0] << 10)
# jitlink-check: *{8}got_addr(relax-got.o, local_data) = local_data
own_page:
        adrp    x0, :got:local_data
own_lo12:
        ldr     x0, [x0, :got_lo12:local_data]

# Another module's symbol, with x9: relaxed too.
# jitlink-check: decode_operand(other_page, 1) = near_data[63:12] - other_page[63:12]
# jitlink-check: *{4}other_lo12 = 0x91000129 | (near_data[11:0] << 10)
other_page:
        adrp    x9, :got:near_data
other_lo12:
        ldr     x9, [x9, :got_lo12:near_data]

# The load's destination differs from the adrp's register: not the form,
# so the GOT load stays (ldr x2, [x1, #slot]).
# jitlink-check: decode_operand(mixed_page, 1) = got_addr(relax-got.o, near_fn)[63:12] - mixed_page[63:12]
# jitlink-check: *{4}mixed_lo12 = 0xf9400022 | (got_addr(relax-got.o, near_fn)[11:3] << 10)
# jitlink-check: *{8}got_addr(relax-got.o, near_fn) = near_fn
mixed_page:
        adrp    x1, :got:near_fn
mixed_lo12:
        ldr     x2, [x1, :got_lo12:near_fn]

# Not adjacent: the load stays.
# jitlink-check: *{4}apart_lo12 = 0xf9400063 | (got_addr(relax-got.o, near_fn)[11:3] << 10)
apart_page:
        adrp    x3, :got:near_fn
        nop
apart_lo12:
        ldr     x3, [x3, :got_lo12:near_fn]

# Out of the adrp's reach (far_fn is 8 GiB away): the load stays.
# jitlink-check: decode_operand(far_page, 1) = got_addr(relax-got.o, far_fn)[63:12] - far_page[63:12]
# jitlink-check: *{4}far_lo12 = 0xf9400084 | (got_addr(relax-got.o, far_fn)[11:3] << 10)
# jitlink-check: *{8}got_addr(relax-got.o, far_fn) = far_fn
far_page:
        adrp    x4, :got:far_fn
far_lo12:
        ldr     x4, [x4, :got_lo12:far_fn]

# Not defined in the link: the load stays (the slot is its patch point).
# jitlink-check: *{4}ext_lo12 = 0xf94000a5 | (got_addr(relax-got.o, ext_data)[11:3] << 10)
# jitlink-check: *{8}got_addr(relax-got.o, ext_data) = ext_data
ext_page:
        adrp    x5, :got:ext_data
ext_lo12:
        ldr     x5, [x5, :got_lo12:ext_data]
        ret

        .data
        .p2align 3
        .globl  local_data
local_data:
        .quad   1
