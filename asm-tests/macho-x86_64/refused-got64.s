# GOT with length 3 (`.quad _x@GOTPCREL`) has no meaning for a linker of
# objects (ld64 refuses it too): an error that names it.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15 --dummy-extern _x=0x1000
# rivet-check-error: unsupported relocation X86_64_RELOC_GOT (r_pcrel=1 r_length=3 r_extern=1) at __data+0x0 in `refused-got64.o`

        .section __DATA,__data
        .quad   _x@GOTPCREL
.subsections_via_symbols
