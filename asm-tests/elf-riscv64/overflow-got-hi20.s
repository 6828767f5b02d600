# GOT_HI20 one byte past its reach: the slot is 0x7ffff800 bytes past the
# auipc. overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple riscv64-unknown-linux-gnu
# rivet-check-args: --map-section overflow-got-hi20.o,.text=0x90000000
# rivet-check-args: --map-section overflow-got-hi20.o,[got]=0x10ffff800
# rivet-check-args: --dummy-extern got_target=0x1234
# rivet-check-error: relocation GOT_HI20 at .text+0x0 in `overflow-got-hi20.o` against `got_target` is out of range: value 0x7ffff800 not in

        .text
got_hi:
        auipc   a0, %got_pcrel_hi(got_target)
        ld      a0, %pcrel_lo(got_hi)(a0)
        ret
