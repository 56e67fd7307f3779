"""Exact step arithmetic shared by the schedules.

Optimizers count steps in an int64 variable; float32 holds integers exactly
only up to 2**24, so a schedule that casts the step to float32 first is wrong
after about 16.7 million steps. These helpers divide integer steps in int64
and convert only the small remainder to float.

On JAX, int64 exists only with `jax_enable_x64`; without it integer steps are
int32 (the optimizer's `iterations` is int32 there too), exact to 2**31 - 1.
"""

import numbers

import keras
from keras import ops


def integer_dtype():
    """`"int64"`, or `"int32"` on JAX without `jax_enable_x64` (no int64 there)."""
    if keras.backend.backend() == "jax":
        import jax

        if not jax.config.jax_enable_x64:
            return "int32"
    return "int64"


def as_step(step):
    """The step as a tensor: int64 for integer steps, float for float steps.

    A float64 step stays float64; other float steps become float32. Integer
    steps are `integer_dtype()` (int32 on JAX without `jax_enable_x64`).
    """
    if isinstance(step, numbers.Integral) and not isinstance(step, bool):
        return ops.convert_to_tensor(step, integer_dtype())
    step = ops.convert_to_tensor(step)
    dtype = keras.backend.standardize_dtype(step.dtype)
    if "int" in dtype or dtype == "bool":
        return ops.cast(step, integer_dtype())
    return step if dtype == "float64" else ops.cast(step, "float32")


def is_integer(step):
    return "int" in keras.backend.standardize_dtype(step.dtype)


def divide(step, period):
    """`(floor(step / period), step mod period)` of an `as_step` tensor.

    For integer steps both come from int64 arithmetic, so they are exact at
    any step; the quotient is returned as float32 and the remainder, which is
    below `period`, as float32 (exact while `period < 2**24`). Float steps are
    divided in their own precision.
    """
    if is_integer(step):
        # `//` on the backend's tensors, not `ops.floor_divide`: on torch,
        # Keras (3.15) casts the quotient of two int64 tensors to int32, which
        # wraps past 2**31.
        period = ops.convert_to_tensor(int(period), step.dtype)
        quotient = step // period
        remainder = step - quotient * period
        return ops.cast(quotient, "float32"), ops.cast(remainder, "float32")
    period = float(period)
    remainder = ops.mod(step, period)
    # round(): the difference is a multiple of period, up to rounding.
    quotient = ops.round((step - remainder) / period)
    return ops.cast(quotient, "float32"), ops.cast(remainder, "float32")


def clamp_at_zero(step):
    """`max(step, 0)` in the step's own dtype.

    `ops.where`, not `ops.maximum`: on torch, Keras (3.15) casts the maximum
    of int64 tensors to int32, which wraps past 2**31.
    """
    return ops.where(step > 0, step, ops.zeros_like(step))
