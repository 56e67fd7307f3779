"""What `CyclicalLR` and `WarmupLR` share: drive the optimizer's rate per batch."""

import numbers

import keras



def check_verbose(value):
    """Return `verbose` as an int `>= 0` (a bool counts, as in Keras's `fit`)."""
    if not isinstance(value, numbers.Integral) or value < 0:
        raise ValueError(
            f"`verbose` must be an integer >= 0 (0 is silent). Received: verbose={value!r}"
        )
    return int(value)


def check_float_learning_rate(optimizer, owner):
    """Refuse an optimizer whose learning rate is a schedule or a callable."""
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


class ScheduleCallback(keras.callbacks.Callback):
    """Set the optimizer's learning rate from `self.schedule` before every batch.

    The position is `model.optimizer.iterations`, not a counter of its own, so
    a run restored by `keras.callbacks.BackupAndRestore` (which restores the
    optimizer's variables) picks the schedule up where it stopped. The rate is
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
