# AArch64 thread-local relocations (here TLS descriptors) are not
# implemented: an error that names the relocation.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-error: unsupported relocation R_AARCH64_TLSDESC_ADR_PAGE21 at .text+0x0 in `refused-tls.o`

        .text
        adrp    x0, :tlsdesc:tls_var
        ldr     x1, [x0, :tlsdesc_lo12:tls_var]
        add     x0, x0, :tlsdesc_lo12:tls_var
        .tlsdesccall tls_var
        blr     x1
        ret
        .section .tbss,"awT",@nobits
tls_var:
        .zero   4
