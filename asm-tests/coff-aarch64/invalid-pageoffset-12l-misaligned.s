# PAGEOFFSET_12L on a 64-bit load of an address that is not 8-aligned:
# the scaled immediate cannot hold it.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --dummy-extern odd=0x5004
# rivet-check-error: PAGEOFF12 at .text+0x0 in `invalid-pageoffset-12l-misaligned.o` against `odd`

        .text
        ldr     x0, [x0, :lo12:odd]
