# COFF x86-64 sections and symbols: segments from --target-addr-start,
# sections by name (COFF's `$` suffixes included), __ImageBase, COMDAT
# (the first copy of a `discard` group wins), commons, and a second module.
#
# rivet-check-args: --triple x86_64-pc-windows-msvc
# rivet-check-args: --target-addr-start 0x140000000
# rivet-check-args: Inputs/helper.s
# The addresses below are those of rivet's own layout (each module's
# segments in class order: text, stubs, GOT, read-only data, data).
# rivet-check-args: --layout rivet

        .text
        .globl  main
        .p2align 4
main:
# jitlink-check: main = 0x140000000
# jitlink-check: section_addr(sections-symbols.o, .text) = main
# A call to the other module, and to the COMDAT function: this module's
# copy (the first) is the one every module binds to.
# jitlink-check: decode_operand(call_helper, 0) = helper - next_pc(call_helper)
# jitlink-check: decode_operand(call_inline, 0) = inline_func - next_pc(call_inline)
# jitlink-check: inline_func = section_addr(sections-symbols.o, .text$inline_func)
# jitlink-check: *{1}inline_func = 0xb8
# jitlink-check: *{4}(inline_func + 1) = 1
call_helper:
        callq   helper
call_inline:
        callq   inline_func
        retq

        .section .text$inline_func,"xr",discard,inline_func
        .globl  inline_func
inline_func:
        movl    $1, %eax
        retq

# __ImageBase is the module's lowest address; ADDR32NB counts from it.
# jitlink-check: *{8}image_base = 0x140000000
# jitlink-check: *{4}rva_shared = shared - 0x140000000
        .data
        .p2align 3
image_base:
        .quad   __ImageBase
rva_shared:
        .rva    shared
        .long   0
# Commons: storage in this module's data, after its sections. COFF keeps
# no alignment for them: a 32-byte block gets min(32, its size rounded up
# to a power of two).
        .comm   common_block, 32, 4
# jitlink-check: common_block[4:0] = 0
# jitlink-check: common_block - image_base = 0x20
# jitlink-check: *{8}shared = 0x5348415245440000
