# Mach-O arm64 thread-local variables: code loads the address of a
# variable's descriptor by page (ARM64_RELOC_TLVP_LOAD_PAGE21 and
# TLVP_LOAD_PAGEOFF12, a GOT load of it) and calls the
# descriptor's first word, the getter (__tlv_bootstrap: a dummy here, as
# rivet's run time has no arm64 getter on this host). The linker writes the
# module's key into each descriptor's second word; the third is the
# variable's offset in the thread-local block (__thread_data, then
# __thread_bss).
#
# rivet-check-args: --triple arm64-apple-macosx11.0 --target-addr-start 0x200000000
# rivet-check-args: --dummy-extern __tlv_bootstrap=0x7000

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 2
_main:
# The descriptor is defined in the link, in reach: the load is relaxed
# into adrp+add of the descriptor itself (its GOT slot still holds it).
# jitlink-check: decode_operand(_main, 1) = _counter[63:12] - _main[63:12]
# jitlink-check: decode_operand(_main + 4, 2) = _counter[11:0]
# jitlink-check: *{8}got_addr(tlv.o, _counter) = _counter
        adrp    x0, _counter@TLVPPAGE
        ldr     x0, [x0, _counter@TLVPPAGEOFF]
        ldr     x8, [x0]
        blr     x8
        ldr     x0, [x0]
        ret

        .section __DATA,__thread_data,thread_local_regular
        .p2align 2
_counter$tlv$init:
        .long   100
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
# jitlink-check: *{8}(_counter + 8) = *{8}(_zeroed + 8)
# jitlink-check: *{8}(_counter + 16) = 0
# The zero-fill variable follows the 4 bytes of __thread_data, 8-aligned.
# jitlink-check: *{8}(_zeroed + 16) = 8
.subsections_via_symbols
