# The last value each range-checked RISC-V fixup accepts, at both ends (the
# overflow-*.s files next to this one hold the first value each rejects).
# .text is pinned at 0x90000000 and .data at 0x90100000, high enough that
# the lowest targets are still addresses; every field sits at a fixed
# offset (.org), so each place P is known. Fixups are written with .reloc
# to absolute symbols, which no stub serves.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-limits.o,.text=0x90000000
# rivet-check-args: --map-section overflow-limits.o,.data=0x90100000
# rivet-check-args: --map-section overflow-limits.o,[got]=0x10ffff838
# rivet-check-args: --dummy-extern zero=0 --dummy-extern got_target=0x1234

        .globl  branch_max_t, branch_min_t, jal_max_t, jal_min_t
        .globl  cb_max_t, cb_min_t, cj_max_t, cj_min_t
        .globl  call_max_t, call_min_t, pcrel_max_t, pcrel_min_t
        .globl  abs32_max, uleb_max, pcrel32_max_t, pcrel32_min_t
        .set    branch_max_t, 0x90000000 + 4094
        .set    branch_min_t, 0x90000004 - 4096
        .set    jal_max_t, 0x90000008 + 0xffffe
        .set    jal_min_t, 0x9000000c - 0x100000
        .set    cb_max_t, 0x90000010 + 254
        .set    cb_min_t, 0x90000012 - 256
        .set    cj_max_t, 0x90000014 + 2046
        .set    cj_min_t, 0x90000016 - 2048
        .set    call_max_t, 0x90000018 + 0x7ffff7ff
        .set    call_min_t, 0x90000020 - 0x80000800
        .set    pcrel_max_t, 0x90000028 + 0x7ffff7ff
        .set    pcrel_min_t, 0x9000002c - 0x80000800
        .set    abs32_max, 0xffffffff
        .set    uleb_max, 127
        .set    pcrel32_max_t, 0x90100008 + 0x7fffffff
        .set    pcrel32_min_t, 0x9010000c - 0x80000000

        .text
# Instructions stay as written: no compressed forms but the c.* ones.
        .option norvc
# BRANCH: -4096 to 4094 bytes.
# jitlink-check: decode_operand(branch_max, 2) = 4094
# jitlink-check: decode_operand(branch_min, 2) = 0xfffffffffffff000
        .org    0x00
branch_max:
        .reloc  ., R_RISCV_BRANCH, branch_max_t
        beq     a0, a1, .
        .org    0x04
branch_min:
        .reloc  ., R_RISCV_BRANCH, branch_min_t
        bltu    a0, a1, .

# JAL: -0x100000 to 0xffffe bytes.
# jitlink-check: decode_operand(jal_max, 1) = 0xffffe
# jitlink-check: decode_operand(jal_min, 1) = 0xfffffffffff00000
        .org    0x08
jal_max:
        .reloc  ., R_RISCV_JAL, jal_max_t
        jal     zero, .
        .org    0x0c
jal_min:
        .reloc  ., R_RISCV_JAL, jal_min_t
        jal     ra, .

# RVC_BRANCH: -256 to 254; RVC_JUMP: -2048 to 2046.
# jitlink-check: decode_operand(cb_max, 1) = 254
# jitlink-check: decode_operand(cb_min, 1) = 0xffffffffffffff00
# jitlink-check: decode_operand(cj_max, 0) = 2046
# jitlink-check: decode_operand(cj_min, 0) = 0xfffffffffffff800
        .option rvc
        .org    0x10
cb_max:
        .reloc  ., R_RISCV_RVC_BRANCH, cb_max_t
        c.beqz  a0, .
        .org    0x12
cb_min:
        .reloc  ., R_RISCV_RVC_BRANCH, cb_min_t
        c.bnez  a5, .
        .org    0x14
cj_max:
        .reloc  ., R_RISCV_RVC_JUMP, cj_max_t
        c.j     .
        .org    0x16
cj_min:
        .reloc  ., R_RISCV_RVC_JUMP, cj_min_t
        c.j     .

        .option norvc
# CALL: auipc + jalr, -0x80000800 to 0x7ffff7ff bytes (the high part
# rounds up when the low part is negative).
# jitlink-check: decode_operand(call_max, 1) = 0x7ffff
# jitlink-check: decode_operand(call_max + 4, 2) = 0x7ff
# jitlink-check: decode_operand(call_min, 1) = 0x80000
# jitlink-check: decode_operand(call_min + 4, 2) = 0xfffffffffffff800
        .org    0x18
call_max:
        .reloc  ., R_RISCV_CALL_PLT, call_max_t
        auipc   ra, 0
        jalr    ra, 0(ra)
        .org    0x20
call_min:
        .reloc  ., R_RISCV_CALL, call_min_t
        auipc   t1, 0
        jalr    zero, 0(t1)

# PCREL_HI20: the same range as CALL.
# jitlink-check: decode_operand(pcrel_max, 1) = 0x7ffff
# jitlink-check: decode_operand(pcrel_min, 1) = 0x80000
        .org    0x28
pcrel_max:
        .reloc  ., R_RISCV_PCREL_HI20, pcrel_max_t
        auipc   a0, 0
        .org    0x2c
pcrel_min:
        .reloc  ., R_RISCV_PCREL_HI20, pcrel_min_t
        auipc   a0, 0

# HI20: S + A from -0x80000800 to 0x7ffff7ff (lui sign-extends on RV64).
# jitlink-check: decode_operand(hi20_max, 1) = 0x7ffff
# jitlink-check: decode_operand(hi20_min, 1) = 0x80000
        .org    0x30
hi20_max:
        .reloc  ., R_RISCV_HI20, zero + 0x7ffff7ff
        lui     a0, 0
        .org    0x34
hi20_min:
        .reloc  ., R_RISCV_HI20, zero - 0x80000800
        lui     a0, 0

# GOT_HI20: the slot, 8-aligned, at most 0x7ffff7fe bytes on (the last
# even value: with the place 2 past an 8-aligned address, it is the
# nearest an 8-aligned slot comes to 0x7ffff7ff).
# jitlink-check: got_addr(overflow-limits.o, got_target) - got_max = 0x7ffff7fe
# jitlink-check: decode_operand(got_max, 1) = 0x7ffff
        .org    0x3a
got_max:
        .reloc  ., R_RISCV_GOT_HI20, got_target
        auipc   a0, 0
        .org    0x40
        ret

        .data
# 32: S + A from -2^31 to 2^32 - 1.
# jitlink-check: *{4}abs32_max_place = 0xffffffff
# jitlink-check: *{4}abs32_min_place = 0x80000000
        .org    0x00
abs32_max_place:
        .reloc  ., R_RISCV_32, abs32_max
        .word   0
        .org    0x04
abs32_min_place:
        .reloc  ., R_RISCV_32, zero - 0x80000000
        .word   0
# 32_PCREL: S + A - P from -2^31 to 2^31 - 1.
# jitlink-check: *{4}pcrel32_max = 0x7fffffff
# jitlink-check: *{4}pcrel32_min = 0x80000000
        .org    0x08
pcrel32_max:
        .reloc  ., R_RISCV_32_PCREL, pcrel32_max_t
        .word   0
        .org    0x0c
pcrel32_min:
        .reloc  ., R_RISCV_32_PCREL, pcrel32_min_t
        .word   0
# SET_ULEB128 in one byte: up to 127.
# jitlink-check: *{1}uleb_place = 0x7f
        .org    0x10
uleb_place:
        .reloc  ., R_RISCV_SET_ULEB128, uleb_max
        .byte   0
