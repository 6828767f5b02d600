# TLSLE_ADD_TPREL_LO12 (checked) refuses an offset of 2^12 or more:
# TPREL(far) = 16 + 0x1000.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-error: TLSLE_ADD_TPREL_LO12 at .text+0x0 in `overflow-tlsle-lo12.o` against `far` is out of range: value 0x1010 not in

        .text
        add     x0, x0, :tprel_lo12:far
        ret
        .section .tbss,"awT",@nobits
        .zero   0x1000
far:
        .zero   8
