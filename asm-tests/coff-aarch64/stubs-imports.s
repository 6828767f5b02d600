# COFF arm64 veneers and import pointers: a bl or b (BRANCH26) to an
# external out of reach goes through a veneer (adrp x16, slot; ldr x16,
# [x16, :lo12:slot]; br x16) through the target's GOT slot; `__imp_X` is a pointer slot, in the module's GOT, holding X's
# address (what a DLL import table would hold), loaded with adrp + ldr.
# The address of a symbol defined outside the object, taken with adrp +
# add, comes from a GOT slot too: the add becomes a load of the slot.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --dummy-extern far_func=0x7f0000001230
# rivet-check-args: --dummy-extern external_func=0x7f0000004560 --dummy-extern external_data=0x2
# rivet-check-args: --dummy-extern far_var=0x7f0000008000

        .text
        .globl  main
        .p2align 2
main:
# jitlink-check: decode_operand(call_far, 0)[25:0] = (stub_addr(stubs-imports.o, far_func) - call_far)[27:2]
# jitlink-check: decode_operand(jump_far, 0)[25:0] = (stub_addr(stubs-imports.o, far_func) - jump_far)[27:2]
# jitlink-check: (*{4}stub_addr(stubs-imports.o, far_func)) & 0x9f00001f = 0x90000010
# jitlink-check: (*{4}stub_addr(stubs-imports.o, far_func))[30:29] = (got_addr(stubs-imports.o, far_func)[63:12] - stub_addr(stubs-imports.o, far_func)[63:12])[1:0]
# jitlink-check: (*{4}stub_addr(stubs-imports.o, far_func))[23:5] = (got_addr(stubs-imports.o, far_func)[63:12] - stub_addr(stubs-imports.o, far_func)[63:12])[20:2]
# jitlink-check: *{4}(stub_addr(stubs-imports.o, far_func) + 4) = 0xf9400210 | (got_addr(stubs-imports.o, far_func)[11:3] << 10)
# jitlink-check: *{4}(stub_addr(stubs-imports.o, far_func) + 8) = 0xd61f0200
# jitlink-check: *{8}got_addr(stubs-imports.o, far_func) = far_func
call_far:
        bl      far_func
jump_far:
        b       far_func

# A call through an import pointer: adrp + ldr of the slot, then blr.
# jitlink-check: *{8}got_addr(stubs-imports.o, __imp_external_func) = external_func
# jitlink-check: decode_operand(imp_page, 1) = \
# jitlink-check:     got_addr(stubs-imports.o, __imp_external_func)[63:12] - imp_page[63:12]
# jitlink-check: decode_operand(imp_load, 2) = got_addr(stubs-imports.o, __imp_external_func)[11:3]
imp_page:
        adrp    x16, __imp_external_func
imp_load:
        ldr     x16, [x16, :lo12:__imp_external_func]
        blr     x16

# A load through an import pointer for data.
# jitlink-check: *{8}got_addr(stubs-imports.o, __imp_external_data) = external_data
# jitlink-check: decode_operand(data_page, 1) = \
# jitlink-check:     got_addr(stubs-imports.o, __imp_external_data)[63:12] - data_page[63:12]
# jitlink-check: decode_operand(data_load, 2) = got_addr(stubs-imports.o, __imp_external_data)[11:3]
data_page:
        adrp    x1, __imp_external_data
data_load:
        ldr     x1, [x1, :lo12:__imp_external_data]
        ldr     x0, [x1]

# adrp + add of an external: page of its GOT slot, then ldr x5, [x5, #lo12].
# jitlink-check: *{8}got_addr(stubs-imports.o, far_var) = far_var
# jitlink-check: decode_operand(addr_page, 1) = \
# jitlink-check:     got_addr(stubs-imports.o, far_var)[63:12] - addr_page[63:12]
# jitlink-check: *{4}addr_add = 0xf94000a5 | (got_addr(stubs-imports.o, far_var)[11:3] << 10)
addr_page:
        adrp    x5, far_var
addr_add:
        add     x5, x5, :lo12:far_var
        ret

# An import pointer for a function of this object holds its address.
# jitlink-check: *{8}got_addr(stubs-imports.o, __imp_main) = main
        .data
        .p2align 3
imp_main_use:
        .quad   __imp_main
# jitlink-check: *{8}imp_main_use = got_addr(stubs-imports.o, __imp_main)
