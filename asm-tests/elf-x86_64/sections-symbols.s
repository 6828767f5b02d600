# Section and symbol addresses: segments laid out from --target-addr-start
# with --target-section-sep between them, sections within a segment in file
# order and aligned, commons, weak and absolute symbols, and a second module
# (Inputs/helper.s) linked in the same batch.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --target-addr-start 0x400000 --target-section-sep 0x100
# rivet-check-args: Inputs/helper.s
# The addresses below are those of rivet's own layout (each module's
# segments in class order: text, stubs, GOT, read-only data, data).
# rivet-check-args: --layout rivet

        .text
        .globl  main
        .type   main,@function
main:
# The first segment starts where asked; .text is its first section.
# jitlink-check: main = 0x400000
# jitlink-check: section_addr(sections-symbols.o, .text) = 0x400000
# jitlink-check: second_func - main = 0x10
# A weak definition found nowhere else is this one.
# jitlink-check: decode_operand(main, 4) = weak_here - next_pc(main)
        movq    weak_here(%rip), %rax
# A call to the other module: to its function, direct (it is in reach),
# with a stub reserved in this module.
# jitlink-check: decode_operand(call_helper, 0) = helper_func - next_pc(call_helper)
# jitlink-check: stub_addr(sections-symbols.o, helper_func) = section_addr(sections-symbols.o, [stubs])
call_helper:
        callq   helper_func
        retq
        .size   main, .-main

        .p2align 4
        .globl  second_func
second_func:
        retq

# A second text section joins the first in the text segment, aligned.
        .section .text.hot,"ax",@progbits
        .p2align 5
        .globl  hot_func
hot_func:
        retq
# jitlink-check: section_addr(sections-symbols.o, .text.hot) = 0x400020
# jitlink-check: hot_func = 0x400020

# The stub segment follows the text segment (33 bytes) after 0x100 bytes,
# 8-aligned: 0x400021 + 0x100 rounded up; the GOT (the stub's slot) next.
# jitlink-check: section_addr(sections-symbols.o, [stubs]) = 0x400128
# jitlink-check: section_addr(sections-symbols.o, [got]) = 0x400230

# Read-only data goes to the read-only segment; a 64-byte alignment holds.
        .section .rodata,"a",@progbits
        .p2align 6
        .globl  table
table:
        .quad   1, 2, 3
# jitlink-check: table[5:0] = 0
# jitlink-check: table = section_addr(sections-symbols.o, .rodata)
# jitlink-check: *{8}(table + 16) = 3

# Writable data, zero-fill data and commons share the data segment.
        .data
        .p2align 3
        .globl  data_start
data_start:
        .quad   0x1122334455667788
# A weak definition loses to the strong one of the other module: the name
# is the other module's, and this module's references bind to it.
        .weak   weak_here
weak_here:
        .quad   7
        .globl  shared
        .weak   shared
shared:
        .quad   9
# jitlink-check: shared = section_addr(helper.o, .data)
# jitlink-check: *{8}shared = 0x5348415245440000
# jitlink-check: *{8}data_start = 0x1122334455667788
# jitlink-check: decode_operand(helper_func, 4) = shared - next_pc(helper_func)

        .bss
        .p2align 4
        .globl  zeroes
zeroes:
        .zero   32
# jitlink-check: zeroes = section_addr(sections-symbols.o, .bss)
# jitlink-check: zeroes - data_start = 0x20
# jitlink-check: *{8}(zeroes + 24) = 0

# A common block is placed after the sections of the data segment.
        .comm   common_block, 64, 16
# jitlink-check: common_block[3:0] = 0
# jitlink-check: common_block - zeroes = 0x20

# An absolute symbol is its value.
        .globl  absolute
        .set    absolute, 0xdeadbeef
# jitlink-check: absolute = 0xdeadbeef

# The second module's segments come after this module's: its text follows
# this module's data segment (0x400460, 128 bytes) after the gap.
# jitlink-check: helper_func = 0x4005e0
