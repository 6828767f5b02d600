# Mach-O arm64 thread-local variables without a getter from the run time
# (this host runs arm64 code only in the emulator, on one thread): the
# module gets its own getter ([tlv-getter], returning block + offset for a
# descriptor in x0) and one copy of its thread-local block in its data
# ([tlv-block]), initialized from __thread_data, zero after it.
#
# rivet-check-args: --triple arm64-apple-macosx11.0 --target-addr-start 0x200000000

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 2
_main:
        adrp    x0, _counter@TLVPPAGE
        ldr     x0, [x0, _counter@TLVPPAGEOFF]
        ldr     x8, [x0]
        blr     x8
        ldr     x0, [x0]
        ret

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

# Both descriptors call the module's getter.
# jitlink-check: *{8}_counter = section_addr(tlv-own-getter.o, [tlv-getter])
# jitlink-check: *{8}_zeroed = section_addr(tlv-own-getter.o, [tlv-getter])
# The getter: ldr x16, [x0, #16]; ldr x0, #12; add x0, x0, x16; ret; .quad block.
# jitlink-check: *{4}section_addr(tlv-own-getter.o, [tlv-getter]) = 0xf9400810
# jitlink-check: *{4}(section_addr(tlv-own-getter.o, [tlv-getter]) + 4) = 0x58000060
# jitlink-check: *{4}(section_addr(tlv-own-getter.o, [tlv-getter]) + 8) = 0x8b100000
# jitlink-check: *{4}(section_addr(tlv-own-getter.o, [tlv-getter]) + 12) = 0xd65f03c0
# jitlink-check: *{8}(section_addr(tlv-own-getter.o, [tlv-getter]) + 16) = section_addr(tlv-own-getter.o, [tlv-block])
# The block: the initial value, then the zero-fill variable.
# jitlink-check: *{8}section_addr(tlv-own-getter.o, [tlv-block]) = 100
# jitlink-check: *{8}(section_addr(tlv-own-getter.o, [tlv-block]) + 8) = 0
.subsections_via_symbols
