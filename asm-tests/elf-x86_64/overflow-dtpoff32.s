# R_X86_64_DTPOFF32 one past its maximum: offset 0 + A = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-dtpoff32.o,.data=0x20000
# rivet-check-error: DTPOFF32 at .data+0x0 in `overflow-dtpoff32.o` against `tls_var` is out of range: value 0x80000000 not in

        .data
        .reloc  ., R_X86_64_DTPOFF32, tls_var + 0x80000000
        .long   0
        .section .tdata,"awT",@progbits
        .globl  tls_var
tls_var:
        .quad   1
