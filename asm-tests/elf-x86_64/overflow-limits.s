# The last value each range-checked fixup accepts (the overflow-*.s files
# next to this one hold the first value each rejects). .text is pinned at
# 0x10000, .data at 0x20000 and the GOT at 0x80020078, and every field sits
# at a fixed offset (.org), so each place P is known.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-limits.o,.text=0x10000
# rivet-check-args: --map-section overflow-limits.o,.data=0x20000
# rivet-check-args: --map-section overflow-limits.o,[got]=0x80020078
# rivet-check-args: --map-section overflow-limits.o,.rodata=0x80030000
# rivet-check-args: --dummy-extern zero=0
# rivet-check-args: --dummy-extern abs32_max=0xffffffff --dummy-extern abs32s_max=0x7fffffff
# rivet-check-args: --dummy-extern abs16_max=0xffff --dummy-extern abs8_max=0xff
# rivet-check-args: --dummy-extern pc32_max=0x80020037 --dummy-extern pc32_min=0x30000
# rivet-check-args: --dummy-extern pc16_max=0x2803f --dummy-extern pc16_min=0x18048
# rivet-check-args: --dummy-extern pc8_max=0x200cf --dummy-extern pc8_min=0x1ffd8
# rivet-check-args: --dummy-extern got32_target=0x1234 --dummy-extern gotpcrel_target=0x5678

        .text
# R_X86_64_PLT32 to a symbol of this object (so no stub): next_pc is
# 0x10005, and branch_max is 0x7fffffff bytes after it.
# jitlink-check: decode_operand(call_max, 0) = 0x7fffffff
# jitlink-check: next_pc(call_max) = 0x10005
        .globl  branch_max
        .set    branch_max, 0x80010004
call_max:
        callq   branch_max@PLT

        .data
# R_X86_64_32: zero-extended, at most 0xffffffff.
# jitlink-check: *{4}abs32 = 0xffffffff
        .org    0x00
abs32:  .long   abs32_max

# R_X86_64_32S: sign-extended, 0x7fffffff and -0x80000000.
# jitlink-check: *{4}abs32s = 0x7fffffff
# jitlink-check: *{4}abs32s_low = 0x80000000
        .org    0x08
abs32s:
        .reloc  ., R_X86_64_32S, abs32s_max
        .long   0
        .org    0x10
abs32s_low:
        .reloc  ., R_X86_64_32S, zero - 0x80000000
        .long   0

# R_X86_64_16 and R_X86_64_8 take either extension: 0xffff down to -0x8000,
# 0xff down to -0x80.
# jitlink-check: *{2}abs16 = 0xffff
# jitlink-check: *{2}abs16_low = 0x8000
# jitlink-check: *{1}abs8 = 0xff
# jitlink-check: *{1}abs8_low = 0x80
        .org    0x18
abs16:  .short  abs16_max
        .org    0x20
abs16_low:
        .short  zero - 0x8000
        .org    0x28
abs8:   .byte   abs8_max
        .org    0x30
abs8_low:
        .byte   zero - 0x80

# R_X86_64_PC32, PC16 and PC8: signed, S - P at the limits.
# jitlink-check: *{4}pc32 = 0x7fffffff
# jitlink-check: *{2}pc16 = 0x7fff
# jitlink-check: *{2}pc16_low = 0x8000
# jitlink-check: *{1}pc8 = 0x7f
# jitlink-check: *{1}pc8_low = 0x80
        .org    0x38
pc32:   .long   pc32_max - .
        .org    0x40
pc16:   .short  pc16_max - .
        .org    0x48
pc16_low:
        .short  pc16_min - .
        .org    0x50
pc8:    .byte   pc8_max - .
        .org    0x58
pc8_low:
        .byte   pc8_min - .

# R_X86_64_GOT32: G + A, signed; got32_target has the first GOT slot (G = 0).
# jitlink-check: got_addr(overflow-limits.o, got32_target) = 0x80020078
# jitlink-check: *{4}got32 = 0x7fffffff
        .org    0x60
got32:
        .reloc  ., R_X86_64_GOT32, got32_target + 0x7fffffff
        .long   0

# R_X86_64_SIZE32: Z + A, zero-extended; `sized` is 8 bytes.
# jitlink-check: *{4}size32 = 0xffffffff
        .org    0x68
size32:
        .reloc  ., R_X86_64_SIZE32, sized + 0xfffffff7
        .long   0

# R_X86_64_DTPOFF32: the offset in the TLS block (0 here) + A, signed.
# jitlink-check: *{4}dtpoff32 = 0x7fffffff
        .org    0x70
dtpoff32:
        .reloc  ., R_X86_64_DTPOFF32, tls_var + 0x7fffffff
        .long   0

# R_X86_64_GOTPC32: GOT + A - P = 0x80020078 - 1 - 0x20078.
# jitlink-check: *{4}gotpc32 = 0x7fffffff
        .org    0x78
gotpc32:
        .reloc  ., R_X86_64_GOTPC32, _GLOBAL_OFFSET_TABLE_ - 1
        .long   0

# R_X86_64_GOTPCREL: the second slot (0x80020080) - 4 - P, P = 0x2007d.
# jitlink-check: got_addr(overflow-limits.o, gotpcrel_target) = 0x80020080
# jitlink-check: *{4}gotpcrel = 0x7fffffff
        .org    0x7d
gotpcrel:
        .reloc  ., R_X86_64_GOTPCREL, gotpcrel_target - 4
        .long   0

# R_X86_64_PC32 at its minimum, from the read-only data pinned high:
# S - P = 0x30000 - 0x80030000 = -0x80000000.
# jitlink-check: *{4}pc32_low = 0x80000000
        .section .rodata,"a",@progbits
pc32_low:
        .long   pc32_min - .

        .data
        .p2align 3
        .globl  sized
        .type   sized,@object
sized:
        .quad   0
        .size   sized, 8

        .section .tdata,"awT",@progbits
        .globl  tls_var
tls_var:
        .quad   1
