# GOT accesses relaxed as JITLink and lld do (x86-64 psABI, "Optimize GOTPCRELX
# Relocations"): for R_X86_64_GOTPCRELX and R_X86_64_REX_GOTPCRELX of a
# symbol defined in the link (this module or another one linked with it),
# once the final addresses are known and the target is within ±2 GiB,
#   movq foo@GOTPCREL(%rip), %reg  ->  leaq foo(%rip), %reg
#   call *foo@GOTPCREL(%rip)        ->  addr32 call foo     (67 e8 rel32)
#   jmp  *foo@GOTPCREL(%rip)        ->  jmp foo; nop        (e9 rel32 90)
# The slot stays (planned before the addresses were known) and holds foo.
# Plain R_X86_64_GOTPCREL is never relaxed, nor a target out of reach, nor
# one the link does not define.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: Inputs/relax-near.s Inputs/relax-far.s
# rivet-check-args: --map-section relax-far.o,.text=0x200000000
# rivet-check-args: --dummy-extern ext_fn=0x2000

        .text
        .globl  main
        .type   main,@function
main:
# A load of this module's own symbol: the mov (8b) became a lea (8d).
# jitlink-check: *{1}(mov_own + 1) = 0x8d
# jitlink-check: decode_operand(mov_own, 4) = local_fn - next_pc(mov_own)
# jitlink-check: *{8}got_addr(relax-got.o, local_fn) = local_fn
mov_own:
        movq    local_fn@GOTPCREL(%rip), %rax

# A load of another module's symbol, also relaxed (its address is final
# when this module's fixups are applied).
# jitlink-check: *{1}(mov_other + 1) = 0x8d
# jitlink-check: decode_operand(mov_other, 4) = near_data - next_pc(mov_other)
mov_other:
        movq    near_data@GOTPCREL(%rip), %rcx

# Without a REX prefix (R_X86_64_GOTPCRELX): movl -> leal.
# jitlink-check: *{1}movl_other = 0x8d
# jitlink-check: decode_operand(movl_other, 4) = near_data - next_pc(movl_other)
movl_other:
        movl    near_data@GOTPCREL(%rip), %edx

# call *near_fn@GOTPCREL(%rip) (ff 15) -> addr32 call near_fn (67 e8), the
# same six bytes, the displacement from their end.
# jitlink-check: *{2}call_other = 0xe867
# jitlink-check: *{4}(call_other + 2) = (near_fn - (call_other + 6))[31:0]
# jitlink-check: next_pc(call_other) = call_other + 6
call_other:
        call    *near_fn@GOTPCREL(%rip)

# call through the GOT to this module's own function.
# jitlink-check: *{2}call_own = 0xe867
# jitlink-check: *{4}(call_own + 2) = (local_fn - (call_own + 6))[31:0]
call_own:
        call    *local_fn@GOTPCREL(%rip)

# jmp *near_fn@GOTPCREL(%rip) (ff 25) -> jmp near_fn; nop (e9 rel32 90):
# the displacement starts one byte earlier and counts from the jmp's end.
# jitlink-check: *{1}jmp_other = 0xe9
# jitlink-check: *{4}(jmp_other + 1) = (near_fn - (jmp_other + 5))[31:0]
# jitlink-check: *{1}(jmp_other + 5) = 0x90
# jitlink-check: decode_operand(jmp_other, 0) = near_fn - next_pc(jmp_other)
jmp_other:
        jmp     *near_fn@GOTPCREL(%rip)

# Plain R_X86_64_GOTPCREL asks for no relaxation: the mov stays and reads
# the slot.
# jitlink-check: *{1}(gotpcrel + 1) = 0x8b
# jitlink-check: decode_operand(gotpcrel, 4) = got_addr(relax-got.o, near_data) - next_pc(gotpcrel)
# jitlink-check: *{8}got_addr(relax-got.o, near_data) = near_data
gotpcrel:
        .reloc  gotpcrel+3, R_X86_64_GOTPCREL, near_data-4
        movq    0(%rip), %rax

# Out of reach (far_fn is 8 GiB away): the call and the load go through the
# slot, which holds far_fn.
# jitlink-check: *{2}call_far = 0x15ff
# jitlink-check: decode_operand(call_far, 3) = got_addr(relax-got.o, far_fn) - next_pc(call_far)
# jitlink-check: *{8}got_addr(relax-got.o, far_fn) = far_fn
# jitlink-check: *{1}(mov_far + 1) = 0x8b
# jitlink-check: decode_operand(mov_far, 4) = got_addr(relax-got.o, far_fn) - next_pc(mov_far)
call_far:
        call    *far_fn@GOTPCREL(%rip)
mov_far:
        movq    far_fn@GOTPCREL(%rip), %rax

# Not defined in the link (a symbol of the process, say, bound to a slot
# that is its one patch point): not relaxed, even in reach.
# jitlink-check: *{2}call_ext = 0x15ff
# jitlink-check: decode_operand(call_ext, 3) = got_addr(relax-got.o, ext_fn) - next_pc(call_ext)
# jitlink-check: *{8}got_addr(relax-got.o, ext_fn) = ext_fn
call_ext:
        call    *ext_fn@GOTPCREL(%rip)
        retq
        .size   main, .-main

        .globl  local_fn
        .type   local_fn,@function
local_fn:
        retq
        .size   local_fn, .-local_fn
