"""Step decay: multiply the learning rate by a factor every few steps."""

import math

import keras
from keras import ops

from keras_tricks._checks import check_int, check_learning_rate, check_range
from keras_tricks.schedules._steps import as_step, divide


@keras.saving.register_keras_serializable(package="keras_tricks")
class StepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Step decay: `lr = initial_learning_rate * factor**floor(step / step_size)`.

    The classic "halve the learning rate every 5 epochs": pass
    `step_size=5 * steps_per_epoch` and `factor=0.5`. For several decay points
    at irregular steps use Keras's `PiecewiseConstantDecay`; for a smooth decay
    Keras's `ExponentialDecay` or `InverseTimeDecay`.

    Integer steps are divided in int64, so the number of decays is exact at
    any step (a float32 step would lose its digits past 2**24).

    Args:
        initial_learning_rate: float, `>= 0`, the rate for the first
            `step_size` steps. Defaults to `0.1`.
        step_size: int, `> 0`, steps between two decays. Defaults to `1000`.
        factor: float in `(0, 1]`, multiplier applied at each decay.
            Defaults to `0.5`.
        name: str, name scope of the ops. Defaults to `"StepDecay"`.

    Returns:
        Calling the schedule with a step (scalar or tensor) returns the float32
        learning rate(s) at that step.

    Example:
    >>> steps_per_epoch = 100
    >>> schedule = keras_tricks.schedules.StepDecay(
    ...     0.1, step_size=5 * steps_per_epoch, factor=0.5)
    >>> optimizer = keras.optimizers.SGD(learning_rate=schedule)

    Note:
        Keras's `ExponentialDecay(..., staircase=True)` computes the same values
        as `initial * decay_rate**floor(step / decay_steps)`; this class exists
        for the name, the argument checks (a factor above 1 is refused) and
        composition with `Warmup`.

    Reference:
    - [Krizhevsky et al., 2012](https://papers.nips.cc/paper/4824) (divide by
      10 when the validation error stops improving)
    """

    def __init__(
        self, initial_learning_rate=0.1, step_size=1000, factor=0.5, name="StepDecay"
    ):
        check_learning_rate("initial_learning_rate", initial_learning_rate)
        check_int("step_size", step_size, minimum=1)
        check_range("factor", factor, 0.0, 1.0, low_closed=False, high_closed=True)
        super().__init__()
        self.initial_learning_rate = initial_learning_rate
        self.step_size = step_size
        self.factor = factor
        self.name = name

    def __call__(self, step):
        with keras.name_scope(self.name):
            # floor(step / step_size) in int64 for integer steps: exact at any
            # step, where a float32 step loses its digits past 2**24.
            decays, _ = divide(as_step(step), self.step_size)
            # factor**decays as exp(decays * log(factor)) with the log taken in
            # float64: float32(factor)**decays drifts by decays * 6e-8.
            return float(self.initial_learning_rate) * ops.exp(
                decays * math.log(self.factor)
            )

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "step_size": self.step_size,
            "factor": self.factor,
            "name": self.name,
        }
