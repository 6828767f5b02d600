# POINTER_TO_GOT (4 bytes, pc-relative) one past its maximum:
# G - P = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-args: --map-section overflow-pointer-to-got32.o,__const=0x10000000
# rivet-check-args: --map-section overflow-pointer-to-got32.o,[got]=0x90000000
# rivet-check-args: --dummy-extern _got_target=0x1234
# rivet-check-error: GOT_PREL32 at __const+0x0 in `overflow-pointer-to-got32.o` against `got_target` is out of range: value 0x80000000 not in

        .section __TEXT,__const
        .long   _got_target@GOT - .
.subsections_via_symbols
