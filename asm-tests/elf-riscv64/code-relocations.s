# Code relocations of ELF RISC-V 64: PC-relative pairs (PCREL_HI20 with
# PCREL_LO12_I and PCREL_LO12_S), absolute pairs (HI20 with LO12_I and
# LO12_S), the GOT pair (GOT_HI20 with its PCREL_LO12_I), calls (CALL_PLT:
# auipc + jalr), JAL, BRANCH, RVC_BRANCH and RVC_JUMP. Linker relaxation is
# on (`.option relax`), so the assembler adds RELAX next to each relaxable
# fixup and ALIGN before `.p2align` in code: rivet does not relax, leaves
# the code as it is and keeps the padding. Data sits at 0x12345000 + ...
# so that the high and low parts are not trivially 0; the `+ 0x800` of the
# high parts rounds for the low part's sign.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section code-relocations.o,.text=0x10000
# rivet-check-args: --map-section code-relocations.o,.data=0x12345670
# rivet-check-args: --dummy-extern ext_data=0xfedcba987650

        .option relax
        .text
        .globl  main
        .p2align 2
main:
# auipc takes (S + A - P + 0x800) >> 12, the low part the low 12 bits of
# the high part's S + A - P (its label's P, not its own).
# jitlink-check: decode_operand(pcrel_hi, 1) = (words - pcrel_hi + 0x800)[31:12]
# jitlink-check: decode_operand(pcrel_lo_i, 2)[11:0] = (words - pcrel_hi)[11:0]
# jitlink-check: decode_operand(pcrel_hi_neg, 1) = (words + 0x9a8 - pcrel_hi_neg + 0x800)[31:12]
# jitlink-check: decode_operand(pcrel_lo_neg, 2)[11:0] = (words + 0x9a8 - pcrel_hi_neg)[11:0]
# jitlink-check: decode_operand(pcrel_lo_s, 2)[11:0] = (words + 0x9a8 - pcrel_hi_neg)[11:0]
pcrel_hi:
        auipc   a0, %pcrel_hi(words)
pcrel_lo_i:
        addi    a0, a0, %pcrel_lo(pcrel_hi)
pcrel_hi_neg:
        auipc   a1, %pcrel_hi(words+0x9a8)
pcrel_lo_neg:
        ld      a2, %pcrel_lo(pcrel_hi_neg)(a1)
pcrel_lo_s:
        sd      a2, %pcrel_lo(pcrel_hi_neg)(a1)

# The low part may come before another instruction in between, and a
# floating-point load takes it as an integer one does.
# jitlink-check: decode_operand(pcrel_lo_fp, 2)[11:0] = (words + 8 - pcrel_hi_fp)[11:0]
pcrel_hi_fp:
        auipc   a3, %pcrel_hi(words+8)
        addi    a4, a4, 1
pcrel_lo_fp:
        fld     fa0, %pcrel_lo(pcrel_hi_fp)(a3)

# lui takes (S + A + 0x800) >> 12; the low parts the low 12 bits of S + A.
# jitlink-check: decode_operand(hi20, 1) = (words + 0x800)[31:12]
# jitlink-check: decode_operand(lo12_i, 2)[11:0] = words[11:0]
# jitlink-check: decode_operand(lo12_s, 2)[11:0] = (words + 0x10)[11:0]
hi20:
        lui     a0, %hi(words)
lo12_i:
        addi    a0, a0, %lo(words)
lo12_s:
        sw      a1, %lo(words+0x10)(a0)

# The GOT: auipc to the slot, ld from it; the slot holds the address.
# jitlink-check: *{8}got_addr(code-relocations.o, ext_data) = ext_data
# jitlink-check: decode_operand(got_hi, 1) = (got_addr(code-relocations.o, ext_data) - got_hi + 0x800)[31:12]
# jitlink-check: decode_operand(got_lo, 2)[11:0] = (got_addr(code-relocations.o, ext_data) - got_hi)[11:0]
got_hi:
        auipc   a0, %got_pcrel_hi(ext_data)
got_lo:
        ld      a0, %pcrel_lo(got_hi)(a0)

# call: auipc + jalr, CALL_PLT; within reach it goes to the function itself.
# jitlink-check: decode_operand(call_func, 1) = (func - call_func + 0x800)[31:12]
# jitlink-check: decode_operand(call_func + 4, 2)[11:0] = (func - call_func)[11:0]
call_func:
        call    func

# jal (±1 MiB), a conditional branch (±4 KiB), c.beqz (±256 B), c.j (±2 KiB),
# to a local label (so the assembler keeps the short forms).
# jitlink-check: decode_operand(jal_back, 1) = (local - jal_back)[63:0]
# jitlink-check: decode_operand(branch_back, 2) = (local - branch_back)[63:0]
# jitlink-check: decode_operand(branch_fwd, 2) = (aligned - branch_fwd)[63:0]
# jitlink-check: decode_operand(rvc_branch, 1) = (local - rvc_branch)[63:0]
# jitlink-check: decode_operand(rvc_jump, 0) = (local - rvc_jump)[63:0]
local:
jal_back:
        jal     ra, local
branch_back:
        bne     a0, a1, local
branch_fwd:
        bgeu    a0, a1, aligned
rvc_branch:
        c.beqz  a0, local
rvc_jump:
        c.j     local

# ALIGN: with relaxation on, the assembler writes the most padding the
# alignment could need (here 30 bytes of nops for 32) and leaves the linker
# to delete what is too much. rivet does not relax: the padding stays as
# emitted (the nops run), so the label after it is where the assembler put
# it, 2 + 30 bytes past the c.j, and the branch across it still lands on it.
# jitlink-check: aligned - rvc_jump = 0x20
# jitlink-check: *{2}(rvc_jump + 2) = 0x0001
        .p2align 5
aligned:
        ret

        .globl  func
        .p2align 2
func:
        ret

        .data
        .globl  words
words:
        .quad   1, 2, 3, 4
