# Indirect functions (STT_GNU_IFUNC) on AArch64: a slot in the module's
# data (the GOT entry GOT loads read; it receives the resolver's result
# when the module runs, and `rivet check` runs nothing, so it holds 0) and
# a thunk jumping through it (its stub), which calls and direct references
# reach. The engine refuses AArch64 indirect functions on this host, where
# AArch64 code runs only in the emulator; linking for inspection works.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu --target-addr-start 0x10000

        .text
        .globl  main
        .p2align 2
main:
# jitlink-check: decode_operand(main, 0)[25:0] = (stub_addr(ifunc.o, pick) - main)[27:2]
        bl      pick
got_load:
# jitlink-check: decode_operand(got_load, 1) = got_addr(ifunc.o, pick)[63:12] - got_load[63:12]
# jitlink-check: decode_operand(got_load + 4, 2) = got_addr(ifunc.o, pick)[11:3]
# jitlink-check: *{8}got_addr(ifunc.o, pick) = 0
# jitlink-check: got_addr(ifunc.o, pick) = section_addr(ifunc.o, .data) + 8
        adrp    x0, :got:pick
        ldr     x0, [x0, :got_lo12:pick]
        ret

impl_a:
        mov     w0, #1
        ret

resolve_pick:
        adr     x0, impl_a
        ret

        .globl  pick
        .type   pick, @gnu_indirect_function
        .set    pick, resolve_pick

# The thunk: ldr x16, #16; ldr x16, [x16]; br x16; nop; .quad slot.
# jitlink-check: *{4}stub_addr(ifunc.o, pick) = 0x58000090
# jitlink-check: *{4}(stub_addr(ifunc.o, pick) + 4) = 0xf9400210
# jitlink-check: *{4}(stub_addr(ifunc.o, pick) + 8) = 0xd61f0200
# jitlink-check: *{8}(stub_addr(ifunc.o, pick) + 16) = got_addr(ifunc.o, pick)
# jitlink-check: stub_addr(ifunc.o, pick) = (((resolve_pick + 8) + 7) >> 3) << 3
# jitlink-check: pick = stub_addr(ifunc.o, pick)

        .data
        .p2align 3
pointer:
# jitlink-check: *{8}pointer = stub_addr(ifunc.o, pick)
        .quad   pick
