# ADDR32NB of an address below the image base: S - image base = -1.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-pc-windows-msvc
# rivet-check-args: --map-section overflow-addr32nb-negative.o,.data=0x10000
# rivet-check-args: --dummy-extern below=0xffff
# rivet-check-error: ADDR32NB at .data+0x0 in `overflow-addr32nb-negative.o` against `below` is out of range: value -0x1 not in

        .data
        .rva    below
