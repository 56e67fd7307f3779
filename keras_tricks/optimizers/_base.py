"""The private base every optimizer here builds on: Adam-style moments.

It validates the shared arguments, creates the per-variable slots, and offers
the steps every `update_step` is written from: the gradient with the coupled
L2 term, an EMA written to a slot, AMSGrad's running maximum, and the write of
the update. The maths itself is in `_math.py`; each optimizer's `update_step`
reads as its paper's equations. A variant overrides a named hook
(`_first_moment_input`, `_apply_update`, `_moment_slots`), as the AdaInject
classes do; this class knows none of them.

What users bring, handled here for every optimizer (docs/optimizers.md):
sparse gradients (`IndexedSlices` from an `Embedding`) are made dense at the
start of the step, so the result equals that of the dense gradient, as with
Keras's own optimizers; float16 and bfloat16 variables get float32 slots and
a float32 update, cast once when written; a variable with no elements is
left alone. Each is a trace-time Python branch: the dense float32 step traces
to the same graph as before.
"""

import numbers

import keras
import numpy as np
from keras import ops

from keras_tricks._checks import (
    check_bool,
    check_number,
    check_positive,
    check_range,
    fail,
)
from keras_tricks._checks import check_learning_rate as _checks_learning_rate
from keras_tricks.optimizers import _math


def check_learning_rate(learning_rate):
    """Return a learning rate Keras can use: a float >= 0, a schedule or a callable."""
    if isinstance(learning_rate, keras.optimizers.schedules.LearningRateSchedule):
        return learning_rate
    if callable(learning_rate):
        return learning_rate
    if isinstance(learning_rate, bool) or not isinstance(learning_rate, numbers.Real):
        fail(
            "learning_rate",
            learning_rate,
            "must be a float, a `LearningRateSchedule` or a callable",
        )
    return _checks_learning_rate("learning_rate", learning_rate)


# Variables of these dtypes are updated in float32, with float32 slots.
_LOW_PRECISION = ("float16", "bfloat16")

# The smallest normal float32. A smaller epsilon (0 included) acts as this one,
# so that a gradient that has been zero at every step gives a zero step, not
# 0 / 0: the update is never computed in less than float32.
_SMALLEST_EPSILON = float(np.finfo(np.float32).tiny)


def compute_dtype(variable):
    """The dtype the step is computed in: float32 for float16/bfloat16 variables."""
    dtype = keras.backend.standardize_dtype(variable.dtype)
    return "float32" if dtype in _LOW_PRECISION else dtype


def sum_rows(values, indices, rows):
    """The dense `(rows, ...)` tensor whose row `i` sums the `values` at index `i`.

    What a sparse gradient (`values` for rows `indices`, repeats summed)
    stands for, in `keras.ops`: the reference for `dense_gradient`'s
    TensorFlow path (tests/optimizers/test_sparse.py compares them).
    """
    return ops.segment_sum(values, indices, num_segments=rows)


if keras.backend.backend() == "tensorflow":
    import tensorflow as tf

    def dense_gradient(gradient, variable):
        """`gradient` as a dense tensor; `IndexedSlices` rows are summed by index.

        Keras's own optimizers treat a sparse gradient as its dense equivalent
        (rows with no gradient still see their moments decay); this is that
        equivalent, `sum_rows`, with TensorFlow's segment sum (which, unlike
        `tf.convert_to_tensor`, needs no `dense_shape`).
        """
        if isinstance(gradient, tf.IndexedSlices):
            return tf.math.unsorted_segment_sum(
                gradient.values, gradient.indices, variable.shape[0]
            )
        return gradient

else:

    def dense_gradient(gradient, variable):
        """Gradients are dense on the other backends (an `Embedding`'s too)."""
        return gradient


def is_empty(variable):
    """Whether `variable` has no elements (a zero-size dimension): known when traced."""
    return 0 in tuple(variable.shape)


# Keras's own float arguments, which its base class takes unchecked: an
# infinite `clipnorm` makes every weight NaN. 0 switches clipping off in
# Keras and stays allowed. name -> check.
_KERAS_FLOAT_ARGUMENTS = {
    "clipnorm": lambda v: check_positive("clipnorm", v, allow_zero=True),
    "clipvalue": lambda v: check_positive("clipvalue", v, allow_zero=True),
    "global_clipnorm": lambda v: check_positive("global_clipnorm", v, allow_zero=True),
    "loss_scale_factor": lambda v: check_positive("loss_scale_factor", v),
    "ema_momentum": lambda v: check_range(
        "ema_momentum", v, 0.0, 1.0, high_closed=True
    ),
}


def check_keras_arguments(kwargs):
    """Refuse NaN, infinite, negative or non-number values of Keras's float arguments.

    `None` (off) is accepted for all but `ema_momentum`; `use_ema` is a bool.
    """
    for name, check in _KERAS_FLOAT_ARGUMENTS.items():
        if name in kwargs and not (kwargs[name] is None and name != "ema_momentum"):
            check(kwargs[name])
    if "use_ema" in kwargs:
        check_bool("use_ema", kwargs["use_ema"])


def check_flag(name, value):
    """Return ``value`` if it is a bool (the shared check; a string is refused)."""
    return check_bool(name, value)


class AdaptiveMoments(keras.optimizers.Optimizer):
    """Adam-style moments shared by every optimizer in this subpackage.

    Slots, per variable: `momentum` (m), `velocity` (v), `velocity_hat` with
    `amsgrad`, then the class's `_extra_slots` (name, initializer pairs).
    Subclasses write `update_step` from `_gradient_and_step`,
    `_update_moment`, `_amsgrad` and `_apply_update`.

    Hooks a variant overrides (the AdaInject classes do all three):
    `_moment_slots` (the slots before `_extra_slots`), `_first_moment_input`
    (what the first moment averages; `g` here) and `_apply_update` (the write
    of `theta -= update`).
    """

    _extra_slots = ()

    def __init__(
        self,
        learning_rate,
        beta_1,
        beta_2,
        epsilon,
        amsgrad,
        l2_weight_decay,
        weight_decay=None,
        name=None,
        **kwargs,
    ):
        learning_rate = check_learning_rate(learning_rate)
        check_range("beta_1", beta_1, 0.0, 1.0)
        check_range("beta_2", beta_2, 0.0, 1.0)
        check_positive("epsilon", epsilon, allow_zero=True)
        check_flag("amsgrad", amsgrad)
        check_positive("l2_weight_decay", l2_weight_decay, allow_zero=True)
        if weight_decay is not None:
            check_positive("weight_decay", weight_decay, allow_zero=True)
        check_keras_arguments(kwargs)
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            name=name,
            **kwargs,
        )
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.amsgrad = amsgrad
        self.l2_weight_decay = l2_weight_decay
        # Python floats, so that coefficients are formed in float64.
        self._beta_1 = check_number("beta_1", beta_1)
        self._beta_2 = check_number("beta_2", beta_2)
        self._epsilon = max(check_number("epsilon", epsilon), _SMALLEST_EPSILON)
        self._l2 = check_number("l2_weight_decay", l2_weight_decay)

    def _moment_slots(self):
        """`(name, initializer)` of the slots created before `_extra_slots`."""
        slots = [("momentum", "zeros"), ("velocity", "zeros")]
        if self.amsgrad:
            slots.append(("velocity_hat", "zeros"))
        return slots

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        slots = self._moment_slots() + list(self._extra_slots)
        names = [name for name, _ in slots]
        initializers = [initializer for _, initializer in slots]
        self._float32_slots = True
        try:
            created = self.add_optimizer_variables(var_list, names, initializers)
        finally:
            self._float32_slots = False
        self._slots = dict(zip(names, created, strict=True))

    def add_variable(self, shape, initializer="zeros", dtype=None, **kwargs):
        # Keras creates each slot through `add_variable_from_reference`, which
        # calls this with the model variable's dtype: the slots of float16 and
        # bfloat16 variables are made float32 here (only while `build` makes
        # slots), so small squared gradients do not underflow and the EMAs
        # keep their precision. tests/optimizers/test_low_precision.py checks
        # the slot dtypes.
        if getattr(self, "_float32_slots", False) and dtype is not None:
            if keras.backend.standardize_dtype(dtype) in _LOW_PRECISION:
                dtype = "float32"
        return super().add_variable(
            shape, initializer=initializer, dtype=dtype, **kwargs
        )

    def _slot(self, name, index):
        return self._slots[name][index]

    def _value(self, variable):
        """The variable's value in the compute dtype (the variable itself if equal)."""
        dtype = compute_dtype(variable)
        if dtype == keras.backend.standardize_dtype(variable.dtype):
            return variable
        return ops.cast(variable, dtype)

    def _gradient_and_step(self, gradient, variable):
        """`(index, g, t)`: the slot index, `g + l2_weight_decay * theta` and the step.

        `g` is dense and in the compute dtype; `t` counts from 1.
        """
        index = self._get_variable_index(variable)
        dtype = compute_dtype(variable)
        gradient = ops.cast(dense_gradient(gradient, variable), dtype)
        if self._l2:
            gradient = gradient + self._l2 * self._value(variable)
        step = ops.cast(self.iterations + 1, dtype)
        return index, gradient, step

    def _first_moment_input(self, gradient, variable, index, step):
        """What the first moment averages: the gradient (AdaInject overrides it)."""
        return gradient

    def _update_moment(self, name, index, value, decay):
        """`slot = decay * slot + (1 - decay) * value`, written; returns the new
        slot."""
        slot = self._slot(name, index)
        average = _math.ema(slot.value, value, decay)
        self.assign(slot, average)
        return average

    def _amsgrad(self, index, v):
        """With `amsgrad`, `v_hat = max(v_hat, v)`, written and returned; else `v`."""
        if not self.amsgrad:
            return v
        velocity_hat = self._slot("velocity_hat", index)
        v = ops.maximum(velocity_hat.value, v)
        self.assign(velocity_hat, v)
        return v

    def _apply_update(self, variable, index, update):
        """`theta -= update`, after the step's last read of any slot.

        float16/bfloat16 variables: subtracted in float32, rounded once on the
        write. AdaInject classes also keep the update for the next step.
        """
        if compute_dtype(variable) == keras.backend.standardize_dtype(variable.dtype):
            self.assign_sub(variable, update)
        else:
            self.assign(variable, self._value(variable) - update)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "beta_1": self.beta_1,
                "beta_2": self.beta_2,
                "epsilon": self.epsilon,
                "amsgrad": self.amsgrad,
                "l2_weight_decay": self.l2_weight_decay,
            }
        )
        return config
