# A second module for relax-got.s, laid out right after it (not a test of
# its own).
        .text
        .globl  near_fn
        .type   near_fn,@function
near_fn:
        retq
        .size   near_fn, .-near_fn

        .data
        .p2align 3
        .globl  near_data
near_data:
        .quad   7
