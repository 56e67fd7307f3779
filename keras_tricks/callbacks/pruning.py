"""The callback that drives pruning during `fit()`."""

import keras
import numpy as np

from keras_tricks.pruning._wrapper import pruning_wrappers


@keras.saving.register_keras_serializable(package="keras_tricks")
class Pruning(keras.callbacks.Callback):
    """Advance the pruning schedules and update the masks during `fit()`.

    Before every training batch it reads the step from
    `model.optimizer.iterations` (so a run resumed by `BackupAndRestore`, or a
    model loaded from a `.keras` file, continues at the same place in the
    schedule) and, for every `PruneLowMagnitude` layer whose schedule prunes at
    that step, recomputes the masks from the current weights. It writes the
    overall sparsity of the pruned weights into `logs` as `pruning/sparsity`
    (and, with `log_per_layer=True`, one `pruning/<layer>` entry per wrapped
    layer), so `History`, `TensorBoard` and the progress bar see it.

    Args:
        log_per_layer: bool, also log each wrapped layer's sparsity.
            Defaults to `False`.

    Example:
    >>> pruned.fit(x, y, callbacks=[keras_tricks.callbacks.Pruning()])  # doctest: +SKIP

    Note:
        With `steps_per_execution > 1` callbacks see only every n-th batch;
        masks are then updated only when a pruning step falls on such a batch.

    Reference:
    - [Zhu & Gupta, 2017](https://arxiv.org/abs/1710.01878)
    """

    def __init__(self, log_per_layer=False):
        super().__init__()
        if not isinstance(log_per_layer, bool):
            raise ValueError(
                f"`log_per_layer` must be a bool. Received: log_per_layer={log_per_layer!r}"
            )
        self.log_per_layer = log_per_layer
        self._wrappers = []
        self._counts = {}

    def on_train_begin(self, logs=None):
        self._wrappers = pruning_wrappers(self.model)
        if not self._wrappers:
            raise ValueError(
                "`model` has no PruneLowMagnitude layers: make it prunable with "
                "`keras_tricks.pruning.prune_low_magnitude` first. "
                f"Received: model={self.model.name!r}"
            )
        self._counts = {}
        for wrapper in self._wrappers:
            counts = []
            for mask in wrapper._masks:
                values = keras.ops.convert_to_numpy(mask)
                counts.append((int(values.size - np.count_nonzero(values)), values.size))
            self._counts[wrapper.name] = counts

    def on_train_batch_begin(self, batch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        for wrapper in self._wrappers:
            schedule = wrapper.pruning_schedule
            if schedule.should_prune(step):
                counts = wrapper.update_masks(schedule.sparsity(step))
                self._counts[wrapper.name] = counts

    def _log(self, logs):
        if logs is None:
            return
        zeros = sum(z for counts in self._counts.values() for z, _ in counts)
        size = sum(n for counts in self._counts.values() for _, n in counts)
        logs["pruning/sparsity"] = zeros / size if size else 0.0
        if self.log_per_layer:
            for name, counts in self._counts.items():
                total = sum(n for _, n in counts)
                logs[f"pruning/{name}"] = sum(z for z, _ in counts) / total if total else 0.0

    def on_train_batch_end(self, batch, logs=None):
        self._log(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._log(logs)

    def get_config(self):
        return {"log_per_layer": self.log_per_layer}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
