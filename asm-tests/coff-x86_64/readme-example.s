# rivet-check-args: --triple x86_64-pc-windows-msvc
# rivet-check-args: --dummy-extern ExitProcess=0x7ffe0000
        .text
        .globl  main
main:
# A call through an import pointer: __imp_ExitProcess is a slot (in the
# module's GOT) that holds ExitProcess.
# rtdyld-check: decode_operand(call, 3) = \
# rtdyld-check:     stub_addr(readme-example.o/.text, __imp_ExitProcess) - next_pc(call)
# jitlink-check: *{8}got_addr(readme-example.o, __imp_ExitProcess) = ExitProcess
call:
        callq   *__imp_ExitProcess(%rip)
        retq

        .data
# ADDR32NB counts from the image base, the module's lowest address.
# jitlink-check: *{4}rva = main - section_addr(readme-example.o, .text)
rva:
        .rva    main
