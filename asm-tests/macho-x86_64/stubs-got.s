# Stubs and the GOT in Mach-O x86-64: a BRANCH to an external out of reach
# goes through a stub (jmp *slot(%rip)) that jumps through the target's GOT
# slot; GOT_LOAD and GOT references to one target share one slot; the GOT
# and stub areas are segments of the module.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15
# rivet-check-args: --dummy-extern _far_func=0x7f0000001230
# rivet-check-args: --dummy-extern _far_data=0x7f0000004560

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
_main:
# jitlink-check: decode_operand(call_far, 0) = stub_addr(stubs-got.o, _far_func) - next_pc(call_far)
# jitlink-check: decode_operand(jump_far, 0) = stub_addr(stubs-got.o, _far_func) - next_pc(jump_far)
# jitlink-check: *{2}stub_addr(stubs-got.o, _far_func) = 0x25ff
# jitlink-check: *{4}(stub_addr(stubs-got.o, _far_func) + 2) = \
# jitlink-check:     (got_addr(stubs-got.o, _far_func) - (stub_addr(stubs-got.o, _far_func) + 6))[31:0]
# jitlink-check: *{8}got_addr(stubs-got.o, _far_func) = _far_func
# jitlink-check: stub_addr(stubs-got.o, _far_func) = section_addr(stubs-got.o, [stubs])
call_far:
        callq   _far_func
jump_far:
        jmp     _far_func

# jitlink-check: *{8}got_addr(stubs-got.o, _far_data) = _far_data
# jitlink-check: decode_operand(load1, 4) = got_addr(stubs-got.o, _far_data) - next_pc(load1)
# jitlink-check: decode_operand(load2, 4) = got_addr(stubs-got.o, _far_data) - next_pc(load2)
load1:
        movq    _far_data@GOTPCREL(%rip), %rax
load2:
        movq    _far_data@GOTPCREL(%rip), %rcx
# A GOT slot for a function of this object holds its address.
# jitlink-check: *{8}got_addr(stubs-got.o, _main) = _main
# The three slots (the stub's among them) are the GOT's three (in some order).
# jitlink-check: got_addr(stubs-got.o, _far_func) + got_addr(stubs-got.o, _main) + \
# jitlink-check:     got_addr(stubs-got.o, _far_data) - section_addr(stubs-got.o, [got]) - \
# jitlink-check:     section_addr(stubs-got.o, [got]) - section_addr(stubs-got.o, [got]) = 24
load_main:
        movq    _main@GOTPCREL(%rip), %rdx
        retq

.subsections_via_symbols
