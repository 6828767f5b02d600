# The GOT by the names RuntimeDyld and JITLink give it: the symbol
# _GLOBAL_OFFSET_TABLE_ (the base GOTPC and GOTOFF fixups count from) and
# the section name .got (for [got]), in checks and in --map-section.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section got-symbol.o,.got=0x40000
# rivet-check-args: --map-section got-symbol.o,.data=0x50000
# rivet-check-args: --dummy-extern ext=0x123456

# jitlink-check: _GLOBAL_OFFSET_TABLE_ = 0x40000
# rtdyld-check: section_addr(got-symbol.o, .got) = 0x40000
# jitlink-check: section_addr(got-symbol.o, [got]) = _GLOBAL_OFFSET_TABLE_

        .text
        .globl  f
# A GOT load (R_X86_64_GOTPCREL, never relaxed): its slot is in .got.
# jitlink-check: decode_operand(f, 4) = got_addr(got-symbol.o, ext) - next_pc(f)
# jitlink-check: *{8}got_addr(got-symbol.o, ext) = ext
f:
        movq    ext@GOTPCREL(%rip), %rax
        retq

        .data
# R_X86_64_GOTPC64 and R_X86_64_GOTPC32: GOT + A - P.
# jitlink-check: *{8}gotpc64 = _GLOBAL_OFFSET_TABLE_ - gotpc64
# jitlink-check: *{8}gotpc64 = 0x40000 - 0x50000
gotpc64:
        .quad   _GLOBAL_OFFSET_TABLE_ - .
# jitlink-check: *{4}gotpc32 = (_GLOBAL_OFFSET_TABLE_ - gotpc32)[31:0]
gotpc32:
        .long   _GLOBAL_OFFSET_TABLE_ - .
# R_X86_64_GOTOFF64: S + A - GOT.
# jitlink-check: *{8}gotoff = f - _GLOBAL_OFFSET_TABLE_
gotoff:
        .quad   f@GOTOFF
