# Linker-defined section bounds on AArch64: __start_NAME / __stop_NAME
# reached by adrp+add and by absolute data words; two input sections named
# my_registry are laid out together, before other_data, which comes between
# them in the file; a read-only registry gets its bounds in read-only data.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu --target-addr-start 0x10000

        .text
        .globl  main
        .p2align 2
main:
# jitlink-check: decode_operand(main, 1) = __start_my_registry[63:12] - main[63:12]
# jitlink-check: decode_operand(main + 4, 2) = __start_my_registry[11:0]
        adrp    x0, __start_my_registry
        add     x0, x0, :lo12:__start_my_registry
stop_ref:
# jitlink-check: decode_operand(stop_ref, 1) = __stop_my_registry[63:12] - stop_ref[63:12]
# jitlink-check: decode_operand(stop_ref + 4, 2) = __stop_my_registry[11:0]
        adrp    x1, __stop_my_registry
        add     x1, x1, :lo12:__stop_my_registry
        ret

        .section my_registry,"aw",@progbits
        .p2align 3
reg_a:
        .quad   1

        .section other_data,"aw",@progbits
        .p2align 4
other:
        .quad   7

        .section my_registry,"aw",@progbits,unique,1
        .p2align 3
reg_b:
        .quad   3
        .quad   4

        .section names,"a",@progbits
names_start:
        .ascii  "abc"

        .section .rodata,"a",@progbits
        .p2align 3
pointers:
        .quad   __start_my_registry
        .quad   __stop_my_registry
        .quad   __start_names
        .quad   __stop_names

# jitlink-check: __start_my_registry = reg_a
# jitlink-check: reg_b = reg_a + 8
# jitlink-check: __stop_my_registry = reg_b + 16
# jitlink-check: other = ((__stop_my_registry + 15) >> 4) << 4
# jitlink-check: *{8}pointers = __start_my_registry
# jitlink-check: *{8}(pointers + 8) = __stop_my_registry
# jitlink-check: *{8}(pointers + 16) = names_start
# jitlink-check: *{8}(pointers + 24) = names_start + 3
