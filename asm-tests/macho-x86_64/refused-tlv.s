# Thread-local variables (X86_64_RELOC_TLV) are refused with an error that
# names the relocation and why.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15
# rivet-check-error: unsupported relocation X86_64_RELOC_TLV (thread-local variable access) at __text+0x3 in `refused-tlv.o`

        .section __TEXT,__text,regular,pure_instructions
        movq    _tlv@TLVP(%rip), %rdi
        retq
.subsections_via_symbols
