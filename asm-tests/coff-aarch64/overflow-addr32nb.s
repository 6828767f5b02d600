# ADDR32NB one past its maximum: S - image base = 0x100000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --map-section overflow-addr32nb.o,.data=0x10000
# rivet-check-args: --dummy-extern rva_over=0x100010000
# rivet-check-error: ADDR32NB at .data+0x0 in `overflow-addr32nb.o` against `rva_over` is out of range: value 0x100000000 not in

        .data
        .rva    rva_over
