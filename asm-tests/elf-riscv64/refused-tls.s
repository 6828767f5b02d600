# The static RISC-V TLS models (initial exec: TLS_GOT_HI20; local exec:
# TPREL_*) need the process's static TLS block, which JIT code cannot get:
# an error that names the relocation and says what to do, before anything
# is placed. (General dynamic is linked: tls.s.)
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-error: unsupported relocation R_RISCV_TLS_GOT_HI20 (the initial- and local-exec TLS models and TLS descriptors need the process's static TLS block or a descriptor resolver; compile PIC so LLVM uses the general-dynamic model) at .text+0x0 in `refused-tls.o`

        .text
        .globl  main
main:
.Ltls_ie:
        auipc   a0, %tls_ie_pcrel_hi(tls_var)
        ld      a0, %pcrel_lo(.Ltls_ie)(a0)
        add     a0, a0, tp
        ret
        .section .tbss,"awT",@nobits
tls_var:
        .zero   4
