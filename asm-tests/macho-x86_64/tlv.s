# Mach-O thread-local variables: code loads the address of a variable's
# descriptor (X86_64_RELOC_TLV, a GOT load of it, which the linker makes a
# `leaq` of the descriptor when it is in reach, as ld64 does) and calls the descriptor's first word, the getter (__tlv_bootstrap, here
# a dummy; the engine uses rivet's run time). The linker writes the
# module's key into each descriptor's second word (the same in both); the
# third is the variable's offset in the module's thread-local block:
# __thread_data first, then __thread_bss.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15 --target-addr-start 0x100000000
# rivet-check-args: --dummy-extern __tlv_bootstrap=0x7000

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 4
_main:
# jitlink-check: *{1}(_main + 1) = 0x8d
# jitlink-check: decode_operand(_main, 4) = _counter - next_pc(_main)
        movq    _counter@TLVP(%rip), %rdi
        callq   *(%rdi)
        movq    (%rax), %rcx
load_zeroed:
# jitlink-check: decode_operand(load_zeroed, 4) = _zeroed - next_pc(load_zeroed)
        movq    _zeroed@TLVP(%rip), %rdi
        callq   *(%rdi)
        addq    (%rax), %rcx
        movq    %rcx, %rax
        retq

        .section __DATA,__thread_data,thread_local_regular
        .p2align 3
_counter$tlv$init:
        .quad   100
        .tbss   _zeroed$tlv$init, 8, 3

        .section __DATA,__thread_vars,thread_local_variables
        .globl  _counter
_counter:
        .quad   __tlv_bootstrap
        .quad   0
        .quad   _counter$tlv$init
        .globl  _zeroed
_zeroed:
        .quad   __tlv_bootstrap
        .quad   0
        .quad   _zeroed$tlv$init

# jitlink-check: *{8}_counter = 0x7000
# jitlink-check: *{8}_zeroed = 0x7000
# jitlink-check: *{8}(_counter + 8) = *{8}(_zeroed + 8)
# jitlink-check: *{8}(_counter + 16) = 0
# jitlink-check: *{8}(_zeroed + 16) = 8
# The descriptors are writable data, the initial image read-only.
# jitlink-check: _counter = section_addr(tlv.o, __DATA,__thread_vars)
.subsections_via_symbols
