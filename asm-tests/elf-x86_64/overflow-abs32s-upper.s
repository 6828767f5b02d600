# R_X86_64_32S against an absolute symbol one below -2^31 modulo 2^64
# (0xffffffff7fffffff): out of reach of a sign-extended field.
# upper-half-absolute.s holds the last upper-half value accepted.
#
# rivet-check-args: --triple x86_64-unknown-linux-gnu
# rivet-check-args: --dummy-extern below_kernel=0xffffffff7fffffff
# rivet-check-error: ABS32S at .text+0x3 in `overflow-abs32s-upper.o` against `below_kernel` is out of range

        .text
        movq    $below_kernel, %rax
        retq
