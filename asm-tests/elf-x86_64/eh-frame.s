# Unwind tables: .eh_frame is loaded read-only and its R_X86_64_PC32
# fixups are applied like any other; the linker adds a zero terminator
# after it. Nothing is registered with the unwinder in a phony link.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu

        .text
        .globl  func
        .type   func,@function
func:
        .cfi_startproc
        pushq   %rbp
        .cfi_def_cfa_offset 16
        popq    %rbp
        .cfi_def_cfa_offset 8
        retq
        .cfi_endproc
        .size   func, .-func

# The CIE takes the first 0x18 bytes; the FDE's pc_begin (pc-relative,
# 4 bytes) is 8 bytes into the FDE, and its pc_range is the function's size.
# jitlink-check: *{4}(section_addr(eh-frame.o, .eh_frame) + 0x20) = \
# jitlink-check:     (func - (section_addr(eh-frame.o, .eh_frame) + 0x20))[31:0]
# jitlink-check: *{4}(section_addr(eh-frame.o, .eh_frame) + 0x24) = 3
# The CIE pointer of the FDE points back to the CIE.
# jitlink-check: *{4}(section_addr(eh-frame.o, .eh_frame) + 0x1c) = 0x1c
# The terminator after the section's 0x30 bytes.
# jitlink-check: *{4}(section_addr(eh-frame.o, .eh_frame) + 0x30) = 0
