# A third module for relax-got.s, its text pinned 8 GiB away (not a test
# of its own).
        .text
        .globl  far_fn
        .type   far_fn,@function
far_fn:
        retq
        .size   far_fn, .-far_fn
