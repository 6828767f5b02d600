# The initial- and local-exec TLS models (GOTTPOFF, TPOFF32) need the
# process's static TLS block, which JIT code cannot have: refused with an
# error that says so.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-error: unsupported relocation R_X86_64_GOTTPOFF (the initial- and local-exec TLS models need the process's static TLS block

        .text
        movq    tls_var@GOTTPOFF(%rip), %rax
        movl    %fs:(%rax), %eax
        retq
        .section .tbss,"awT",@nobits
tls_var:
        .zero   4
