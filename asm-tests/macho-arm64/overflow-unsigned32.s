# UNSIGNED (4 bytes) one past its maximum, 0xffffffff.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-args: --dummy-extern _abs32_over=0x100000000
# rivet-check-error: ABS32 at __data+0x0 in `overflow-unsigned32.o` against `abs32_over` is out of range: value 0x100000000 not in

        .section __DATA,__data
        .long   _abs32_over
.subsections_via_symbols
