# A branch to an external *plus an offset* out of reach gets a stub of its
# own that jumps to the offset target itself, through a GOT slot of its own
# holding far + 4 (far's own slot holds far); the branch lands on the stub.
# (A call to far+4 carries R_X86_64_PLT32 against far with addend 0, not -4.)
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --dummy-extern far=0x7f0000001230

        .text
        .globl  main
        .type   main,@function
main:
# jitlink-check: decode_operand(call_plain, 0) = stub_addr(stub-with-offset.o, far) - next_pc(call_plain)
# jitlink-check: *{4}(stub_addr(stub-with-offset.o, far) + 2) = \
# jitlink-check:     (got_addr(stub-with-offset.o, far) - (stub_addr(stub-with-offset.o, far) + 6))[31:0]
# jitlink-check: *{8}got_addr(stub-with-offset.o, far) = far
call_plain:
        callq   far@PLT
# The offset call's displacement reaches a second stub, 8 bytes on, which
# jumps through the next slot, holding far + 4.
# jitlink-check: decode_operand(call_offset, 0) = stub_addr(stub-with-offset.o, far) + 8 - next_pc(call_offset)
# jitlink-check: *{4}(stub_addr(stub-with-offset.o, far) + 10) = \
# jitlink-check:     (got_addr(stub-with-offset.o, far) + 8 - (stub_addr(stub-with-offset.o, far) + 14))[31:0]
# jitlink-check: *{8}(got_addr(stub-with-offset.o, far) + 8) = far + 4
call_offset:
        .byte   0xe8
        .reloc  call_offset+1, R_X86_64_PLT32, far
        .long   0
        retq
