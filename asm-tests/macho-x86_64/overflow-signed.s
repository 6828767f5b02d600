# SIGNED one past its maximum: S - next_pc = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15
# rivet-check-args: --map-section overflow-signed.o,__text=0x10000
# rivet-check-args: --dummy-extern _signed_over=0x80010006
# rivet-check-error: PC32 at __text+0x2 in `overflow-signed.o` against `signed_over` is out of range: value 0x80000000 not in

        .section __TEXT,__text,regular,pure_instructions
        movl    _signed_over(%rip), %eax
.subsections_via_symbols
