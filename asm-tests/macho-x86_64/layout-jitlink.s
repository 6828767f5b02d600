# JITLink's layout for Mach-O (rivet check --layout jitlink, the default
# for files checked with jitlink-check only): JITLink maps every Mach-O
# section that is not code read-write, __const included, so the read-only
# segment holds only the GOT; then come the read-write sections in file
# order (__const, __data), then the text with the stubs, each segment on
# its own pages from the slab address.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15
# rivet-check-args: --slab-address 0x100000
# rivet-check-args: --dummy-extern _ext_func=0x7f0000001230 --dummy-extern _ext_data=0x7f0000004560

# jitlink-check: section_addr(layout-jitlink.o, [got]) = 0x100000
# jitlink-check: section_addr(layout-jitlink.o, __const) = 0x101000
# jitlink-check: section_addr(layout-jitlink.o, __DATA,__data) = 0x101008
# jitlink-check: section_addr(layout-jitlink.o, __text) = 0x102000
# jitlink-check: _main = 0x102000

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 4
_main:
# jitlink-check: decode_operand(call_ext, 0) = stub_addr(layout-jitlink.o, _ext_func) - next_pc(call_ext)
# jitlink-check: stub_addr(layout-jitlink.o, _ext_func) >> 12 = 0x102
call_ext:
        callq   _ext_func
# __const is a page below the text: 0x101000 - 0x10200c.
# jitlink-check: *{4}(load_const + 3) = 0xffffeff4
load_const:
        leaq    _answer(%rip), %rax
# The GOT slot is two pages below.
# jitlink-check: (*{4}(load_got + 3)) >> 12 = 0xffffd
load_got:
        movq    _ext_data@GOTPCREL(%rip), %rcx
        retq

        .section __TEXT,__const
        .p2align 3
_answer:
        .quad   42

        .section __DATA,__data
        .p2align 3
        .globl  _var
_var:
        .quad   7

.subsections_via_symbols
