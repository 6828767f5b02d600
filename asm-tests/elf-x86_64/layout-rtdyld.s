# RuntimeDyld's layout (rivet check --layout rtdyld, the default for files
# checked with rtdyld-check only), as llvm-rtdyld -verify maps sections:
# from --target-addr-start (0x1000 by default), first the code of every
# module with its stubs right after it, then the data in the order the
# object's sections come (.data before .rodata here), then the module's
# .got, which RuntimeDyld allocates last. Each takes whole pages, and
# --target-section-sep bytes are left after each.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu --target-section-sep 0x100
# rivet-check-args: --dummy-extern ext_func=0x7f0000001230 --dummy-extern ext_data=0x7f0000004560

# rtdyld-check: section_addr(layout-rtdyld.o, .text) = 0x1000
# rtdyld-check: main = 0x1000
# rtdyld-check: section_addr(layout-rtdyld.o, .data) = 0x2100
# rtdyld-check: section_addr(layout-rtdyld.o, .rodata) = 0x3200
# rtdyld-check: section_addr(layout-rtdyld.o, .got) = 0x4300

        .text
        .globl  main
        .type   main,@function
main:
# The stub follows the text (27 bytes) at once, whatever the separation.
# rtdyld-check: decode_operand(call_ext, 0) = stub_addr(layout-rtdyld.o/.text, ext_func) - next_pc(call_ext)
# rtdyld-check: (stub_addr(layout-rtdyld.o/.text, ext_func) - 0x101b) >> 4 = 0
call_ext:
        callq   ext_func@PLT
# .data is a page and the separation above: 0x2100 - 0x100c.
# rtdyld-check: *{4}(load_var + 3) = 0x10f4
load_var:
        leaq    var(%rip), %rax
# The GOT slot is in the fourth block (0x4300 - 0x1013 for a first slot).
# rtdyld-check: (*{4}(load_got + 3)) >> 8 = 0x32
load_got:
        movq    ext_data@GOTPCREL(%rip), %rcx
# rtdyld-check: *{4}(load_const + 3) = 0x21e6
load_const:
        leaq    answer(%rip), %rdx
        retq
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
