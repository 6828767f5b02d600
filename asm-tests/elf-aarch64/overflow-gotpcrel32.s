# GOTPCREL32 one past its maximum: G - P = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple aarch64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-gotpcrel32.o,.data=0x20000
# rivet-check-args: --dummy-extern got_target=0x1234
# rivet-check-args: --map-section overflow-gotpcrel32.o,[got]=0x80020008
# rivet-check-error: GOT_PREL32 at .data+0x8 in `overflow-gotpcrel32.o` against `got_target` is out of range: value 0x80000000 not in

        .data
        .org    8
        .reloc  ., R_AARCH64_GOTPCREL32, got_target
        .word   0
