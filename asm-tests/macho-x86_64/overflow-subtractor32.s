# SUBTRACTOR + UNSIGNED (4 bytes, sign-extended) one past its maximum:
# _hi - _lo = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15
# rivet-check-args: --map-section overflow-subtractor32.o,__data=0x20000
# rivet-check-args: --map-section overflow-subtractor32.o,__const=0x80020000
# rivet-check-error: ABS32S at __data+0x0 in `overflow-subtractor32.o` against `hi` is out of range: value 0x80000000 not in

        .section __DATA,__data
        .globl  _lo
_lo:
        .long   _hi - _lo
        .section __TEXT,__const
        .globl  _hi
_hi:
        .byte   0
.subsections_via_symbols
