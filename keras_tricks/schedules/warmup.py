"""Warmup in front of any learning-rate schedule (Goyal et al., 2017)."""

import keras
from keras import ops

from keras_tricks._checks import check_choice, check_int, check_learning_rate
from keras_tricks.schedules._steps import as_step, clamp_at_zero, is_integer

_MODES = ("linear", "constant")
_Schedule = keras.optimizers.schedules.LearningRateSchedule


@keras.saving.register_keras_serializable(package="keras_tricks")
class Warmup(_Schedule):
    """Warmup: a low learning rate for the first steps, then any schedule.

    For `step < warmup_steps` the rate is

    ```
    linear:   initial + (target - initial) * step / warmup_steps
    constant: initial
    ```

    with `target = learning_rate(0)`; from `warmup_steps` on it is
    `learning_rate(step - warmup_steps)`. The wrapped schedule therefore starts
    its own clock when the warmup ends: a `CosineDecay(decay_steps=N)` decays
    over the `N` steps after the warmup, a `CyclicalLearningRate` starts its
    first cycle at its base rate. The linear ramp ends exactly at the wrapped
    schedule's first value, so there is no jump at the hand-over. (The constant
    warmup of Goyal et al. jumps by design: from `initial` to the target.)

    Integer steps stay int64 throughout: the wrapped schedule receives the
    exact `step - warmup_steps` at any step, past float32's 2**24 too.

    Warmup is what lets a large batch use the linearly scaled rate of
    `scale_learning_rate`: Goyal et al. ramp over 5 epochs.

    Args:
        learning_rate: float or `keras.optimizers.schedules.LearningRateSchedule`,
            what follows the warmup: a constant target rate, or a schedule
            (`CyclicalLearningRate`, `StepDecay`, Keras's `CosineDecay`, ...).
            A schedule is stored in the config as a nested serialized Keras
            object. Defaults to `0.1`.
        warmup_steps: int, `>= 0`, length of the warmup in steps (`0` hands
            over at once). Defaults to `1000`.
        initial_learning_rate: float, `>= 0`, rate at step 0 (and during a
            constant warmup). Defaults to `0.0`.
        mode: str, `"linear"` or `"constant"`. Defaults to `"linear"`.
        name: str, name scope of the ops. Defaults to `"Warmup"`.

    Returns:
        Calling the schedule with a step (scalar or tensor) returns the float32
        learning rate(s) at that step.

    Example:
    >>> steps_per_epoch = 100
    >>> lr = keras_tricks.schedules.scale_learning_rate(0.1, batch_size=1024)
    >>> cosine = keras.optimizers.schedules.CosineDecay(
    ...     lr, decay_steps=85 * steps_per_epoch)
    >>> schedule = keras_tricks.schedules.Warmup(
    ...     cosine, warmup_steps=5 * steps_per_epoch)
    >>> optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)

    Note:
        Keras's `CosineDecay(warmup_target=..., warmup_steps=...)` has its own
        linear warmup, for cosine decay only; this class puts the same ramp in
        front of any schedule. Wrapped schedules are evaluated at
        `max(step - warmup_steps, 0)`, never at a negative step, and both
        branches are computed and selected with `ops.where`, so a tensor of
        steps and XLA work.

    Reference:
    - [Goyal et al., 2017](https://arxiv.org/abs/1706.02677)
    """

    def __init__(
        self,
        learning_rate=0.1,
        warmup_steps=1000,
        initial_learning_rate=0.0,
        mode="linear",
        name="Warmup",
    ):
        if not isinstance(learning_rate, _Schedule):
            check_learning_rate("learning_rate", learning_rate)
        check_int("warmup_steps", warmup_steps, minimum=0)
        check_learning_rate("initial_learning_rate", initial_learning_rate)
        check_choice("mode", mode, _MODES)
        super().__init__()
        self.learning_rate = learning_rate
        self.warmup_steps = warmup_steps
        self.initial_learning_rate = initial_learning_rate
        self.mode = mode
        self.name = name

    def _after(self, step):
        if isinstance(self.learning_rate, _Schedule):
            return ops.cast(self.learning_rate(step), "float32")
        return ops.full_like(step, float(self.learning_rate), dtype="float32")

    def __call__(self, step):
        with keras.name_scope(self.name):
            # Integer steps stay int64 (what the wrapped schedule receives is
            # then the exact `step - warmup_steps`, at any step); only the
            # ramp's fraction, at most 1, is float.
            step = as_step(step)
            if self.warmup_steps == 0:
                return self._after(step)
            warmup_steps = (
                self.warmup_steps if is_integer(step) else float(self.warmup_steps)
            )
            after = self._after(clamp_at_zero(step - warmup_steps))
            initial = float(self.initial_learning_rate)
            if self.mode == "linear":
                target = self._after(ops.zeros_like(step))
                ramp = ops.cast(ops.clip(step, 0, warmup_steps), "float32")
                during = initial + (target - initial) * (
                    ramp / float(self.warmup_steps)
                )
            else:
                during = ops.full_like(step, initial, dtype="float32")
            return ops.where(step < warmup_steps, during, after)

    def get_config(self):
        learning_rate = self.learning_rate
        if isinstance(learning_rate, _Schedule):
            learning_rate = keras.saving.serialize_keras_object(learning_rate)
        return {
            "learning_rate": learning_rate,
            "warmup_steps": self.warmup_steps,
            "initial_learning_rate": self.initial_learning_rate,
            "mode": self.mode,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["learning_rate"], dict):
            config["learning_rate"] = keras.saving.deserialize_keras_object(
                config["learning_rate"]
            )
        return cls(**config)
