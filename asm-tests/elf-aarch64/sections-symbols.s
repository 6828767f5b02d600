# Section and symbol addresses: segments from --target-addr-start with
# --target-section-sep between them, sections in file order and aligned,
# zero-fill data and commons, and a second module (Inputs/helper.s).
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --target-addr-start 0x40000000 --target-section-sep 0x1000
# rivet-check-args: Inputs/helper.s
# The addresses below are those of rivet's own layout (each module's
# segments in class order: text, stubs, GOT, read-only data, data).
# rivet-check-args: --layout rivet

        .text
        .globl  main
        .p2align 2
main:
# jitlink-check: main = 0x40000000
# jitlink-check: section_addr(sections-symbols.o, .text) = main
# A call into the other module: direct; a stub is reserved here anyway.
# jitlink-check: decode_operand(call_helper, 0)[25:0] = (helper_func - call_helper)[27:2]
# jitlink-check: stub_addr(sections-symbols.o, helper_func) = section_addr(sections-symbols.o, [stubs])
call_helper:
        bl      helper_func
        ret

# The stub area follows the text (8 bytes) after the 0x1000-byte gap.
# jitlink-check: section_addr(sections-symbols.o, [stubs]) = 0x40001008

        .section .rodata,"a",@progbits
        .p2align 8
        .globl  aligned_table
aligned_table:
        .quad   0x0102030405060708
# jitlink-check: aligned_table[7:0] = 0
# jitlink-check: aligned_table = section_addr(sections-symbols.o, .rodata)
# jitlink-check: *{8}aligned_table = 0x0102030405060708

        .data
        .p2align 3
        .globl  first
first:
        .quad   1
        .bss
        .p2align 4
        .globl  zeroes
zeroes:
        .zero   24
        .comm   common_block, 32, 32
# .data (8 bytes), then .bss 16-aligned, then the common block 32-aligned.
# jitlink-check: zeroes - first = 16
# jitlink-check: common_block - first = 0x40
# jitlink-check: *{8}(zeroes + 16) = 0

# The other module's names and code.
# jitlink-check: *{8}shared = 0x5348415245440000
# jitlink-check: decode_operand(helper_func, 1) = shared[63:12] - helper_func[63:12]
# jitlink-check: decode_operand(helper_func + 4, 2) = shared[11:3]
