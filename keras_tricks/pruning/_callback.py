"""The `Pruning` callback, which drives the masks during `fit()`.

Public as `keras_tricks.callbacks.Pruning` (registered as
`keras_tricks>Pruning`); it lives here, beside the wrapper it drives, and uses
only the methods `PruneLowMagnitude` documents for it.
"""

import json
import warnings

import keras
import numpy as np

from keras_tricks import _checks
from keras_tricks.pruning._clone import wrapper_paths
from keras_tricks.pruning._select import compile_function
from keras_tricks.pruning._wrapper import check_sparsity


@keras.saving.register_keras_serializable(package="keras_tricks")
class Pruning(keras.callbacks.Callback):
    """Advance the pruning schedules and update the masks during `fit()`.

    Before every training batch it takes the step from the optimizer: the
    step of a batch is `model.optimizer.iterations`, read at the epoch's
    start, plus the batch's index in the epoch. The callback keeps no step of
    its own, so a run resumed by `BackupAndRestore`, or a model loaded from a
    `.keras` file, continues at the same place in the schedule (the masks are
    weights of the model, the step counter a variable of the optimizer). Then,
    for every `PruneLowMagnitude` layer (nested models
    included) whose schedule prunes at that step, recomputes the masks from
    the current weights, all layers in one compiled function. It writes the
    overall sparsity of the pruned weights into `logs` as `pruning/sparsity`
    (and, with `log_per_layer=True`, one `pruning/<layer>` entry per wrapped
    layer), so `History`, `TensorBoard` and the progress bar see it.

    At the end of `fit()` it warns when a schedule with a finite `end_step`
    was left short of it: the last training step came before `end_step` and
    the sparsity the schedule had reached is more than 0.1 point below its
    target (`schedule.sparsity(end_step)`). The warning gives the sparsity of
    the weights that schedule prunes, the target, and the step reached against
    `end_step`. `ConstantSparsity` with `end_step=-1` never warns.

    Backends: TensorFlow, JAX and PyTorch. On JAX it also zeroes the stored
    values of pruned weights at the end of every epoch and of training (the
    wrapper masks them in the forward pass there; see `PruneLowMagnitude`).

    Args:
        log_per_layer: bool, also log each wrapped layer's sparsity.
            Defaults to `False`.

    Example:
    >>> pruned.fit(x, y, callbacks=[keras_tricks.callbacks.Pruning()])  # doctest: +SKIP

    Note:
        With `steps_per_execution > 1` callbacks run only between executions.
        A call that finds the step counter at `now` after `prev` prunes when
        any scheduled step lies in `(prev, now]`, at the sparsity of the
        latest one: each scheduled update happens at the first execution
        boundary at or after its step. The first call of a `fit()` looks
        back `steps_per_execution` steps, so updates that fell inside the last
        execution of the previous `fit()` are not lost.

    Reference:
    - [Zhu & Gupta, 2017](https://arxiv.org/abs/1710.01878)
    """

    def __init__(self, log_per_layer=False):
        super().__init__()
        self.log_per_layer = _checks.check_bool("log_per_layer", log_per_layer)
        self._wrappers = []
        self._names = []
        self._counts = {}
        self._last_step = None
        self._epoch_step = None
        self._compiled_for = None
        self._update = None
        self._logs = None
        self._steps_per_execution = 1

    def on_train_begin(self, logs=None):
        found = wrapper_paths(self.model)
        if not found:
            raise ValueError(
                "`model` has no PruneLowMagnitude layers: make it prunable with "
                "`keras_tricks.pruning.prune_low_magnitude` first. "
                f"Received: model={self.model.name!r}"
            )
        self._names = [path for path, _ in found]
        self._wrappers = [wrapper for _, wrapper in found]
        if self._compiled_for != [id(w) for w in self._wrappers]:
            self._compiled_for = [id(w) for w in self._wrappers]
            self._update = compile_function(self._assign)
        self._counts = {}
        for name, wrapper in found:
            wrapper._set_driven(True)
            self._counts[name] = wrapper._mask_zero_counts()
        self._last_step = None
        self._epoch_step = None
        self._logs = None
        self._steps_per_execution = max(
            int(getattr(self.model, "steps_per_execution", 1) or 1), 1
        )

    def on_train_end(self, logs=None):
        for wrapper in self._wrappers:
            wrapper._set_driven(False)
        self._apply_masks()
        self._epoch_step = None
        self._warn_if_short()

    def _warn_if_short(self):
        """Warn for each schedule whose `end_step` training stopped short of."""
        if not self._wrappers:
            return
        steps = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        # The last step whose masks were applied: the last batch begin seen.
        last = steps - 1 if self._last_step is None else self._last_step
        groups = {}  # one warning per schedule, however many layers share it
        for name, wrapper in zip(self._names, self._wrappers, strict=True):
            schedule = wrapper.pruning_schedule
            end_step = getattr(schedule, "end_step", -1)
            if end_step == -1 or last >= end_step:
                continue
            key = (
                type(schedule).__name__,
                json.dumps(schedule.get_config(), sort_keys=True),
            )
            groups.setdefault(key, (schedule, []))[1].append(name)
        for schedule, names in groups.values():
            target = float(schedule.sparsity(schedule.end_step))
            updated = schedule._latest_pruning_step(-1, last) if last >= 0 else None
            reached = 0.0 if updated is None else float(schedule.sparsity(updated))
            counts = [count for name in names for count in self._counts[name]]
            size = sum(n for _, n in counts)
            sparsity = sum(z for z, _ in counts) / size if size else 0.0
            # Less sparse than asked, by the schedule and by the weights.
            if reached >= target - 1e-3 or sparsity >= target - 1e-3:
                continue
            when = (
                "never updated"
                if updated is None
                else f"last updated at step {updated}"
            )
            warnings.warn(
                "Pruning stopped short of the schedule's end: "
                f"{type(schedule).__name__} "
                f"reaches its target sparsity {target:.1%} "
                f"at end_step={schedule.end_step}, "
                f"but training ended at step {steps} (masks {when}); "
                "the weights it prunes "
                f"({len(names)} layer{'s' if len(names) != 1 else ''}) are at "
                f"{sparsity:.1%} sparsity. Train for more steps (at least "
                f"{schedule.end_step + 1} in all) or lower `end_step`.",
                stacklevel=2,
            )

    def _assign(self, updates):
        # One graph for every wrapper updated at this step: no per-op or
        # per-layer dispatch, no host reads.
        for key in sorted(updates, key=int):
            self._wrappers[int(key)]._assign_masks(updates[key])

    def on_epoch_begin(self, epoch, logs=None):
        # One read of the step counter per epoch: in `fit()` the step at a
        # batch begin is the epoch's first step plus the batch index, since
        # only an epoch's last execution can run fewer than
        # `steps_per_execution` steps. A device read per batch cost 3 % of a
        # 14 ms step.
        self._epoch_step = int(
            keras.ops.convert_to_numpy(self.model.optimizer.iterations)
        )

    def on_train_batch_begin(self, batch, logs=None):
        # `self.model` is read only when masks change: on JAX every read
        # copies the training state back into the variables.
        if self._epoch_step is None:  # called outside `fit()`'s epoch loop
            step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        else:
            step = self._epoch_step + int(batch)
        if self._last_step is None or step <= self._last_step:
            after = step - self._steps_per_execution
        else:
            after = self._last_step
        self._last_step = step
        updates = {}
        for index, wrapper in enumerate(self._wrappers):
            schedule = wrapper.pruning_schedule
            scheduled = schedule._latest_pruning_step(after, step)
            if scheduled is None:
                continue
            sparsity = check_sparsity(
                f"{type(schedule).__name__}.sparsity({scheduled})",
                schedule.sparsity(scheduled),
            )
            keeps = wrapper._keep_counts(sparsity)
            updates[str(index)] = np.asarray(keeps, "int32")
        if updates:
            self._logs = None
            self._sync_variables()
            self._update(updates)
            for key, keeps in updates.items():
                index = int(key)
                self._counts[self._names[index]] = self._wrappers[index]._zero_counts(
                    [int(k) for k in keeps]
                )

    def _sync_variables(self):
        """Give the model's variables their current values before assigning to them.

        On JAX, `fit()` keeps the training state apart from the variables
        within an epoch; reading `Callback.model` copies it back (and makes
        `fit()` take the state from the variables for its next step).
        Elsewhere this is a plain attribute read.
        """
        return self.model

    def _log(self, logs):
        if logs is None:
            return
        if self._logs is None:
            self._logs = self._sparsity_logs()
        logs.update(self._logs)

    def _sparsity_logs(self):
        zeros = sum(z for counts in self._counts.values() for z, _ in counts)
        size = sum(n for counts in self._counts.values() for _, n in counts)
        result = {"pruning/sparsity": zeros / size if size else 0.0}
        if self.log_per_layer:
            for name, counts in self._counts.items():
                total = sum(n for _, n in counts)
                result[f"pruning/{name}"] = (
                    sum(z for z, _ in counts) / total if total else 0.0
                )
        return result

    def on_train_batch_end(self, batch, logs=None):
        self._log(logs)

    def on_epoch_end(self, epoch, logs=None):
        self._log(logs)
        self._apply_masks()

    def _apply_masks(self):
        """On JAX, zero the pruned weights for real (elsewhere they are zero)."""
        if self._wrappers and keras.backend.backend() == "jax":
            self._sync_variables()
            for wrapper in self._wrappers:
                wrapper.apply_masks()

    def get_config(self):
        return {"log_per_layer": self.log_per_layer}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
