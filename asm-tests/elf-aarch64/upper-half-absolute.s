# Absolute symbols in the upper half of the address space: AAELF64 adds
# modulo 2^64, so R_AARCH64_ABS32 (which takes -2^31 .. 2^32-1) accepts
# 0xffffffff80000000 as -2^31 and R_AARCH64_ABS16 0xffffffffffff8000 as
# -2^15; one below each is out of range (overflow-abs32-upper.s).
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --dummy-extern kernel_base=0xffffffff80000000
# rivet-check-args: --dummy-extern short_base=0xffffffffffff8000

        .data
# jitlink-check: *{4}abs32 = 0x80000000
abs32:  .word   kernel_base
# jitlink-check: *{2}abs16 = 0x8000
abs16:  .hword  short_base
# jitlink-check: *{8}abs64 = 0xffffffff80000000
        .p2align 3
abs64:  .xword  kernel_base
