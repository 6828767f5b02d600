# SUBTRACTOR + UNSIGNED (4 bytes) one past its maximum: _hi - _lo =
# 0x100000000 (overflow-subtractor32-limit.s is the last that fits).
#
# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-args: --map-section overflow-subtractor32.o,__data=0x20000
# rivet-check-args: --map-section overflow-subtractor32.o,__const=0x100020000
# rivet-check-error: ABS32 at __data+0x0 in `overflow-subtractor32.o` against `hi` is out of range: value 0x100000000 not in

        .section __DATA,__data
        .globl  _lo
_lo:
        .long   _hi - _lo
        .section __TEXT,__const
        .globl  _hi
_hi:
        .byte   0
.subsections_via_symbols
