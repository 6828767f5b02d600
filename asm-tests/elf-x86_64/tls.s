# Thread-local storage, dynamic models: R_X86_64_TLSGD and TLSLD point at
# GOT pairs (module key, offset in the module's TLS block) that
# __tls_get_addr takes; DTPOFF32 and DTPOFF64 are offsets in the block.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --dummy-extern __tls_get_addr=0x7000

        .text
        .globl  main
        .type   main,@function
main:
# General dynamic, for two variables: each has its pair, after the GOT's
# ordinary slots (one here: __tls_get_addr's, which its stub jumps
# through), 16 bytes each.
# jitlink-check: got_addr(tls.o, __tls_get_addr) = section_addr(tls.o, [got])
# jitlink-check: *{8}got_addr(tls.o, __tls_get_addr) = __tls_get_addr
# jitlink-check: next_pc(gd_first) + decode_operand(gd_first, 4) = (section_addr(tls.o, [got]) + 8)
# jitlink-check: next_pc(gd_second) + decode_operand(gd_second, 4) = section_addr(tls.o, [got]) + 24
# jitlink-check: *{8}(section_addr(tls.o, [got]) + 16) = 0
# jitlink-check: *{8}(section_addr(tls.o, [got]) + 32) = 8
gd_first:
        data16
        leaq    first@tlsgd(%rip), %rdi
        data16
        data16
        rex64
        callq   __tls_get_addr@PLT
gd_second:
        data16
        leaq    second@tlsgd(%rip), %rdi
        data16
        data16
        rex64
        callq   __tls_get_addr@PLT

# Both pairs name the same module (one key per module, not 0).
# jitlink-check: *{8}(section_addr(tls.o, [got]) + 8) = *{8}(section_addr(tls.o, [got]) + 24)
# jitlink-check: (*{8}(section_addr(tls.o, [got]) + 8))[63:32] = 0

# Local dynamic: the module's pair (key, 0), then DTPOFF32 offsets. The
# zero-fill variable follows the 16 bytes of initialized data.
# jitlink-check: next_pc(ld) + decode_operand(ld, 4) = section_addr(tls.o, [got]) + 40
# jitlink-check: *{8}(section_addr(tls.o, [got]) + 48) = 0
# jitlink-check: *{8}(section_addr(tls.o, [got]) + 40) = *{8}(section_addr(tls.o, [got]) + 8)
# jitlink-check: decode_operand(dtpoff32_second, 4) = 8
# jitlink-check: decode_operand(dtpoff32_zeroed, 4) = 16 + 4
ld:
        leaq    first@tlsld(%rip), %rdi
        callq   __tls_get_addr@PLT
dtpoff32_second:
        leaq    second@dtpoff(%rax), %rcx
dtpoff32_zeroed:
        leaq    zeroed+4@dtpoff(%rax), %rdx
        retq
        .size   main, .-main

# DTPOFF64 in data (debug information uses it).
# jitlink-check: *{8}dtpoff64 = 8
# jitlink-check: *{8}(dtpoff64 + 8) = 16
        .data
        .p2align 3
dtpoff64:
        .quad   second@dtpoff
        .quad   zeroed@dtpoff

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
        .globl  zeroed
zeroed:
        .zero   8
