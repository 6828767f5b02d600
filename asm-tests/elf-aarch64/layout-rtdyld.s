# RuntimeDyld's layout (rivet check --layout rtdyld, the default for files
# checked with rtdyld-check only), as llvm-rtdyld -verify maps sections:
# from --target-addr-start, the code of every module with its stubs right
# after it, then the data in the order of the object's sections, then the
# module's .got; each on whole pages, --target-section-sep bytes apart.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --target-addr-start 0x100000 --target-section-sep 0x1000
# rivet-check-args: --dummy-extern ext_func=0x7f0000001230 --dummy-extern ext_data=0x7f0000004560

# rtdyld-check: section_addr(layout-rtdyld.o, .text) = 0x100000
# rtdyld-check: section_addr(layout-rtdyld.o, .data) = 0x102000
# rtdyld-check: section_addr(layout-rtdyld.o, .rodata) = 0x104000
# rtdyld-check: section_addr(layout-rtdyld.o, .got) = 0x106000

        .text
        .globl  main
        .type   main,@function
        .p2align 2
main:
# The stub follows the text (16 bytes) at once, whatever the separation.
# rtdyld-check: (stub_addr(layout-rtdyld.o/.text, ext_func) - 0x100010) >> 4 = 0
# rtdyld-check: decode_operand(call_ext, 0) = (stub_addr(layout-rtdyld.o/.text, ext_func) - call_ext) >> 2
call_ext:
        bl      ext_func
# .data is two pages above the text, .rodata four, the GOT six.
# rtdyld-check: decode_operand(page_var, 1) = 2
page_var:
        adrp    x0, var
# rtdyld-check: decode_operand(page_const, 1) = 4
page_const:
        adrp    x2, answer
# rtdyld-check: decode_operand(page_got, 1) = 6
page_got:
        adrp    x1, :got:ext_data
        .size   main, .-main

        .data
        .p2align 3
        .globl  var
var:
        .quad   7

        .section .rodata,"a",@progbits
        .p2align 3
answer:
        .quad   42
