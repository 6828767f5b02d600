# COFF x86-64 stubs and import pointers: a call, jump or jcc (REL32 at a
# branch site) to an external out of reach goes through a stub; `__imp_X`
# is a pointer slot, in the module's GOT, holding X's address (what a DLL
# import table would hold), as RuntimeDyld's COFF test checks it.
#
# rivet-check-args: --triple x86_64-pc-windows-msvc
# rivet-check-args: --dummy-extern far_func=0x7f0000001230
# rivet-check-args: --dummy-extern external_func=0x1 --dummy-extern external_data=0x2

        .text
        .globl  main
        .p2align 4
main:
# jitlink-check: decode_operand(call_far, 0) = stub_addr(stubs-imports.o, far_func) - next_pc(call_far)
# jitlink-check: decode_operand(jump_far, 0) = stub_addr(stubs-imports.o, far_func) - next_pc(jump_far)
# jitlink-check: decode_operand(jcc_far, 0) = stub_addr(stubs-imports.o, far_func) - next_pc(jcc_far)
# jitlink-check: *{2}stub_addr(stubs-imports.o, far_func) = 0x25ff
# jitlink-check: *{4}(stub_addr(stubs-imports.o, far_func) + 2) = \
# jitlink-check:     (got_addr(stubs-imports.o, far_func) - (stub_addr(stubs-imports.o, far_func) + 6))[31:0]
# jitlink-check: *{8}got_addr(stubs-imports.o, far_func) = far_func
call_far:
        callq   far_func
jump_far:
        jmp     far_func
jcc_far:
        jb      far_func

# Calls through import pointers: the operand is the slot; the slot holds
# the function. (These two lines are RuntimeDyld's own test.)
# rtdyld-check: decode_operand(call_to_dllimport, 3) = \
# rtdyld-check:   stub_addr(stubs-imports.o/.text, __imp_external_func) - \
# rtdyld-check:     next_pc(call_to_dllimport)
# rtdyld-check: *{8}(stub_addr(stubs-imports.o/.text, __imp_external_func)) = \
# rtdyld-check:   external_func
call_to_dllimport:
        callq   *__imp_external_func(%rip)

# Loads through import pointers, with got_addr naming the same slot.
# rtdyld-check: decode_operand(load_from_dllimport, 4) = \
# rtdyld-check:   stub_addr(stubs-imports.o/.text, __imp_external_data) - \
# rtdyld-check:     next_pc(load_from_dllimport)
# jitlink-check: *{8}got_addr(stubs-imports.o, __imp_external_data) = external_data
# jitlink-check: got_addr(stubs-imports.o, __imp_external_data) = stub_addr(stubs-imports.o, __imp_external_data)
load_from_dllimport:
        movq    __imp_external_data(%rip), %rax
        retq

# An import pointer for a function of this object holds its address.
# jitlink-check: *{8}got_addr(stubs-imports.o, __imp_main) = main
        .data
        .p2align 3
imp_main_use:
        .quad   __imp_main
# jitlink-check: *{8}imp_main_use = got_addr(stubs-imports.o, __imp_main)
