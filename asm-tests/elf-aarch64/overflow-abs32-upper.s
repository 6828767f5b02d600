# R_AARCH64_ABS32 against an absolute symbol one below -2^31 modulo 2^64.
# upper-half-absolute.s holds the last upper-half value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --dummy-extern below_kernel=0xffffffff7fffffff
# rivet-check-error: ABS32 at .data+0x0 in `overflow-abs32-upper.o` against `below_kernel` is out of range

        .data
        .word   below_kernel
