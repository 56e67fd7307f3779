"""Argument checks shared by every public class.

Each check raises a ``ValueError`` that names the argument and ends with
``Received: name=value``, the form Keras's own layers use.
"""

import math
import numbers

import numpy as np

# Learning rates are computed in float32: a larger rate would come out as inf.
FLOAT32_MAX = float(np.finfo("float32").max)


def fail(name, value, requirement):
    """Raise the ValueError every check raises: the argument, the rule, the value."""
    raise ValueError(f"`{name}` {requirement}. Received: {name}={value!r}")


def check_number(name, value, finite=True):
    """Return ``value`` as a float, refusing booleans, strings, NaN and infinity.

    ``finite=False`` lets ``inf`` and ``-inf`` through (never NaN).
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        fail(name, value, "must be a real number")
    if math.isnan(value):
        fail(name, value, "must not be NaN")
    if finite and math.isinf(value):
        fail(name, value, "must be finite")
    return float(value)


def check_bool(name, value):
    """Return ``value`` if it is a bool (a string such as ``"False"`` is refused)."""
    if not isinstance(value, bool):
        fail(name, value, "must be a bool (True or False)")
    return value


def check_int(name, value, minimum=None):
    """Return ``value`` as an int, requiring ``value >= minimum`` when given."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        fail(name, value, "must be an integer")
    if minimum is not None and value < minimum:
        fail(name, value, f"must be an integer >= {minimum}")
    return int(value)


def check_positive(name, value, allow_zero=False, finite=True):
    """Return ``value`` as a float, requiring ``value > 0`` (``>= 0`` if allowed)."""
    number = check_number(name, value, finite=finite)
    if number < 0 or (number == 0 and not allow_zero):
        fail(name, value, "must be >= 0" if allow_zero else "must be > 0")
    return number


def check_range(name, value, low, high, low_closed=True, high_closed=False):
    """Return ``value`` as a float, requiring it to lie in the given interval.

    Infinity is refused unless the interval closes on it.
    """
    number = check_number(name, value, finite=False)
    above = number >= low if low_closed else number > low
    below = number <= high if high_closed else number < high
    if not (above and below):
        interval = (
            ("[" if low_closed else "(")
            + f"{low}, {high}"
            + ("]" if high_closed else ")")
        )
        fail(name, value, f"must be in {interval}")
    return number


def check_probability(name, value):
    """Return ``value`` as a float in ``[0, 1]``."""
    return check_range(name, value, 0.0, 1.0, high_closed=True)


def check_choice(name, value, choices):
    """Return ``value`` if it is one of ``choices``."""
    if value not in choices:
        options = ", ".join(repr(c) for c in choices)
        fail(name, value, f"must be one of {options}")
    return value


def check_pair(name, value, low=None, high=None, ordered=True):
    """Return ``value`` as a ``(min, max)`` tuple of floats.

    ``ordered`` requires ``min <= max``; ``low`` and ``high`` bound both ends.
    """
    if (
        isinstance(value, (str, bytes))
        or not hasattr(value, "__len__")
        or len(value) != 2
    ):
        fail(name, value, "must be a pair (min, max)")
    for v in value:
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or math.isnan(v):
            fail(name, value, "must be a pair of real numbers (min, max)")
        if math.isinf(v):
            fail(name, value, "must be a pair of finite numbers (min, max)")
    first, second = float(value[0]), float(value[1])
    if ordered and first > second:
        fail(name, value, "must be ordered as (min, max)")
    for v in (first, second):
        if (low is not None and v < low) or (high is not None and v > high):
            fail(name, value, f"must lie within [{low}, {high}]")
    return first, second


def check_learning_rate(name, value, allow_zero=True):
    """Return ``value`` as a float: finite, ``>= 0`` (``> 0`` unless allowed),
    float32-sized."""
    rate = check_positive(name, value, allow_zero=allow_zero)
    if rate > FLOAT32_MAX:
        fail(
            name,
            value,
            f"must be at most {FLOAT32_MAX:.7g}, the largest float32 (learning rates "
            "are computed in float32)",
        )
    return rate
