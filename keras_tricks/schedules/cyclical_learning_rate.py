"""The cyclical learning rate of Smith (2017)."""

import math

import keras
from keras import ops

from keras_tricks._checks import check_choice, check_int, check_number, check_positive

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
    in graphs and under XLA, and accepts a tensor of steps.

    Pick the bounds with the LR range test (`keras_tricks.callbacks.LRFinder`)
    and a `step_size` of 2 to 8 epochs' worth of steps.

    Args:
        base_learning_rate: float, lower bound of the cycle. Defaults to `1e-4`.
        max_learning_rate: float, upper bound of the cycle, `>= base_learning_rate`.
            Defaults to `1e-2`.
        step_size: int, steps in half a cycle, `> 0`. Defaults to `2000`.
        mode: str, one of `"triangular"`, `"triangular2"`, `"exp_range"`.
            Defaults to `"triangular"`.
        gamma: float, `> 0`, decay base of `"exp_range"` (ignored otherwise).
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
        base = check_positive("base_learning_rate", base_learning_rate, allow_zero=True)
        top = check_number("max_learning_rate", max_learning_rate)
        if top < base:
            raise ValueError(
                "`max_learning_rate` must be >= base_learning_rate="
                f"{base_learning_rate!r}. Received: max_learning_rate="
                f"{max_learning_rate!r}"
            )
        check_int("step_size", step_size, minimum=1)
        check_choice("mode", mode, _MODES)
        check_positive("gamma", gamma)
        super().__init__()
        self.base_learning_rate = base_learning_rate
        self.max_learning_rate = max_learning_rate
        self.step_size = step_size
        self.mode = mode
        self.gamma = gamma
        self.name = name

    def __call__(self, step):
        with keras.name_scope(self.name):
            step = ops.cast(step, "float32")
            step_size = float(self.step_size)
            # x = |step / step_size - 2 * cycle + 1| written as |r / step_size - 1|
            # with r = step mod (2 * step_size): exact in float32 for integer
            # steps, where the direct form loses digits to cancellation.
            period = 2.0 * step_size
            position = ops.mod(step, period)
            cycle = ops.round((step - position) / period) + 1.0
            x = ops.abs(position / step_size - 1.0)
            height = ops.maximum(0.0, 1.0 - x)
            if self.mode == "triangular2":
                height = height / ops.power(2.0, cycle - 1.0)
            elif self.mode == "exp_range":
                # gamma**step as exp(step * log(gamma)) with the log taken in
                # float64: float32(gamma)**step drifts by step * 3e-8.
                height = height * ops.exp(step * math.log(self.gamma))
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
