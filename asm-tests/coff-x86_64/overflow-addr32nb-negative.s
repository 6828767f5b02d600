# ADDR32NB of an address below the image base: S - image base = -1.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-pc-windows-msvc
# rivet-check-args: --map-section overflow-addr32nb-negative.o,.data=0x10000
# rivet-check-args: --dummy-extern below=0xffff
# rivet-check-error: IMAGEREL32 at .data+0x0 in `overflow-addr32nb-negative.o` against `below` is out of range

        .data
        .rva    below
