"""What `CyclicalLR` and `WarmupLR` share: drive the optimizer's rate per batch."""

import keras

from keras_tricks.schedules._interface import check_float_learning_rate, check_verbose


class ScheduleCallback(keras.callbacks.Callback):
    """Set the optimizer's learning rate from `self.schedule` before every batch.

    The position is `model.optimizer.iterations`, not a counter of its own, so
    a run restored by `keras.callbacks.BackupAndRestore` (which restores the
    optimizer's variables) picks the schedule up where it stopped. (Keras 3's
    `BackupAndRestore` restores the epoch, not the step within it: after a
    mid-epoch backup `fit()` runs that epoch's batches again, at the restored,
    later positions; docs/scaling.md shows an exact resume.) The rate is
    written into the batch and epoch `logs` as `"learning_rate"`.

    The rate is kept as a Python float, never as a backend array: on JAX the
    train step donates the buffers of the state it is given (the learning-rate
    variable's among them), so an array assigned to the optimizer before the
    step is deleted after it. Reading `self.model` on JAX first syncs the
    train state into the variables (Keras's `Callback.model` does this), so
    `iterations` is current and the next step starts from the rate set here.
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        check_verbose(verbose)
        self.schedule = schedule
        self.verbose = verbose
        self._learning_rate = None

    def on_train_begin(self, logs=None):
        check_float_learning_rate(self.model.optimizer, type(self).__name__)

    def on_train_batch_begin(self, batch, logs=None):
        optimizer = self.model.optimizer
        self._learning_rate = self.learning_rate_at(optimizer.iterations)
        optimizer.learning_rate = self._learning_rate

    def learning_rate_at(self, step):
        """The schedule's rate at `step`, as a Python float."""
        return float(keras.ops.convert_to_numpy(self.schedule(step)))

    def on_train_batch_end(self, batch, logs=None):
        if logs is not None and self._learning_rate is not None:
            logs["learning_rate"] = self._learning_rate

    def on_epoch_end(self, epoch, logs=None):
        if self._learning_rate is None:
            return
        if logs is not None:
            logs["learning_rate"] = self._learning_rate
        if self.verbose:
            print(
                f"\nEpoch {epoch + 1}: {type(self).__name__} learning rate "
                f"{self._learning_rate:.6g}."
            )
