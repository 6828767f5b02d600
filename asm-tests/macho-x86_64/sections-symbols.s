# Mach-O x86-64 sections and symbols: section_addr by section name (with
# or without its segment), segments from --target-addr-start, zero-fill
# sections and commons, weak definitions, a second module, and names
# written with their underscore (rivet's model drops it; the checker maps).
#
# rivet-check-args: --triple x86_64-apple-macosx10.15
# rivet-check-args: --target-addr-start 0x100000000 --target-section-sep 0x10
# rivet-check-args: Inputs/helper.s
# The addresses below are those of rivet's own layout (each module's
# segments in class order: text, stubs, GOT, read-only data, data).
# rivet-check-args: --layout rivet

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 4
_main:
# jitlink-check: _main = 0x100000000
# jitlink-check: section_addr(sections-symbols.o, __text) = _main
# jitlink-check: section_addr(sections-symbols.o, __TEXT,__text) = _main
# A call to the other module and a load of its data through the GOT.
# jitlink-check: decode_operand(call_helper, 0) = _helper - next_pc(call_helper)
# jitlink-check: *{8}got_addr(sections-symbols.o, _shared) = _shared
call_helper:
        callq   _helper
        movq    _shared@GOTPCREL(%rip), %rax
        movq    _weak_value(%rip), %rcx
        retq

        .section __TEXT,__cstring,cstring_literals
Lhello:
        .asciz  "hello"
# jitlink-check: *{4}section_addr(sections-symbols.o, __cstring) = 0x6c6c6568

        .section __DATA,__data
        .p2align 3
        .globl  _first
_first:
        .quad   _first
# jitlink-check: *{8}_first = _first
# A weak definition that nothing overrides is this one.
        .globl  _weak_value
        .weak_definition _weak_value
_weak_value:
        .quad   11
# jitlink-check: *{8}_weak_value = 11

# Zero-fill and a common block (32-aligned) share the data segment, after
# __data.
        .zerofill __DATA,__bss,_zeroes,32,4
        .comm   _common_block, 64, 5
# jitlink-check: _zeroes = section_addr(sections-symbols.o, __bss)
# jitlink-check: _zeroes - _first = 16
# jitlink-check: _common_block[4:0] = 0
# jitlink-check: _common_block - _zeroes = 0x30

# The other module's data, reached from its code.
# jitlink-check: decode_operand(_helper, 4) = _shared - next_pc(_helper)
# jitlink-check: *{8}_shared = 0x5348415245440000
.subsections_via_symbols
