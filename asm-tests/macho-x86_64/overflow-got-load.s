# GOT_LOAD (GOTPCRELX: a movq rivet may relax, not here: the target is
# outside the link) one past its maximum: slot - next_pc = 0x80000000.
# overflow-limits.s holds the last value accepted.
#
# rivet-check-args: --triple x86_64-apple-macosx10.15
# rivet-check-args: --map-section overflow-got-load.o,__text=0x10000
# rivet-check-args: --map-section overflow-got-load.o,[got]=0x80010008
# rivet-check-args: --dummy-extern _got_target=0x1234
# rivet-check-error: GOTPCRELX at __text+0x4 in `overflow-got-load.o` against `got_target` is out of range: value 0x80000000 not in

        .section __TEXT,__text,regular,pure_instructions
        nop
        movq    _got_target@GOTPCREL(%rip), %rax
.subsections_via_symbols
