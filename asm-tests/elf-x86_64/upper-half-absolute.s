# Absolute symbols in the upper half of the address space, as a kernel
# image or a memory-mapped device sits: the psABI adds modulo 2^64, so
# R_X86_64_32S sees 0xffffffff80000000 as -2^31 (accepted, the field
# sign-extends back to the address) and -1 as -1.
# overflow-abs32s-upper.s holds the first upper-half value it rejects.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --dummy-extern kernel_base=0xffffffff80000000
# rivet-check-args: --dummy-extern top=0xffffffffffffffff

        .text
# movq $kernel_base, %rax: a sign-extended imm32 (R_X86_64_32S).
# jitlink-check: *{4}(load_base + 3) = 0x80000000
# jitlink-check: decode_operand(load_base, 1) = 0xffffffff80000000
        .globl  load_base
load_base:
        movq    $kernel_base, %rax
# movq $minus_one, %rcx, an absolute symbol of this object at -1.
# jitlink-check: *{4}(load_minus_one + 3) = 0xffffffff
        .globl  load_minus_one
load_minus_one:
        movq    $minus_one, %rcx
        retq

        .data
# .long with R_X86_64_32S against the extern at the top of memory, plus
# an addend that brings it back to -2.
# jitlink-check: *{4}top_minus_one = 0xfffffffe
top_minus_one:
        .reloc  ., R_X86_64_32S, top - 1
        .long   0
# R_X86_64_64 of the same symbol: every bit, modulo 2^64.
# jitlink-check: *{8}top_64 = 0xffffffffffffffff
top_64:
        .quad   top

        .globl  minus_one
        .set    minus_one, 0xffffffffffffffff
