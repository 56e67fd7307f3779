"""What other subpackages may use from `keras_tricks.schedules`.

- `check_float_learning_rate(optimizer, owner)`: refuse an optimizer whose
  learning rate is already a schedule, for whatever sets a float rate itself
  (`callbacks.CyclicalLR`, `callbacks.WarmupLR`, the range test).
- `check_verbose(value)`: the `verbose` argument those objects take.

Nothing else here is for use outside this subpackage.
"""

import numbers

import keras


def check_verbose(value):
    """Return `verbose` as an int `>= 0` (a bool counts, as in Keras's `fit`)."""
    if not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(
            "`verbose` must be an integer >= 0 (0 is silent). "
            f"Received: verbose={value!r}"
        )
    return int(value)


def check_float_learning_rate(optimizer, owner):
    """Refuse an optimizer whose learning rate is a schedule or a callable.

    `owner` names what sets the rate (e.g. `"CyclicalLR"`), for the message.
    """
    if isinstance(optimizer.learning_rate, keras.Variable):
        return
    received = optimizer.get_config().get("learning_rate")
    if isinstance(received, dict):
        received = received.get("class_name", received)
    raise ValueError(
        f"The optimizer's `learning_rate` is already a schedule, and {owner} "
        "sets a float rate every batch: compile with a float learning rate "
        f"(or drop {owner} and keep the schedule). Received: learning_rate={received!r}"
    )
