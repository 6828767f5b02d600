# SECREL below its minimum: an offset of -1 from the start of the section
# (written with .reloc, which puts the addend in the field).
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-pc-windows-msvc
# rivet-check-error: SECREL32 at .data+0x4 in `overflow-secrel-negative.o` against `start` is out of range

        .data
        .globl  start
start:
        .long   0
        .reloc  ., secrel32, start - 1
        .long   0
