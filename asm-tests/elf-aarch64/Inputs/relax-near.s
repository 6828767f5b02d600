# A second module for relax-got.s, laid out right after it (not a test of
# its own).
        .text
        .globl  near_fn
        .p2align 2
near_fn:
        ret

        .data
        .p2align 3
        .globl  near_data
near_data:
        .quad   7
