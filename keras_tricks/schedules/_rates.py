"""The check every learning rate of the schedules shares."""

import numpy as np

from keras_tricks._checks import check_positive

# Schedules return float32: a larger rate would come out as inf.
FLOAT32_MAX = float(np.finfo("float32").max)


def check_learning_rate(name, value, allow_zero=True):
    """Return `value` as a float: finite, `>= 0` (`> 0` unless allowed), float32-sized."""
    rate = check_positive(name, value, allow_zero=allow_zero)
    if rate > FLOAT32_MAX:
        raise ValueError(
            f"`{name}` must be at most {FLOAT32_MAX:.7g}, the largest float32 (the "
            f"schedule computes in float32). Received: {name}={value!r}"
        )
    return rate
