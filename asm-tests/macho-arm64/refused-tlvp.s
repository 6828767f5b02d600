# Thread-local variables (TLVP_LOAD_PAGE21/PAGEOFF12) are refused with an
# error that names the relocation and why.
#
# rivet-check-args: --triple arm64-apple-macosx11.0
# rivet-check-error: unsupported relocation ARM64_RELOC_TLVP_LOAD_PAGEOFF12 (thread-local variable access)

        .section __TEXT,__text,regular,pure_instructions
        adrp    x0, _tlv@TLVPPAGE
        ldr     x0, [x0, _tlv@TLVPPAGEOFF]
.subsections_via_symbols
