# The last values COFF x86-64 fixups accept (the overflow-*.s files next
# to this one hold the first each rejects). .text is pinned at 0x10000
# (the image base: the module has no other segment below it) and .data at
# 0x80010004. (SECTION cannot reach its limit from assembly: the
# assembler leaves its field, the implicit addend, 0; the integration test
# patches an object for it.)
#
# rivet-check-args: --triple x86_64-pc-windows-msvc
# rivet-check-args: --map-section overflow-limits.o,.text=0x10000
# rivet-check-args: --map-section overflow-limits.o,.data=0x80010004
# rivet-check-args: --dummy-extern rel32_max_t=0x80010015
# rivet-check-args: --dummy-extern addr32_max=0xffffffff --dummy-extern rva_max_t=0x10000ffff

        .text
# REL32 at a call site to a symbol of this object (no stub): 0x7fffffff.
# jitlink-check: decode_operand(call_max, 0) = 0x7fffffff
call_max:
        callq   branch_target
# REL32 in a RIP-relative load: 0x7fffffff.
# jitlink-check: decode_operand(rel32_max, 4) = 0x7fffffff
        .p2align 4
rel32_max:
        movl    rel32_max_t(%rip), %eax

        .data
        .globl  branch_target
branch_target:
        .long   0
# ADDR32: zero-extended, up to 0xffffffff.
# jitlink-check: *{4}addr32 = 0xffffffff
addr32:
        .long   addr32_max
# ADDR32NB: S - image base, up to 0xffffffff.
# jitlink-check: *{4}addr32nb = 0xffffffff
addr32nb:
        .rva    rva_max_t
# SECREL: at its minimum, 0 (the start of its section).
# jitlink-check: *{4}secrel = 0
secrel:
        .secrel32 branch_target
