# Data relocations of ELF x86-64: every absolute, PC-relative and size
# fixup written into data, and R_X86_64_NONE, which changes nothing.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --dummy-extern ext=0x123456789abc --dummy-extern small=0x7e
# rivet-check-args: --dummy-extern low=0x1234
# rivet-check-args: --map-section data-relocations.o,.rodata=0x10000
# rivet-check-args: --map-section data-relocations.o,.data=0x10010

        .text
        .globl  func
        .type   func,@function
func:
        retq
        .size   func, .-func

        .section .rodata,"a",@progbits
        .globl  near
near:
        .quad   0x4444444444444444
        .quad   0x5555555555555555

        .data
# R_X86_64_PC64, PC32, PC16 and PC8: S + A - P, to targets in another
# section (within a section the assembler resolves them itself). .rodata
# is pinned just below .data so that the 8-bit one reaches.
# jitlink-check: *{1}pc8 = (near - pc8)[7:0]
# jitlink-check: *{2}pc16 = (near + 2 - pc16)[15:0]
# jitlink-check: *{4}pc32 = (near + 4 - pc32)[31:0]
# jitlink-check: *{8}pc64 = ext - pc64
# jitlink-check: *{4}pc32_func = (func + 12 - pc32_func)[31:0]
pc8:
        .byte   near - .
pc16:
        .short  near + 2 - .
pc32:
        .long   near + 4 - .
pc64:
        .quad   ext - .
pc32_func:
        .long   func + 12 - .

        .p2align 4
        .globl  object
        .type   object,@object
object:
        .quad   0x1111111111111111
        .quad   0x2222222222222222
        .quad   0x3333333333333333
        .size   object, 24

# R_X86_64_64 against a local function, an external and a symbol + addend.
# jitlink-check: *{8}abs64_func = func
# jitlink-check: *{8}abs64_ext = ext
# jitlink-check: *{8}abs64_addend = object + 0x10
abs64_func:
        .quad   func
abs64_ext:
        .quad   ext
abs64_addend:
        .quad   object + 16

# R_X86_64_32 (zero-extended) and R_X86_64_32S (sign-extended).
# jitlink-check: *{4}abs32 = object + 8
# jitlink-check: *{4}abs32s = object - 8
# jitlink-check: *{4}abs32_ext = low
abs32:
        .long   object + 8
abs32s:
        .reloc  ., R_X86_64_32S, object - 8
        .long   0
abs32_ext:
        .long   low

# R_X86_64_16 and R_X86_64_8.
# jitlink-check: *{2}abs16 = low + 2
# jitlink-check: *{1}abs8 = small + 1
abs16:
        .short  low + 2
abs8:
        .byte   small + 1

# R_X86_64_SIZE64 and SIZE32: the symbol's size (Z) + A.
# jitlink-check: *{8}size64 = 24
# jitlink-check: *{4}size32 = 24 + 0x100
# jitlink-check: *{8}size64_func = 1
        .p2align 3
size64:
        .reloc  ., R_X86_64_SIZE64, object
        .quad   0
size32:
        .reloc  ., R_X86_64_SIZE32, object + 0x100
        .long   0
        .p2align 3
size64_func:
        .reloc  ., R_X86_64_SIZE64, func
        .quad   0

# R_X86_64_NONE is skipped: the bytes stay as assembled.
# jitlink-check: *{8}none = 0x0123456789abcdef
none:
        .reloc  ., R_X86_64_NONE, object
        .quad   0x0123456789abcdef
