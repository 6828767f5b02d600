# PCREL_LO12 finds its PCREL_HI20 through the label it names, by the
# label's section and offset, never by its name. RuntimeDyld looks the
# label up by name, so objects whose local labels share a name (every
# LLVM object has a `.Lpcrel_hi0`) get each other's high parts and corrupt
# jump tables (llvmlite issues 923 and 1449). Here:
# - this object and Inputs/pcrel-pairs-other.s both have `.Lpcrel_hi0`, at
#   different offsets, each for data of its own;
# - numeric labels (`1:`) repeat in a second section, where the first one
#   (`.Ltmp0`) has the offset, 0, of `.Lpcrel_hi0` in the first section:
#   the section tells them apart;
# - the low parts are an addi, a load and a store, one of them four
#   instructions after its high part.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: Inputs/pcrel-pairs-other.s
# rivet-check-args: --map-section pcrel-pairs.o,.text=0x10000
# rivet-check-args: --map-section pcrel-pairs.o,.data=0x12345670
# rivet-check-args: --map-section pcrel-pairs-other.o,.text=0x40000
# rivet-check-args: --map-section pcrel-pairs-other.o,.data=0x23456780

        .text
        .globl  main
        .p2align 2
main:
# jitlink-check: decode_operand(first_hi, 1) = (data_a - first_hi + 0x800)[31:12]
# jitlink-check: decode_operand(first_lo, 2)[11:0] = (data_a - first_hi)[11:0]
first_hi:
.Lpcrel_hi0:
        auipc   a0, %pcrel_hi(data_a)
        nop
        nop
        nop
first_lo:
        addi    a0, a0, %pcrel_lo(.Lpcrel_hi0)
        ret

        .section .text.second,"ax",@progbits
# jitlink-check: decode_operand(second_hi, 1) = (data_b - second_hi + 0x800)[31:12]
# jitlink-check: decode_operand(second_lo, 2)[11:0] = (data_b - second_hi)[11:0]
# jitlink-check: decode_operand(third_hi, 1) = (data_c + 4 - third_hi + 0x800)[31:12]
# jitlink-check: decode_operand(third_lo, 2)[11:0] = (data_c + 4 - third_hi)[11:0]
second_hi:
1:      auipc   a1, %pcrel_hi(data_b)
second_lo:
        ld      a1, %pcrel_lo(1b)(a1)
third_hi:
1:      auipc   a2, %pcrel_hi(data_c + 4)
third_lo:
        sw      a2, %pcrel_lo(1b)(a2)
        ret

# The other object's pair: its own data, its own auipc.
# jitlink-check: decode_operand(other_hi, 1) = (other_data - other_hi + 0x800)[31:12]
# jitlink-check: decode_operand(other_lo, 2)[11:0] = (other_data - other_hi)[11:0]
# jitlink-check: other_hi - section_addr(pcrel-pairs-other.o, .text) = 4

        .data
        .p2align 3
data_a:
        .quad   0xa
data_b:
        .zero   0x900
data_c:
        .quad   0xc
