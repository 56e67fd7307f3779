"""Rewrites that exist only for XLA's plan of the step, not for the maths.

Each function returns what its docstring's equation says, exactly (or, for
`written_after`, exactly while one element is finite); it is written the way
it is because XLA on the CPU otherwise adds full-size passes to the compiled
step. What each saves is measured with `python3 benchmarks/optimizers.py
--plan` (the bytes the compiled step reads and writes, from its optimized HLO)
and recorded in docs/optimizers.md, "Speed".
"""

import math

from keras import ops


def written_after(value, anchor):
    """`value`, made to depend on one element of `anchor` (for the write order).

    Returns `value + 0 * anchor.flat[0]`: exactly `value` while that element is
    finite, NaN everywhere if it is NaN or infinite. Pass the variable after its
    update as `anchor` when a slot is overwritten with a value that does not
    depend on the slot's old contents (diffGrad's `g_prev = g`).

    Saves a copy of the slot per step: XLA cannot see that the update read the
    old contents before the write, so it copies the whole slot first (DiffGrad
    and AngularGrad: one tensor written and read fewer). A variable with no
    elements returns `value` unchanged.
    """
    if 0 in tuple(anchor.shape):
        return value
    first = ops.reshape(anchor, [-1])[:1]
    return value + ops.reshape(0.0 * first, [1] * len(value.shape))


def count_true(mask):
    """The number of `True` elements of a boolean tensor, exactly, as int32.

    Summed first in blocks of up to 32 elements in float32 (exact, at most
    32), then in int32. Saves a full-size pass: between two sums of different
    types, XLA on the CPU folds the comparison that makes `mask` into the
    first sum instead of writing the mask out and summing it in a tree.
    """
    size = int(math.prod(mask.shape))
    block = next((k for k in (32, 16, 8, 4, 2) if size % k == 0), 1)
    partial = ops.sum(ops.reshape(ops.cast(mask, "float32"), [-1, block]), axis=-1)
    return ops.sum(ops.cast(partial, "int32"))


def plus_constant(value, constant, decay):
    """The EMA input that adds `constant` to the average: `value + constant / (1 -
    decay)`.

    `ema(s, plus_constant(x, c, beta), beta) = beta s + (1 - beta) x + c`.
    Saves a copy of the slot per step (AdaBelief's `+ epsilon`): a separate
    add after the EMA makes XLA recompute the EMA inside the variable's update
    from a copy of the old slot.
    """
    return value + constant / (1.0 - decay)
