# REL32 (RIP-relative data, never a stub) one past its maximum:
# S - next_pc = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-pc-windows-msvc
# rivet-check-args: --map-section overflow-rel32.o,.text=0x10000
# rivet-check-args: --dummy-extern far_data=0x80010006
# rivet-check-error: PC32 at .text+0x2 in `overflow-rel32.o` against `far_data` is out of range: value 0x80000000 not in

        .text
        movl    far_data(%rip), %eax
