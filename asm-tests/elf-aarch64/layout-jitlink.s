# JITLink's layout (rivet check --layout jitlink, the default for files
# checked with jitlink-check only): one page-aligned segment per
# protection from the slab address, read-only (.rodata, then the GOT),
# read-write (.data), executable (.text, then the stubs). Text lies above
# data, so ADRP reaches data with a negative page delta.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --slab-address 0x40000 --slab-page-size 0x1000
# rivet-check-args: --dummy-extern ext_func=0x7f0000001230 --dummy-extern ext_data=0x7f0000004560

# jitlink-check: section_addr(layout-jitlink.o, .rodata) = 0x40000
# jitlink-check: section_addr(layout-jitlink.o, [got]) = 0x40008
# jitlink-check: section_addr(layout-jitlink.o, .data) = 0x41000
# jitlink-check: section_addr(layout-jitlink.o, .text) = 0x42000
# jitlink-check: main = 0x42000

        .text
        .globl  main
        .type   main,@function
        .p2align 2
main:
# The stubs follow the text (16 bytes) in the executable page.
# jitlink-check: (section_addr(layout-jitlink.o, [stubs]) - 0x42010) >> 4 = 0
# jitlink-check: decode_operand(call_ext, 0) = (stub_addr(layout-jitlink.o, ext_func) - call_ext) >> 2
call_ext:
        bl      ext_func
# .data is one page below the text: ADRP's page delta is -1 (as LLVM's
# disassembler gives it, sign-extended to 64 bits).
# jitlink-check: decode_operand(page_var, 1) = 0xffffffffffffffff
page_var:
        adrp    x0, var
# The GOT and .rodata are two pages below.
# jitlink-check: decode_operand(page_got, 1) = 0xfffffffffffffffe
page_got:
        adrp    x1, :got:ext_data
# jitlink-check: decode_operand(page_const, 1) = 0xfffffffffffffffe
page_const:
        adrp    x2, answer
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
