# Thread-local storage, general dynamic (what LLVM emits for PIC code on
# RISC-V, for the local-dynamic model too): TLS_GD_HI20 and its
# PCREL_LO12_I point at a GOT pair (module key, offset in the module's TLS
# block) that __tls_get_addr takes; TLS_DTPREL64 (debug information) is
# the offset in the block, with no bias: rivet's own __tls_get_addr reads
# the pairs it writes.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --dummy-extern __tls_get_addr=0x7000

        .text
        .globl  main
        .type   main,@function
main:
# Two variables, each with its pair after the GOT's ordinary slots (one
# here: __tls_get_addr's, which its stub jumps through), 16 bytes each.
# jitlink-check: got_addr(tls.o, __tls_get_addr) = section_addr(tls.o, [got])
# jitlink-check: *{8}got_addr(tls.o, __tls_get_addr) = __tls_get_addr
# jitlink-check: decode_operand(gd_first, 1) = ((section_addr(tls.o, [got]) + 8) - gd_first + 0x800)[31:12]
# jitlink-check: decode_operand(gd_first + 4, 2)[11:0] = ((section_addr(tls.o, [got]) + 8) - gd_first)[11:0]
# jitlink-check: decode_operand(gd_second, 1) = (section_addr(tls.o, [got]) + 24 - gd_second + 0x800)[31:12]
# jitlink-check: decode_operand(gd_second + 4, 2)[11:0] = (section_addr(tls.o, [got]) + 24 - gd_second)[11:0]
# jitlink-check: *{8}(section_addr(tls.o, [got]) + 16) = 0
# jitlink-check: *{8}(section_addr(tls.o, [got]) + 32) = 8
gd_first:
        auipc   a0, %tls_gd_pcrel_hi(first)
        addi    a0, a0, %pcrel_lo(gd_first)
        call    __tls_get_addr
gd_second:
        auipc   a0, %tls_gd_pcrel_hi(second)
        addi    a0, a0, %pcrel_lo(gd_second)
        call    __tls_get_addr
        ret
        .size   main, .-main

# Both pairs name the same module (one key per module, not 0).
# jitlink-check: *{8}(section_addr(tls.o, [got]) + 8) = *{8}(section_addr(tls.o, [got]) + 24)
# jitlink-check: (*{8}(section_addr(tls.o, [got]) + 8))[63:32] = 0

# TLS_DTPREL64 in data (written with .reloc: LLVM's assembler has no
# directive for it on RISC-V): the zero-fill variable follows the 16 bytes
# of initialized data.
# jitlink-check: *{8}dtprel64 = 8
# jitlink-check: *{8}(dtprel64 + 8) = 16 + 4
        .data
        .p2align 3
dtprel64:
        .reloc  ., R_RISCV_TLS_DTPREL64, second
        .quad   0
        .reloc  ., R_RISCV_TLS_DTPREL64, zeroed + 4
        .quad   0

        .section .tdata,"awT",@progbits
        .p2align 3
first:
        .quad   1
second:
        .quad   2
        .section .tbss,"awT",@nobits
        .p2align 3
zeroed:
        .zero   8
