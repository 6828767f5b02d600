# GOT loads relaxed in Mach-O x86-64 as ld64 and JITLink do: a GOT_LOAD
# (the `movq` of a GOT slot) of a symbol defined in the link, in reach
# once the addresses are final, becomes a `leaq` of the symbol. A GOT
# reference of any other instruction (X86_64_RELOC_GOT: here a call
# through the slot) is left alone, as is a symbol the link does not define.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15
# rivet-check-args: --dummy-extern _ext_data=0x2000

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
_main:
# jitlink-check: *{1}(load_own + 1) = 0x8d
# jitlink-check: decode_operand(load_own, 4) = _local_data - next_pc(load_own)
# jitlink-check: *{8}got_addr(relax-got.o, _local_data) = _local_data
load_own:
        movq    _local_data@GOTPCREL(%rip), %rax

# X86_64_RELOC_GOT on a call: not a GOT_LOAD, so not relaxed.
# jitlink-check: *{2}call_own = 0x15ff
# jitlink-check: decode_operand(call_own, 3) = got_addr(relax-got.o, _helper) - next_pc(call_own)
# jitlink-check: *{8}got_addr(relax-got.o, _helper) = _helper
call_own:
        callq   *_helper@GOTPCREL(%rip)

# Not defined in the link: the load reads the slot.
# jitlink-check: *{1}(load_ext + 1) = 0x8b
# jitlink-check: decode_operand(load_ext, 4) = got_addr(relax-got.o, _ext_data) - next_pc(load_ext)
load_ext:
        movq    _ext_data@GOTPCREL(%rip), %rcx
        retq

        .globl  _helper
_helper:
        retq

        .section __DATA,__data
        .p2align 3
        .globl  _local_data
_local_data:
        .quad   1

.subsections_via_symbols
