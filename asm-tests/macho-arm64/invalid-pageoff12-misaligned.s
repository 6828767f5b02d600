# PAGEOFF12 on an 8-byte load of an address that is not 8-aligned: the
# scaled immediate cannot hold it.
#
# rivet-check-args: --triple arm64-apple-macosx11.0 --dummy-extern _odd=0x1004
# rivet-check-error: PAGEOFF12 at __text+0x4 in `invalid-pageoff12-misaligned.o` against `odd`: the address is not aligned to the access size of the load or store

        .section __TEXT,__text,regular,pure_instructions
        adrp    x0, _odd@PAGE
        ldr     x0, [x0, _odd@PAGEOFF]
.subsections_via_symbols
