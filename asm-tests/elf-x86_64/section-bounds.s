# Linker-defined section bounds: __start_NAME and __stop_NAME of a section
# whose name is a C identifier are the first and one-past-the-last byte of
# the module's sections of that name. Two input sections named my_registry
# (the second made distinct with `unique`) are laid out together, before
# other_data which comes between them in the file, so the bounds enclose
# both and nothing else. An undefined weak bound of a section the module
# lacks is 0.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu --target-addr-start 0x400000

        .text
        .globl  main
main:
# jitlink-check: decode_operand(main, 4) = __start_my_registry - next_pc(main)
        leaq    __start_my_registry(%rip), %rax
stop_ref:
# jitlink-check: decode_operand(stop_ref, 4) = __stop_my_registry - next_pc(stop_ref)
        leaq    __stop_my_registry(%rip), %rcx
        retq

        .section my_registry,"aw",@progbits
        .p2align 3
reg_a:
        .quad   1
        .quad   2

        .section other_data,"aw",@progbits
        .p2align 3
other:
        .quad   7

        .section my_registry,"aw",@progbits,unique,1
        .p2align 3
reg_b:
        .quad   3

        .section .rodata,"a",@progbits
        .p2align 3
pointers:
        .quad   __start_my_registry
        .quad   __stop_my_registry
        .quad   __start_absent
        .weak   __start_absent

# jitlink-check: __start_my_registry = reg_a
# jitlink-check: reg_b - reg_a = 16
# jitlink-check: __stop_my_registry = reg_b + 8
# jitlink-check: __stop_my_registry - __start_my_registry = 24
# The section between them in the file comes after the pair.
# jitlink-check: other = __stop_my_registry
# jitlink-check: *{8}pointers = __start_my_registry
# jitlink-check: *{8}(pointers + 8) = __stop_my_registry
# jitlink-check: *{8}(pointers + 16) = 0
