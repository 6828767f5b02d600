# R_X86_64_SIZE32 one past its maximum: Z + A = 0x100000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-size32.o,.data=0x20000
# rivet-check-error: SIZE32 at .data+0x0 in `overflow-size32.o` against `sized` is out of range: value 0x100000000 not in

        .data
        .reloc  ., R_X86_64_SIZE32, sized + 0xfffffff8
        .long   0
        .globl  sized
        .type   sized,@object
sized:  .quad   0
        .size   sized, 8
