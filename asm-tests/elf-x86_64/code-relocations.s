# Code relocations of ELF x86-64: calls and jumps (PLT32), RIP-relative
# data (PC32), absolute immediates (32, 32S, 64), the GOT kinds (GOTPCREL,
# GOTPCRELX, REX_GOTPCRELX, GOT32, GOT64, GOTPLT64, GOTPC32, GOTPC64,
# GOTOFF64) and PLTOFF64.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --dummy-extern ext_func=0x5000 --dummy-extern ext_data=0x6000

        .text
        .globl  main
        .type   main,@function
main:
# A call and a jump to a (global) function of this object: direct.
# jitlink-check: decode_operand(call_local, 0) = local_func - next_pc(call_local)
# jitlink-check: decode_operand(jump_local, 0) = local_func - next_pc(jump_local)
call_local:
        callq   local_func
jump_local:
        jmp     local_func

# A call to an external that is within reach: direct, with a stub reserved
# all the same (a stub is reserved for every external branch target).
# jitlink-check: decode_operand(call_ext, 0) = ext_func - next_pc(call_ext)
# jitlink-check: stub_addr(code-relocations.o, ext_func) = section_addr(code-relocations.o, [stubs])
# jitlink-check: section_addr(code-relocations.o, [stubs])[3:0] = 0
call_ext:
        callq   ext_func@PLT

# RIP-relative data: R_X86_64_PC32 (operand 4 is the displacement).
# jitlink-check: decode_operand(load_pc32, 4) = data_word - next_pc(load_pc32)
# jitlink-check: decode_operand(store_pc32, 3) = data_word + 2 - next_pc(store_pc32)
load_pc32:
        movl    data_word(%rip), %eax
store_pc32:
        movb    $7, data_word+2(%rip)

# Absolute immediates: R_X86_64_32, R_X86_64_32S and R_X86_64_64.
# jitlink-check: decode_operand(imm32, 1) = data_word
# jitlink-check: decode_operand(imm32s, 4) = data_word + 4
# jitlink-check: decode_operand(imm64, 1) = ext_data
imm32:
        movl    $data_word, %eax
imm32s:
        movq    data_word+4, %rax
imm64:
        movabsq $ext_data, %rax

# GOT loads: one slot per target, shared by every kind that uses it.
# jitlink-check: *{8}got_addr(code-relocations.o, ext_data) = ext_data
# jitlink-check: decode_operand(gotpcrel, 4) = got_addr(code-relocations.o, ext_data) - next_pc(gotpcrel)
# jitlink-check: decode_operand(gotpcrelx, 4) = got_addr(code-relocations.o, ext_data) - next_pc(gotpcrelx)
# jitlink-check: decode_operand(rex_gotpcrelx, 4) = got_addr(code-relocations.o, ext_data) - next_pc(rex_gotpcrelx)
gotpcrel:
        .reloc  gotpcrel+3, R_X86_64_GOTPCREL, ext_data-4
        movq    0(%rip), %rax
gotpcrelx:
        .reloc  gotpcrelx+2, R_X86_64_GOTPCRELX, ext_data-4
        movl    0(%rip), %eax
rex_gotpcrelx:
        movq    ext_data@GOTPCREL(%rip), %rcx

# A GOT slot for a function of this object holds its address; the load
# itself (REX_GOTPCRELX, in reach) became `leaq local_func(%rip)`.
# jitlink-check: *{8}got_addr(code-relocations.o, local_func) = local_func
# jitlink-check: decode_operand(got_local, 4) = local_func - next_pc(got_local)
got_local:
        movq    local_func@GOTPCREL(%rip), %rax

# The GOT base: GOTPC32 (leaq _GLOBAL_OFFSET_TABLE_(%rip)) and GOTPC64.
# jitlink-check: decode_operand(gotpc32, 4) = section_addr(code-relocations.o, [got]) - next_pc(gotpc32)
# jitlink-check: decode_operand(gotpc64, 1) = section_addr(code-relocations.o, [got]) - gotpc64
gotpc32:
        leaq    _GLOBAL_OFFSET_TABLE_(%rip), %rbx
gotpc64:
        movabsq $_GLOBAL_OFFSET_TABLE_-gotpc64, %r11

# Slot offsets from the GOT base: GOT32, GOT64 and GOTPLT64 (G + A).
# jitlink-check: decode_operand(got32, 4) = got_addr(code-relocations.o, ext_data) - section_addr(code-relocations.o, [got])
# jitlink-check: decode_operand(got64, 1) = got_addr(code-relocations.o, ext_data) - section_addr(code-relocations.o, [got])
# jitlink-check: decode_operand(gotplt64, 1) = got_addr(code-relocations.o, ext_func) - section_addr(code-relocations.o, [got]) + 8
got32:
        movq    ext_data@GOT(%rbx), %rax
got64:
        movabsq $ext_data@GOT, %rax
gotplt64:
        .reloc  gotplt64+2, R_X86_64_GOTPLT64, ext_func+8
        movabsq $0, %rax

# Offsets from the GOT base: GOTOFF64 (S + A - GOT) and PLTOFF64 (the
# target itself, a 64-bit field needing no PLT).
# jitlink-check: decode_operand(gotoff64, 1) = data_word + 16 - section_addr(code-relocations.o, [got])
# jitlink-check: decode_operand(pltoff64, 1) = ext_func - section_addr(code-relocations.o, [got])
gotoff64:
        movabsq $data_word+16@GOTOFF, %rax
pltoff64:
        movabsq $ext_func@PLTOFF, %rax
        retq
        .size   main, .-main

        .globl  local_func
        .type   local_func,@function
local_func:
        retq
        .size   local_func, .-local_func

        .data
        .p2align 3
data_word:
        .quad   0
        .quad   0
        .quad   0
