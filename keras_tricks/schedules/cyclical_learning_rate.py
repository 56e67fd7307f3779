"""The cyclical learning rate of Smith (2017)."""

import math

import keras
from keras import ops

from keras_tricks._checks import (
    check_choice,
    check_int,
    check_learning_rate,
    check_range,
)
from keras_tricks.schedules._steps import as_step, divide

_MODES = ("triangular", "triangular2", "exp_range")


@keras.saving.register_keras_serializable(package="keras_tricks")
class CyclicalLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """Cyclical learning rate: a triangle wave between two bounds.

    The rate climbs linearly from `base_learning_rate` to `max_learning_rate`
    over `step_size` steps, falls back over the next `step_size` steps, and
    repeats. With `step` counted from 0:

    ```
    cycle = floor(1 + step / (2 * step_size))
    x = |step / step_size - 2 * cycle + 1|
    lr = base + (max - base) * max(0, 1 - x) * scale
    ```

    where `scale` is `1` (`"triangular"`), `1 / 2**(cycle - 1)`
    (`"triangular2"`: the amplitude halves every cycle) or `gamma**step`
    (`"exp_range"`). Everything is `keras.ops` on the step, so the schedule runs
    in graphs and under XLA, and accepts a tensor of steps. Integer steps (the
    optimizer's int64 `iterations`, a Python int) are divided in int64, so the
    position in the cycle is exact at any step, past float32's 2**24 too;
    float steps are computed in their own precision (float64 kept, others in
    float32).

    Pick the bounds with the LR range test (`keras_tricks.schedules.LRFinder`)
    and a `step_size` of 2 to 8 epochs' worth of steps.

    Args:
        base_learning_rate: float, `>= 0`, lower bound of the cycle.
            Defaults to `1e-4`.
        max_learning_rate: float, upper bound of the cycle, `>= base_learning_rate`.
            Defaults to `1e-2`.
        step_size: int, steps in half a cycle, `> 0`. Defaults to `2000`.
        mode: str, one of `"triangular"`, `"triangular2"`, `"exp_range"`.
            Defaults to `"triangular"`.
        gamma: float in `(0, 1]`, decay base of `"exp_range"` (ignored
            otherwise).
            Defaults to `1.0`.
        name: str, name scope of the ops. Defaults to `"CyclicalLearningRate"`.

    Returns:
        Calling the schedule with a step (scalar or tensor) returns the float32
        learning rate(s) at that step.

    Example:
    >>> schedule = keras_tricks.schedules.CyclicalLearningRate(
    ...     base_learning_rate=1e-3, max_learning_rate=1e-1, step_size=400)
    >>> optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)

    Note:
        TF Addons' `CyclicalLearningRate` took the scale as a Python callable,
        which its config could not hold; here the mode is a string and `gamma`
        a number. Its `"exp_range"` used `gamma**step` as here (Smith's paper),
        not `gamma**cycle`.

    Reference:
    - [Smith, 2017](https://arxiv.org/abs/1506.01186)
    """

    def __init__(
        self,
        base_learning_rate=1e-4,
        max_learning_rate=1e-2,
        step_size=2000,
        mode="triangular",
        gamma=1.0,
        name="CyclicalLearningRate",
    ):
        base = check_learning_rate("base_learning_rate", base_learning_rate)
        top = check_learning_rate("max_learning_rate", max_learning_rate)
        if top < base:
            raise ValueError(
                "`max_learning_rate` must be >= base_learning_rate="
                f"{base_learning_rate!r}. Received: max_learning_rate="
                f"{max_learning_rate!r}"
            )
        check_int("step_size", step_size, minimum=1)
        check_choice("mode", mode, _MODES)
        # gamma > 1 would grow gamma**step past float32 into an infinite rate.
        check_range("gamma", gamma, 0.0, 1.0, low_closed=False, high_closed=True)
        super().__init__()
        self.base_learning_rate = base_learning_rate
        self.max_learning_rate = max_learning_rate
        self.step_size = step_size
        self.mode = mode
        self.gamma = gamma
        self.name = name

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = as_step(step)
            # x = |step / step_size - 2 * cycle + 1| written as |r / step_size - 1|
            # with r = step mod (2 * step_size): for integer steps r and the
            # cycle come from int64 arithmetic, exact at any step, where the
            # direct form in float32 loses the step's digits past 2**24.
            completed, position = divide(step, 2 * self.step_size)
            cycle = completed + 1.0
            x = ops.abs(position / float(self.step_size) - 1.0)
            height = ops.maximum(0.0, 1.0 - x)
            if self.mode == "triangular2":
                height = height / ops.power(2.0, cycle - 1.0)
            elif self.mode == "exp_range":
                # gamma**step as exp(step * log(gamma)) with the log taken in
                # float64: float32(gamma)**step drifts by step * 3e-8. The
                # step's own rounding to float32 changes the result by at most
                # |step * log(gamma)| * 6e-8 relative, under 6e-6 wherever the
                # result is above float32's smallest normal number.
                height = height * ops.exp(
                    ops.cast(step, "float32") * math.log(self.gamma)
                )
            amplitude = float(self.max_learning_rate) - float(self.base_learning_rate)
            return float(self.base_learning_rate) + amplitude * height

    def get_config(self):
        return {
            "base_learning_rate": self.base_learning_rate,
            "max_learning_rate": self.max_learning_rate,
            "step_size": self.step_size,
            "mode": self.mode,
            "gamma": self.gamma,
            "name": self.name,
        }
