# COFF x86-64 relocations: ADDR64, ADDR32, ADDR32NB (image-relative),
# REL32 (RIP-relative data, with the assembler's implicit addends),
# REL32 at a call or jump site (a branch, which may use a stub), SECTION
# and SECREL.
#
# rivet-check-args: --triple x86_64-pc-windows-msvc
# rivet-check-args: --dummy-extern ext_func=0x5000 --dummy-extern low=0x1234

        .text
        .globl  main
        .p2align 4
main:
# Calls and jumps: REL32 after e8/e9/0f 8x is a branch.
# rtdyld-check: decode_operand(call_local, 0) = func - next_pc(call_local)
# rtdyld-check: decode_operand(call_ext, 0) = ext_func - next_pc(call_ext)
# rtdyld-check: decode_operand(jump_ext, 0) = ext_func - next_pc(jump_ext)
# rtdyld-check: decode_operand(jcc_ext, 0) = ext_func - next_pc(jcc_ext)
# jitlink-check: stub_addr(relocations.o, ext_func) = section_addr(relocations.o, [stubs])
call_local:
        callq   func
call_ext:
        callq   ext_func
jump_ext:
        jmp     ext_func
jcc_ext:
        jne     ext_func

# RIP-relative data: REL32, the assembler keeping -4 - (immediate bytes)
# in the field.
# rtdyld-check: decode_operand(load, 4) = data + 8 - next_pc(load)
# rtdyld-check: decode_operand(store1, 3) = data + 16 - next_pc(store1)
# rtdyld-check: decode_operand(store2, 3) = data + 18 - next_pc(store2)
# rtdyld-check: decode_operand(store4, 3) = data + 20 - next_pc(store4)
load:
        movq    data+8(%rip), %rax
store1:
        movb    $1, data+16(%rip)
store2:
        movw    $2, data+18(%rip)
store4:
        movl    $4, data+20(%rip)
        retq

        .globl  func
func:
        retq

        .data
        .p2align 4
        .globl  data
data:
        .quad   0, 0, 0
# ADDR64 and ADDR32.
# rtdyld-check: *{8}addr64 = func
# rtdyld-check: *{8}addr64_addend = data + 0x10
# rtdyld-check: *{4}addr32 = low
addr64:
        .quad   func
addr64_addend:
        .quad   data + 16
addr32:
        .long   low
# ADDR32NB: the target's offset from the image base, which is the lowest
# address of the module (its text here).
# rtdyld-check: *{4}addr32nb = func - section_addr(relocations.o, .text)
# rtdyld-check: *{4}addr32nb_data = data + 8 - section_addr(relocations.o, .text)
addr32nb:
        .rva    func
addr32nb_data:
        .rva    data + 8
# SECTION: the target's section number (.text is section 1); SECREL: its
# offset in its section.
# rtdyld-check: *{2}secidx = 1
# rtdyld-check: *{4}secrel = func - section_addr(relocations.o, .text)
# rtdyld-check: *{4}secrel_data = 8
secidx:
        .secidx func
secrel:
        .secrel32 func
secrel_data:
        .secrel32 data + 8
