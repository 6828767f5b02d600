# Thread-local storage, the static models and descriptors. A module's block
# lies at a fixed offset from the thread pointer (tpidr_el0); linked for
# AArch64 on another machine, rivet puts it where a static AArch64
# executable has its block: after the 16-byte thread control block, so
# TPREL(first) = 16, TPREL(second) = 24 and TPREL(far) = 16 + 0x12350.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu

        .text
        .globl  main
main:
# Local exec, add pair: bits [23:12] (with lsl #12), then bits [11:0].
# jitlink-check: decode_operand(le_hi, 2) = 0x12
# jitlink-check: decode_operand(le_lo_nc, 2) = 0x360
# jitlink-check: decode_operand(le_lo, 2) = 24
le_hi:
        add     x0, x0, :tprel_hi12:far
le_lo_nc:
        add     x0, x0, :tprel_lo12_nc:far
le_lo:
        add     x1, x1, :tprel_lo12:second

# Local exec, move wide: movz for the checked groups, movk for the _NC ones.
# jitlink-check: decode_operand(le_g2, 1) = 0
# jitlink-check: decode_operand(le_g1, 1) = 1
# jitlink-check: decode_operand(le_g0_nc, 2) = 0x2360
# jitlink-check: decode_operand(le_g0, 1) = 24
# jitlink-check: decode_operand(le_g1_nc, 2) = 0
le_g2:
        movz    x2, #:tprel_g2:far
le_g1:
        movz    x2, #:tprel_g1:far
le_g0_nc:
        movk    x2, #:tprel_g0_nc:far
le_g0:
        movz    x3, #:tprel_g0:second
le_g1_nc:
        movk    x3, #:tprel_g1_nc:second

# Initial exec: adrp to the GOT slot and ldr from it; the slot holds
# TPREL(first). It is the GOT's only ordinary slot.
# jitlink-check: decode_operand(ie_page, 1) = section_addr(tls.o, [got])[63:12] - ie_page[63:12]
# jitlink-check: decode_operand(ie_lo12, 2) = section_addr(tls.o, [got])[11:3]
# jitlink-check: *{8}section_addr(tls.o, [got]) = 16
ie_page:
        adrp    x4, :gottprel:first
ie_lo12:
        ldr     x4, [x4, :gottprel_lo12:first]

# A descriptor of `second`: two slots after the ordinary one, (resolver,
# TPREL(second)); the resolver is rivet's (0 where the code is not the
# host's). The blr through it keeps its bytes.
# jitlink-check: decode_operand(desc_page, 1) = (section_addr(tls.o, [got]) + 8)[63:12] - desc_page[63:12]
# jitlink-check: decode_operand(desc_ld, 2) = (section_addr(tls.o, [got]) + 8)[11:3]
# jitlink-check: decode_operand(desc_add, 2) = (section_addr(tls.o, [got]) + 8)[11:0]
# jitlink-check: *{8}(section_addr(tls.o, [got]) + 16) = 24
# jitlink-check: *{4}desc_call = 0xd63f0020
desc_page:
        adrp    x0, :tlsdesc:second
desc_ld:
        ldr     x1, [x0, :tlsdesc_lo12:second]
desc_add:
        add     x0, x0, :tlsdesc_lo12:second
        .tlsdesccall second
desc_call:
        blr     x1
        ret

        .section .tdata,"awT",@progbits
        .p2align 3
        .globl  first
first:
        .quad   1
        .globl  second
second:
        .quad   2

        .section .tbss,"awT",@nobits
        .p2align 3
        .zero   0x12340
        .globl  far
far:
        .zero   8
