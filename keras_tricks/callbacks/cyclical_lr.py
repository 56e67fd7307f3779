"""A callback that drives the optimizer with a cyclical learning rate."""

import keras

from keras_tricks.callbacks._schedule_callback import ScheduleCallback
from keras_tricks.schedules import CyclicalLearningRate


@keras.saving.register_keras_serializable(package="keras_tricks")
class CyclicalLR(ScheduleCallback):
    """Cyclical learning rate as a callback, for models compiled with a float rate.

    Before every training batch it evaluates a
    `keras_tricks.schedules.CyclicalLearningRate` at `model.optimizer.iterations`
    and assigns the result to the optimizer (the maths lives in the schedule
    only). The rate goes into the batch and epoch `logs` as `"learning_rate"`,
    so `History`, `CSVLogger` and `TensorBoard` record it when they come after
    this callback in the list.

    Because the position is the optimizer's step counter, a run interrupted and
    restored with `keras.callbacks.BackupAndRestore` continues the same cycle.
    Use the schedule directly (`SGD(learning_rate=CyclicalLearningRate(...))`)
    when you do not need a callback.

    Args:
        base_learning_rate: float, lower bound of the cycle. Defaults to `1e-4`.
        max_learning_rate: float, upper bound, `>= base_learning_rate`.
            Defaults to `1e-2`.
        step_size: int, steps in half a cycle, `> 0`. Defaults to `2000`.
        mode: str, `"triangular"`, `"triangular2"` or `"exp_range"`.
            Defaults to `"triangular"`.
        gamma: float, `> 0`, decay base of `"exp_range"`. Defaults to `1.0`.
        verbose: int, `1` prints the rate at the end of each epoch.
            Defaults to `0`.

    Example:
    >>> model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "mse")
    >>> clr = keras_tricks.callbacks.CyclicalLR(
    ...     1e-3, 1e-1, step_size=4 * steps_per_epoch)
    >>> model.fit(
    ...     x, y, epochs=16, callbacks=[clr, keras.callbacks.CSVLogger("log.csv")])

    Note:
        With `steps_per_execution > 1` Keras calls batch callbacks once per
        execution, so the rate changes every `steps_per_execution` steps; pass
        the schedule to the optimizer instead to change it every step.
        `ValueError` if the optimizer's learning rate is already a schedule.

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
        verbose=0,
    ):
        schedule = CyclicalLearningRate(
            base_learning_rate, max_learning_rate, step_size, mode=mode, gamma=gamma
        )
        super().__init__(schedule, verbose=verbose)

    def get_config(self):
        config = self.schedule.get_config()
        config.pop("name")
        return {**config, "verbose": self.verbose}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
