# RuntimeDyld's layout for Mach-O (rivet check --layout rtdyld, the default
# for files checked with rtdyld-check only): RuntimeDyld keeps a Mach-O
# module's GOT entries among the stubs of the section that uses them, so
# the text, its stubs and the GOT share the first block; then come the data
# sections in file order (__data before __const here), each on its own
# pages.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15
# rivet-check-args: --dummy-extern _ext_func=0x7f0000001230 --dummy-extern _ext_data=0x7f0000004560

# rtdyld-check: section_addr(layout-rtdyld.o, __text) = 0x1000
# rtdyld-check: _main = 0x1000
# rtdyld-check: section_addr(layout-rtdyld.o, __DATA,__data) = 0x2000
# rtdyld-check: section_addr(layout-rtdyld.o, __const) = 0x3000

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 4
_main:
# The stub and the GOT entry follow the text (20 bytes) on its page.
# rtdyld-check: decode_operand(call_ext, 0) = stub_addr(layout-rtdyld.o/__text, _ext_func) - next_pc(call_ext)
# rtdyld-check: (stub_addr(layout-rtdyld.o/__text, _ext_func) - 0x1014) >> 5 = 0
# rtdyld-check: stub_addr(layout-rtdyld.o/__text, _ext_data) >> 12 = 1
# rtdyld-check: decode_operand(load_got, 4) = stub_addr(layout-rtdyld.o/__text, _ext_data) - next_pc(load_got)
call_ext:
        callq   _ext_func
load_got:
        movq    _ext_data@GOTPCREL(%rip), %rcx
# __const is two pages above: 0x3000 - 0x1013.
# rtdyld-check: *{4}(load_const + 3) = 0x1fed
load_const:
        leaq    _answer(%rip), %rax
        retq

        .section __DATA,__data
        .p2align 3
        .globl  _var
_var:
        .quad   7

        .section __TEXT,__const
        .p2align 3
_answer:
        .quad   42

.subsections_via_symbols
