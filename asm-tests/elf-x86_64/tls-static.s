# Thread-local storage, the static models and descriptors: TPOFF32 and
# TPOFF64 are offsets from the thread pointer (%fs:0), GOTTPOFF points at a
# GOT slot holding one, GOTPC32_TLSDESC at a descriptor (two slots:
# rivet's resolver, the offset). The module's block is a piece of the
# static TLS rivet reserves, below the thread pointer: where exactly
# depends on the process, so these checks relate the offsets to each other.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu

        .text
        .globl  main
        .type   main,@function
main:
# Local exec: second is 8 bytes after first, zeroed (in .tbss) 16; all
# below the thread pointer, within the reservation (4096 bytes here).
# jitlink-check: decode_operand(le_second, 4) - decode_operand(le_first, 4) = 8
# jitlink-check: decode_operand(le_zeroed, 4) - decode_operand(le_first, 4) = 16 + 4
# jitlink-check: decode_operand(le_first, 4)[63:63] = 1
# jitlink-check: *{8}tpoff64 = decode_operand(le_second, 4)
le_first:
        leaq    first@tpoff(%rax), %rcx
le_second:
        leaq    second@tpoff(%rax), %rcx
le_zeroed:
        leaq    zeroed+4@tpoff(%rax), %rcx

# Initial exec: the GOT's only ordinary slot holds first's offset.
# jitlink-check: next_pc(ie) + decode_operand(ie, 4) = section_addr(tls-static.o, [got])
# jitlink-check: *{8}section_addr(tls-static.o, [got]) = decode_operand(le_first, 4)
ie:
        movq    first@gottpoff(%rip), %rax

# A descriptor of second after it: (resolver, offset of second). The call
# through it keeps its bytes (ff 10: call *(%rax)).
# jitlink-check: next_pc(desc) + decode_operand(desc, 4) = section_addr(tls-static.o, [got]) + 8
# jitlink-check: *{8}(section_addr(tls-static.o, [got]) + 16) = decode_operand(le_second, 4)
# jitlink-check: *{2}desc_call = 0x10ff
desc:
        leaq    second@tlsdesc(%rip), %rax
desc_call:
        callq   *second@tlscall(%rax)
        retq
        .size   main, .-main

        .data
        .p2align 3
tpoff64:
        .quad   second@tpoff

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
