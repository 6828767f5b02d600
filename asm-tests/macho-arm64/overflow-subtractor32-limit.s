# SUBTRACTOR + UNSIGNED of 4 bytes on arm64 maps to ABS32, which takes
# [-2^31, 2^32): a difference of 0xffffffff still fits (the x86-64 form is
# sign-extended and stops at 0x7fffffff). overflow-subtractor32.s holds the
# first value rejected.
#
# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-args: --map-section overflow-subtractor32-limit.o,__data=0x20000
# rivet-check-args: --map-section overflow-subtractor32-limit.o,__const=0x10001ffff

# jitlink-check: *{4}diff32 = 0xffffffff
# jitlink-check: _hi - _lo = 0xffffffff
        .section __DATA,__data
        .globl  _lo
_lo:
diff32:
        .long   _hi - _lo
        .section __TEXT,__const
        .globl  _hi
_hi:
        .byte   0
.subsections_via_symbols
