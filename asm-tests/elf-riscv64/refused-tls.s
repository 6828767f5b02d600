# RISC-V thread-local relocations are not implemented: an error that names
# the relocation and says so, before anything is placed.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-error: unsupported relocation R_RISCV_TLS_GD_HI20 (thread-local variables are not supported on RISC-V yet

        .text
        .globl  main
main:
.Ltls_gd:
        auipc   a0, %tls_gd_pcrel_hi(tls_var)
        addi    a0, a0, %pcrel_lo(.Ltls_gd)
        call    __tls_get_addr
        ret
        .section .tbss,"awT",@nobits
tls_var:
        .zero   4
