# ADDR32 one past its maximum: S = 0x100000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --dummy-extern addr32_over=0x100000000
# rivet-check-error: ADDR32 at .data+0x0 in `overflow-addr32.o` against `addr32_over` is out of range: value 0x100000000 not in

        .data
        .long   addr32_over
