# A third module for relax-got.s, its text pinned 8 GiB away, beyond an
# adrp's ±4 GiB (not a test of its own).
        .text
        .globl  far_fn
        .p2align 2
far_fn:
        ret
