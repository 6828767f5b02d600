# The last values Mach-O x86-64 fixups accept (the overflow-*.s files next
# to this one hold the first each rejects). __text is pinned at 0x10000,
# __data at 0x80010004, __const at 0x100010003 and the GOT at 0x80010028.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15
# rivet-check-args: --map-section overflow-limits.o,__text=0x10000
# rivet-check-args: --map-section overflow-limits.o,__data=0x80010004
# rivet-check-args: --map-section overflow-limits.o,__const=0x100010003
# rivet-check-args: --map-section overflow-limits.o,[got]=0x80010028
# rivet-check-args: --dummy-extern _signed_max=0x80010015
# rivet-check-args: --dummy-extern _got_target=0x1234 --dummy-extern _abs32_max=0xffffffff

        .section __TEXT,__text,regular,pure_instructions
# BRANCH to a symbol of this object (no stub): 0x7fffffff past next_pc.
# jitlink-check: decode_operand(call_max, 0) = 0x7fffffff
        .globl  _main
_main:
call_max:
        callq   _branch_target

# SIGNED: S - next_pc = 0x7fffffff.
# jitlink-check: decode_operand(signed_max, 4) = 0x7fffffff
        .org    0x10
signed_max:
        movl    _signed_max(%rip), %eax

# GOT_LOAD: slot - next_pc = 0x80010028 - 0x10029.
# jitlink-check: got_addr(overflow-limits.o, _got_target) = 0x80010028
# jitlink-check: decode_operand(got_max, 4) = 0x7fffffff
        .org    0x22
got_max:
        movq    _got_target@GOTPCREL(%rip), %rax

        .section __DATA,__data
        .globl  _branch_target
_branch_target:
        .long   0
# SUBTRACTOR + UNSIGNED, 4 bytes (sign-extended): _hi - _branch_target.
# jitlink-check: *{4}diff32 = 0x7fffffff
diff32:
        .long   _hi - _branch_target
# UNSIGNED, 4 bytes (zero-extended): 0xffffffff.
# jitlink-check: *{4}abs32 = 0xffffffff
abs32:
        .long   _abs32_max

        .section __TEXT,__const
        .globl  _hi
_hi:
        .byte   0
.subsections_via_symbols
