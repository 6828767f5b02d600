# Data relocations of ELF RISC-V 64: 64 and 32 (S + A), 32_PCREL
# (S + A - P), the label differences the assembler leaves to the linker
# when code may be relaxed (ADD8/16/32/64 with SUB8/16/32/64 at one place,
# SET_ULEB128 with SUB_ULEB128), and SET6/SUB6/SET8/SET16/SET32 (what DWARF
# call frame programs use), written with .reloc.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section data-relocations.o,.text=0x10000
# rivet-check-args: --map-section data-relocations.o,.data=0x20000
# rivet-check-args: --map-section data-relocations.o,.rodata=0x30000
# rivet-check-args: --dummy-extern ext=0x12345678 --dummy-extern big=0xfedcba9876543210

        .option relax
        .text
        .globl  main
main:
        call    ext
        nop
after_call:
        ret
end_of_code:

        .data
# jitlink-check: *{8}abs64 = big
# jitlink-check: *{8}abs64_addend = big + 0x10
# jitlink-check: *{4}abs32 = ext
# jitlink-check: *{4}abs32_addend = ext - 8
abs64:
        .quad   big
abs64_addend:
        .quad   big + 0x10
abs32:
        .word   ext
abs32_addend:
        .word   ext - 8

# 32_PCREL: S + A - P, here to a constant in .rodata, 0x10000 bytes away,
# and back to the code. (The assembler writes `konst - .` as an ADD32/SUB32
# pair when relaxation is on, and LLVM uses 32_PCREL in .eh_frame; .reloc
# writes the type itself.)
# jitlink-check: *{4}pcrel32 = (konst - pcrel32)[31:0]
# jitlink-check: *{4}pcrel32_back = (main + 4 - pcrel32_back)[31:0]
pcrel32:
        .reloc  ., R_RISCV_32_PCREL, konst
        .word   0
pcrel32_back:
        .reloc  ., R_RISCV_32_PCREL, main + 4
        .word   0
# The same difference as an ADD32/SUB32 pair.
# jitlink-check: *{4}pcrel32_pair = (konst - pcrel32_pair)[31:0]
pcrel32_pair:
        .word   konst - .

# Differences of code labels: ADDn of the first label and SUBn of the
# second at the same place, modulo the field.
# jitlink-check: *{8}diff64 = end_of_code - main
# jitlink-check: *{4}diff32 = after_call - main
# jitlink-check: *{2}diff16 = end_of_code - main
# jitlink-check: *{1}diff8 = end_of_code - main
# jitlink-check: *{4}diff32_neg = (main - end_of_code)[31:0]
diff64:
        .quad   end_of_code - main
diff32:
        .word   after_call - main
diff16:
        .half   end_of_code - main
diff8:
        .byte   end_of_code - main
        .p2align 2
diff32_neg:
        .word   main - end_of_code

# ULEB128 differences: SET_ULEB128 then SUB_ULEB128 at one place; the
# value keeps the length the assembler gave it (here one byte, and a
# two-byte one padded with a continuation byte).
# jitlink-check: *{1}uleb = end_of_code - main
# jitlink-check: *{1}uleb_after = 0x5a
# jitlink-check: *{2}uleb_padded = 0x80 | (end_of_code - after_call) | 0x0000
uleb:
        .uleb128 end_of_code - main
uleb_after:
        .byte   0x5a
uleb_padded:
        .reloc  ., R_RISCV_SET_ULEB128, end_of_code
        .reloc  ., R_RISCV_SUB_ULEB128, after_call
        .byte   0x80, 0x00

# SET6 and SUB6 keep the two high bits of the byte (a DW_CFA_advance_loc
# opcode); SET8/16/32 write S + A.
# jitlink-check: *{1}set6 = 0x40 | after_call[5:0]
# jitlink-check: *{1}sub6 = 0x40 | (0x3f - after_call)[5:0]
# jitlink-check: *{1}set8 = (after_call + 1)[7:0]
# jitlink-check: *{2}set16 = (after_call + 2)[15:0]
# jitlink-check: *{4}set32 = (after_call + 3)[31:0]
set6:
        .reloc  ., R_RISCV_SET6, after_call
        .byte   0x40
sub6:
        .reloc  ., R_RISCV_SUB6, after_call
        .byte   0x7f
set8:
        .reloc  ., R_RISCV_SET8, after_call + 1
        .byte   0
set16:
        .reloc  ., R_RISCV_SET16, after_call + 2
        .half   0
set32:
        .reloc  ., R_RISCV_SET32, after_call + 3
        .word   0

        .section .rodata,"a",@progbits
konst:
        .quad   42
