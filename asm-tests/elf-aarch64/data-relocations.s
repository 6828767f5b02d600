# Data relocations of ELF AArch64: ABS64/32/16, PREL64/32/16, GOTPCREL32,
# and R_AARCH64_NONE, which changes nothing.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section data-relocations.o,.rodata=0x20000
# rivet-check-args: --map-section data-relocations.o,.data=0x20100
# rivet-check-args: --dummy-extern ext=0x123456789abc --dummy-extern low=0x1234

        .text
        .globl  func
        .p2align 2
func:
        ret

        .section .rodata,"a",@progbits
        .p2align 3
        .globl  near
near:
        .quad   0x4444444444444444

        .data
        .p2align 3
# R_AARCH64_ABS64, ABS32 and ABS16.
# jitlink-check: *{8}abs64 = func
# jitlink-check: *{8}abs64_ext = ext + 5
# jitlink-check: *{4}abs32 = near + 4
# jitlink-check: *{2}abs16 = low
abs64:
        .xword  func
abs64_ext:
        .xword  ext + 5
abs32:
        .word   near + 4
abs16:
        .hword  low

# R_AARCH64_PREL64, PREL32 and PREL16: S + A - P.
# jitlink-check: *{8}prel64 = ext - prel64
# jitlink-check: *{4}prel32 = (near - prel32)[31:0]
# jitlink-check: *{2}prel16 = (near + 2 - prel16)[15:0]
        .p2align 3
prel64:
        .xword  ext - .
prel32:
        .word   near - .
prel16:
        .hword  near + 2 - .

# R_AARCH64_GOTPCREL32: the GOT slot's address - P.
# jitlink-check: *{8}got_addr(data-relocations.o, ext) = ext
# jitlink-check: *{4}gotpcrel32 = (got_addr(data-relocations.o, ext) - gotpcrel32)[31:0]
        .p2align 2
gotpcrel32:
        .reloc  ., R_AARCH64_GOTPCREL32, ext
        .word   0

# R_AARCH64_NONE is skipped. (Its withdrawn code 256, which the loader
# treats the same, cannot be written with the assembler's .reloc.)
# jitlink-check: *{4}none = 0x11223344
none:
        .reloc  ., R_AARCH64_NONE, near
        .word   0x11223344
