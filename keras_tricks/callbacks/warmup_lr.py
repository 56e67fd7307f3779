"""A callback that warms the learning rate up before handing over."""

import keras

from keras_tricks.callbacks._schedule_callback import ScheduleCallback
from keras_tricks.schedules import Warmup


@keras.saving.register_keras_serializable(package="keras_tricks")
class WarmupLR(ScheduleCallback):
    """Warmup as a callback, for models compiled with a float learning rate.

    Before every training batch it evaluates a `keras_tricks.schedules.Warmup`
    at `model.optimizer.iterations` and assigns the result to the optimizer: a
    linear ramp (or a constant low rate) for `warmup_steps` steps, then
    `learning_rate` (a float, or any schedule, which then sees
    `step - warmup_steps`). The rate goes into the batch and epoch `logs` as
    `"learning_rate"`. A run restored by `keras.callbacks.BackupAndRestore`
    continues where it stopped.

    Args:
        learning_rate: float or `LearningRateSchedule`, what follows the warmup
            (e.g. the rate from `scale_learning_rate`). Defaults to `0.1`.
        warmup_steps: int, `>= 0`, length of the warmup in steps.
            Defaults to `1000`.
        initial_learning_rate: float, `>= 0`, rate at step 0.
            Defaults to `0.0`.
        mode: str, `"linear"` or `"constant"`. Defaults to `"linear"`.
        verbose: int, `1` prints the rate at the end of each epoch.
            Defaults to `0`.

    Example:
    >>> lr = keras_tricks.schedules.scale_learning_rate(0.1, batch_size=1024)
    >>> warmup = keras_tricks.callbacks.WarmupLR(lr, warmup_steps=5 * steps_per_epoch)
    >>> model.fit(x, y, batch_size=1024, epochs=90, callbacks=[warmup])

    Note:
        Named `WarmupLR`, not `Warmup`, because Keras registers classes by
        name: `keras_tricks>Warmup` is the schedule. `ValueError` if the
        optimizer's learning rate is already a schedule.

    Reference:
    - [Goyal et al., 2017](https://arxiv.org/abs/1706.02677)
    """

    def __init__(
        self,
        learning_rate=0.1,
        warmup_steps=1000,
        initial_learning_rate=0.0,
        mode="linear",
        verbose=0,
    ):
        schedule = Warmup(
            learning_rate,
            warmup_steps,
            initial_learning_rate=initial_learning_rate,
            mode=mode,
        )
        super().__init__(schedule, verbose=verbose)

    def get_config(self):
        config = self.schedule.get_config()
        config.pop("name")
        return {**config, "verbose": self.verbose}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config["learning_rate"], dict):
            config["learning_rate"] = keras.saving.deserialize_keras_object(
                config["learning_rate"]
            )
        return cls(**config)
