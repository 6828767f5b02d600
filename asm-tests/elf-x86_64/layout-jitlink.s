# JITLink's layout (rivet check --layout jitlink, the default for files
# checked with jitlink-check only): each module is laid out from the slab
# address as one page-aligned segment per protection, read-only first
# (.rodata, then the GOT), then read-write (.data), then executable (.text,
# then the stubs). Text lies above data, so a reference from code to data
# is a negative 32-bit delta.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --slab-address 0x10000 --slab-page-size 0x1000
# rivet-check-args: --dummy-extern ext_func=0x7f0000001230 --dummy-extern ext_data=0x7f0000004560

# jitlink-check: section_addr(layout-jitlink.o, .rodata) = 0x10000
# jitlink-check: section_addr(layout-jitlink.o, [got]) = 0x10008
# jitlink-check: got_addr(layout-jitlink.o, ext_data) >> 12 = 0x10
# jitlink-check: section_addr(layout-jitlink.o, .data) = 0x11000
# jitlink-check: section_addr(layout-jitlink.o, .text) = 0x12000
# jitlink-check: main = 0x12000

        .text
        .globl  main
        .type   main,@function
main:
# next_pc is 0x12005; the stubs follow the text (27 bytes) in the
# executable page, at their alignment.
# jitlink-check: next_pc(call_ext) = 0x12005
# jitlink-check: decode_operand(call_ext, 0) = stub_addr(layout-jitlink.o, ext_func) - next_pc(call_ext)
# jitlink-check: stub_addr(layout-jitlink.o, ext_func) >> 12 = 0x12
# jitlink-check: (section_addr(layout-jitlink.o, [stubs]) - 0x1201b) >> 4 = 0
call_ext:
        callq   ext_func@PLT
# .data is a page below: 0x11000 - 0x1200c, as 32 bits.
# jitlink-check: *{4}(load_var + 3) = 0xffffeff4
load_var:
        leaq    var(%rip), %rax
# The GOT slot is two pages below, in the read-only page (0x10008 -
# 0x12013 for a first slot).
# jitlink-check: (*{4}(load_got + 3)) >> 12 = 0xffffd
load_got:
        movq    ext_data@GOTPCREL(%rip), %rcx
# jitlink-check: *{4}(load_const + 3) = 0xffffdfe6
load_const:
        leaq    answer(%rip), %rdx
        retq
        .size   main, .-main

        .section .rodata,"a",@progbits
        .p2align 3
answer:
        .quad   42

        .data
        .p2align 3
        .globl  var
var:
        .quad   7
