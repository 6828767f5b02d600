# Mach-O x86-64 __eh_frame: the assembler writes no relocation for an
# FDE's pc_begin (ld64 infers it, and so does rivet's loader); the linked
# field must still point at the function. This is RuntimeDyld's own check
# of the same thing.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
_main:
        retq
        .globl  _eh_frame_test
_eh_frame_test:
        .cfi_startproc
        pushq   %rbp
        .cfi_def_cfa_offset 16
        popq    %rbp
        retq
        .cfi_endproc

# pc_begin is 8 bytes into the FDE, which follows the 0x18-byte CIE; it is
# pc-relative (8 bytes here), and pc_range (next) is the function's size.
# rtdyld-check: *{8}(section_addr(eh-frame.o, __eh_frame) + 0x20) = \
# rtdyld-check:     _eh_frame_test - (section_addr(eh-frame.o, __eh_frame) + 0x20)
# rtdyld-check: *{8}(section_addr(eh-frame.o, __eh_frame) + 0x28) = 3
.subsections_via_symbols
