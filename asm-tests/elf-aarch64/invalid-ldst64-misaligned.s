# LDST64_ABS_LO12_NC of an address that is not 8-aligned: the scaled
# immediate cannot hold it.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --dummy-extern odd=0x1004
# rivet-check-error: LDST64_ABS_LO12_NC at .text+0x0 in `invalid-ldst64-misaligned.o` against `odd`: the address is not aligned to the access size of the load or store

        .text
        ldr     x0, [x0, :lo12:odd]
