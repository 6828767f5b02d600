# Mach-O x86-64 relocations: UNSIGNED (8 and 4 bytes, extern and not),
# SIGNED, SIGNED_1, SIGNED_2 and SIGNED_4 (extern and not), BRANCH,
# GOT_LOAD and GOT, and SUBTRACTOR pairs (8 and 4 bytes). Names are
# written as in the file, with their underscore.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15
# rivet-check-args: --dummy-extern _ext_func=0x5000 --dummy-extern _ext_data=0x6000

        .section __TEXT,__text,regular,pure_instructions
        .globl  _main
        .p2align 4
_main:
# BRANCH: to a function of this object (direct) and to an external (direct,
# with a stub reserved).
# rtdyld-check: decode_operand(call_local, 0) = _func - next_pc(call_local)
# rtdyld-check: decode_operand(call_ext, 0) = _ext_func - next_pc(call_ext)
# jitlink-check: stub_addr(relocations.o, _ext_func) = section_addr(relocations.o, [stubs])
call_local:
        callq   _func
call_ext:
        callq   _ext_func
# BRANCH to an assembler-local label of another section: not extern.
# rtdyld-check: decode_operand(call_section, 0) = section_addr(relocations.o, __text_cold) + 1 - next_pc(call_section)
call_section:
        callq   Lcold

# SIGNED, with 0, 1, 2 and 4 bytes of immediate after the displacement
# (SIGNED, SIGNED_1, SIGNED_2, SIGNED_4), to an extern symbol + addend.
# rtdyld-check: decode_operand(signed, 4) = _data + 4 - next_pc(signed)
# rtdyld-check: decode_operand(signed1, 3) = _data + 8 - next_pc(signed1)
# rtdyld-check: decode_operand(signed2, 3) = _data + 12 - next_pc(signed2)
# rtdyld-check: decode_operand(signed4, 3) = _data + 16 - next_pc(signed4)
signed:
        movl    _data+4(%rip), %eax
signed1:
        movb    $0x12, _data+8(%rip)
signed2:
        movw    $0x1234, _data+12(%rip)
signed4:
        movl    $0x12345678, _data+16(%rip)

# The same against an assembler-local label of another section: the
# relocation is not extern (it names the section), and its field holds the
# target's address in the object.
# rtdyld-check: decode_operand(signed_local, 4) = section_addr(relocations.o, __const) + 8 - next_pc(signed_local)
# rtdyld-check: decode_operand(signed1_local, 3) = section_addr(relocations.o, __const) + 4 - next_pc(signed1_local)
# rtdyld-check: decode_operand(signed4_local, 3) = section_addr(relocations.o, __const) + 12 - next_pc(signed4_local)
signed_local:
        movl    Lconst+8(%rip), %eax
signed1_local:
        movb    $1, Lconst+4(%rip)
signed4_local:
        movl    $2, Lconst+12(%rip)

# GOT_LOAD (movq) and GOT (any other use): one slot for the target.
# jitlink-check: *{8}got_addr(relocations.o, _ext_data) = _ext_data
# jitlink-check: decode_operand(got_load, 4) = got_addr(relocations.o, _ext_data) - next_pc(got_load)
# jitlink-check: decode_operand(got_other, 5) = got_addr(relocations.o, _ext_data) - next_pc(got_other)
# Under rtdyld-check, stub_addr names the GOT slot (RuntimeDyld's view).
# rtdyld-check: stub_addr(relocations.o/__text, _ext_data) = got_addr(relocations.o, _ext_data)
# (and in the older three-argument form of RuntimeDyld's tests)
# rtdyld-check: decode_operand(got_load, 4) = stub_addr(relocations.o, __text, _ext_data) - next_pc(got_load)
got_load:
        movq    _ext_data@GOTPCREL(%rip), %rax
got_other:
        addq    _ext_data@GOTPCREL(%rip), %rax
        retq

        .globl  _func
_func:
        retq

        .section __TEXT,__text_cold,regular,pure_instructions
        nop
Lcold:
        retq

        .section __TEXT,__const
        .p2align 4
Lconst:
        .quad   0, 0

        .section __DATA,__data
        .p2align 4
        .globl  _data
_data:
        .space  32
# UNSIGNED, 8 and 4 bytes, extern (with an addend) and not.
# rtdyld-check: *{8}ptr64 = _func
# rtdyld-check: *{8}ptr64_ext = _ext_func + 3
# rtdyld-check: *{4}ptr32 = _data + 8
# rtdyld-check: *{8}ptr64_local = section_addr(relocations.o, __const) + 8
        .globl  ptr64
ptr64:
        .quad   _func
ptr64_ext:
        .quad   _ext_func + 3
ptr32:
        .long   _data + 8
        .long   0
ptr64_local:
        .quad   Lconst + 8

# SUBTRACTOR + UNSIGNED: A - B + addend, 8 and 4 bytes; named and local.
# rtdyld-check: *{8}diff64 = _func - _main + 4
# rtdyld-check: *{4}diff32 = (_data - _func)[31:0]
# rtdyld-check: *{8}diff_local = section_addr(relocations.o, __const) + 8 - _data
diff64:
        .quad   _func - _main + 4
diff32:
        .long   _data - _func
        .long   0
diff_local:
        .quad   Lconst + 8 - _data

.subsections_via_symbols
