"""Pruning schedules: when to update the masks, and to what sparsity."""

import numbers

import keras

from keras_tricks import _checks


def _is_python_int(step):
    return isinstance(step, numbers.Integral) and not isinstance(step, bool)


def _check_step(step):
    """Refuse a bool, a string or a non-finite Python float as a step."""
    if isinstance(step, (bool, str, bytes)) or (
        isinstance(step, numbers.Real) and not _is_python_int(step)
    ):
        _checks.check_number("step", step)
    return step


@keras.saving.register_keras_serializable(package="keras_tricks")
class PruningSchedule:
    """Base class of the pruning schedules.

    A schedule answers, for a training step, whether the masks are updated at
    that step and what fraction of each pruned weight is zero from then on.
    Subclasses implement `sparsity(step)` (with `keras.ops`, so that it works on
    tensors inside a compiled function) and `get_config()`; the step
    arithmetic of `begin_step`, `end_step` and `frequency` lives here.

    Masks are updated at step `s` when `s >= begin_step`, `s <= end_step` (or
    `end_step == -1`) and `(s - begin_step) % frequency == 0`, the convention of
    TensorFlow Model Optimization.

    Args:
        begin_step: int, first step at which the masks are updated.
            Defaults to `0`.
        end_step: int, last step at which they may be updated, or `-1` for no
            end. Defaults to `-1`.
        frequency: int, number of steps between two updates. Defaults to `100`.

    Returns:
        `schedule(step)` returns `(should_prune, sparsity)`: a boolean and a
        float, as Python values for a Python int step and as tensors otherwise.

    Reference:
    - [Zhu & Gupta, 2017](https://arxiv.org/abs/1710.01878)
    """

    def __init__(self, begin_step=0, end_step=-1, frequency=100):
        _checks.check_int("begin_step", begin_step, minimum=0)
        _checks.check_int("end_step", end_step, minimum=-1)
        _checks.check_int("frequency", frequency, minimum=1)
        if end_step != -1 and end_step < begin_step:
            raise ValueError(
                "`end_step` must be -1 or >= `begin_step` "
                f"(begin_step={begin_step}). Received: end_step={end_step}"
            )
        self.begin_step = begin_step
        self.end_step = end_step
        self.frequency = frequency

    def should_prune(self, step):
        """Whether the masks are updated at `step` (graph and XLA safe)."""
        step = _check_step(step)
        if _is_python_int(step):
            after_begin = step >= self.begin_step
            before_end = self.end_step == -1 or step <= self.end_step
            on_frequency = (step - self.begin_step) % self.frequency == 0
            return after_begin and before_end and on_frequency
        step = keras.ops.cast(step, "int64")
        after_begin = keras.ops.greater_equal(step, self.begin_step)
        on_frequency = keras.ops.equal(
            keras.ops.mod(step - self.begin_step, self.frequency), 0
        )
        result = keras.ops.logical_and(after_begin, on_frequency)
        if self.end_step != -1:
            result = keras.ops.logical_and(
                result, keras.ops.less_equal(step, self.end_step)
            )
        return result

    def sparsity(self, step):
        """The target fraction of zeros at `step`."""
        raise NotImplementedError

    def _latest_pruning_step(self, after, upto):
        """The last step `s` with `after < s <= upto` that prunes, or `None`.

        Python ints only; the `Pruning` callback asks this for the steps that
        one execution of `steps_per_execution` steps covered.
        """
        if type(self).should_prune is not PruningSchedule.should_prune:
            for step in range(upto, max(after, -1), -1):
                if self.should_prune(step):
                    return step
            return None
        last = upto if self.end_step == -1 else min(upto, self.end_step)
        if last < self.begin_step:
            return None
        step = (
            self.begin_step
            + (last - self.begin_step) // self.frequency * self.frequency
        )
        return step if step > after else None

    def __call__(self, step):
        return self.should_prune(step), self.sparsity(step)

    def get_config(self):
        return {
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "frequency": self.frequency,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="keras_tricks")
class ConstantSparsity(PruningSchedule):
    """Prune to one fixed sparsity at every update.

    Use it to fine-tune a trained model at a known sparsity, or as the simplest
    baseline. The first update (at `begin_step`) removes the full fraction at
    once; later updates re-rank the weights that survive training.

    Args:
        target_sparsity: float in `[0, 1)`, fraction of each pruned weight set
            to zero.
        begin_step: int, first step at which the masks are updated.
            Defaults to `0`.
        end_step: int, last step at which they may be updated, or `-1` for no
            end. Defaults to `-1`.
        frequency: int, number of steps between two updates. Defaults to `100`.

    Returns:
        `schedule(step)` returns `(should_prune, sparsity)`.

    Example:
    >>> schedule = keras_tricks.pruning.ConstantSparsity(0.5, begin_step=0)
    >>> schedule(0)
    (True, 0.5)

    Reference:
    - [TensorFlow Model Optimization](https://www.tensorflow.org/model_optimization/guide/pruning)
    """

    def __init__(self, target_sparsity, begin_step=0, end_step=-1, frequency=100):
        _checks.check_range("target_sparsity", target_sparsity, 0.0, 1.0)
        super().__init__(begin_step=begin_step, end_step=end_step, frequency=frequency)
        self.target_sparsity = target_sparsity

    def sparsity(self, step):
        step = _check_step(step)
        if _is_python_int(step):
            return float(self.target_sparsity)
        return keras.ops.convert_to_tensor(self.target_sparsity, "float32")

    def get_config(self):
        return {"target_sparsity": self.target_sparsity, **super().get_config()}


@keras.saving.register_keras_serializable(package="keras_tricks")
class PolynomialDecay(PruningSchedule):
    """Raise the sparsity from `initial_sparsity` to `final_sparsity` polynomially.

    The gradual pruning schedule of Zhu & Gupta: many weights go early, when
    the network has redundancy to spare, and fewer near the end, so that
    training can recover between updates:

        p = clip((step - begin_step) / (end_step - begin_step), 0, 1)
        sparsity = final_sparsity + (initial_sparsity - final_sparsity) * (1 - p)**power

    Args:
        initial_sparsity: float in `[0, 1)`, sparsity at `begin_step`.
        final_sparsity: float in `[0, 1)`, sparsity at and after `end_step`.
        begin_step: int, first step at which the masks are updated.
        end_step: int, step at which `final_sparsity` is reached and updates
            stop; must be `>= begin_step`.
        power: float, exponent of the decay. Defaults to `3`.
        frequency: int, number of steps between two updates. Defaults to `100`.

    Returns:
        `schedule(step)` returns `(should_prune, sparsity)`.

    Example:
    >>> schedule = keras_tricks.pruning.PolynomialDecay(0.0, 0.8, 0, 1000)
    >>> round(schedule.sparsity(500), 3)
    0.7

    Reference:
    - [Zhu & Gupta, 2017](https://arxiv.org/abs/1710.01878)
    """

    def __init__(
        self,
        initial_sparsity,
        final_sparsity,
        begin_step,
        end_step,
        power=3,
        frequency=100,
    ):
        _checks.check_range("initial_sparsity", initial_sparsity, 0.0, 1.0)
        _checks.check_range("final_sparsity", final_sparsity, 0.0, 1.0)
        _checks.check_positive("power", power)
        _checks.check_int("end_step", end_step, minimum=0)
        super().__init__(begin_step=begin_step, end_step=end_step, frequency=frequency)
        self.initial_sparsity = initial_sparsity
        self.final_sparsity = final_sparsity
        self.power = power

    def sparsity(self, step):
        step = _check_step(step)
        span = max(self.end_step - self.begin_step, 1)
        initial, final = float(self.initial_sparsity), float(self.final_sparsity)
        if _is_python_int(step):
            progress = min(max((step - self.begin_step) / span, 0.0), 1.0)
            return final + (initial - final) * (1.0 - progress) ** self.power
        step = keras.ops.cast(step, "float32")
        progress = keras.ops.clip((step - self.begin_step) / span, 0.0, 1.0)
        return final + (initial - final) * keras.ops.power(1.0 - progress, self.power)

    def get_config(self):
        return {
            "initial_sparsity": self.initial_sparsity,
            "final_sparsity": self.final_sparsity,
            "begin_step": self.begin_step,
            "end_step": self.end_step,
            "power": self.power,
            "frequency": self.frequency,
        }
