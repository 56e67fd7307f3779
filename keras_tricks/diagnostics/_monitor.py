"""LossCurveMonitor: reads the loss curves during `fit` the way the seeds do."""

import math
import warnings

import keras
import numpy as np

from keras_tricks import _checks
from keras_tricks.diagnostics._report import Report

#: Numeric codes written into the logs; 0 means nothing to report.
DIAGNOSIS_CODES = {
    "nan": 1,
    "divergence": 2,
    "flat_start": 3,
    "oscillation": 4,
    "overfitting": 5,
    "underfitting": 6,
    "small_validation": 7,
}
#: The severity of each diagnosis (see `keras_tricks.diagnostics.SEVERITIES`).
SEVERITY = {
    "nan": "error",
    "divergence": "error",
    "flat_start": "warning",
    "oscillation": "warning",
    "overfitting": "warning",
    "underfitting": "warning",
    "small_validation": "info",
}
_STOPPABLE = (
    "nan",
    "divergence",
    "flat_start",
    "oscillation",
    "overfitting",
    "underfitting",
)


@keras.saving.register_keras_serializable(package="keras_tricks")
class LossCurveMonitor(keras.callbacks.Callback):
    """Watch training and validation losses and say what their shape means.

    The seeds' reading of a loss curve, automated. During `fit` the callback
    recovers each batch's loss from Keras's running mean, and at every epoch
    end it compares training and validation losses. With
    `steps_per_execution=k` in `compile`, Keras calls the callback once per
    execution of `k` batches: each entry of `batch_losses` is then the mean
    loss of one execution (the batch-level checks below count executions,
    not batches). It reports:

    - `nan`: the loss is NaN or Inf, most often a learning rate too high or a
      numerically unstable op.
    - `divergence`: the median of the last 3 batch losses exceeds
      `divergence_factor` times the smaller of the first batch's loss and the
      best such median so far: the learning rate is too high.
    - `flat_start`: over the first `flat_batches` batches the loss fell by
      less than `flat_tolerance` of its start: learning rate too low or bad
      initialization.
    - `oscillation`: over the last `oscillation_window` batches the loss
      jumps up and down (at least 60% sign changes) by more than
      `oscillation_tolerance` of its level with no net progress, while still
      above half the initial loss: learning rate too high.
    - `overfitting`: the validation-minus-training gap grew for `patience`
      epochs in a row and exceeds `gap_tolerance` of the validation loss:
      big gap, increase regularization.
    - `underfitting`: after `patience` epochs there is no gap (within
      `gap_tolerance`) but the training loss is still above
      `high_loss_fraction` of its initial value: increase model capacity.
    - `small_validation`: `validation_size` is below `min_validation_size`,
      so validation statistics are not meaningful (the standard error of an
      accuracy near 0.5 is about `0.5 / sqrt(n)`).

    Each diagnosis is raised once per run as a `UserWarning`, and its code
    (see `DIAGNOSIS_CODES`, 0 for none) is written into the batch and epoch
    `logs` under `log_key`, so `History` records it. Each diagnosis has a
    severity: `nan` and `divergence` are errors, `small_validation` is an
    info, the others warnings; the report fails on any diagnosis. Diagnoses named in
    `stop_on` set `model.stop_training` (like `TerminateOnNaN`, but saying
    why, in `stopped_reason`). After training, `report()` returns a `Report`
    with every diagnosis and the curves.

    Args:
        stop_on: list of diagnosis names that stop training.
            Defaults to `("nan",)`.
        divergence_factor: float > 1. Defaults to `3.0`.
        flat_batches: int >= 2. Defaults to `20`.
        flat_tolerance: float in [0, 1). Defaults to `0.02`.
        oscillation_window: int >= 4. Defaults to `20`.
        oscillation_tolerance: float > 0. Defaults to `0.3`.
        patience: int >= 1, epochs for the gap diagnoses. Defaults to `3`.
        gap_tolerance: float >= 0. Defaults to `0.1`.
        high_loss_fraction: float in (0, 1]. Defaults to `0.5`.
        validation_size: int or `None`, number of validation samples when
            known. Defaults to `None`.
        min_validation_size: int >= 1. Defaults to `1000`.
        log_key: str, the logs key of the diagnosis code.
            Defaults to `"loss_diagnosis"`.
        warn: bool, raise warnings as diagnoses happen. Defaults to `True`.

    Backends: every backend (it reads only the losses in `logs`).

    Example:
    >>> monitor = keras_tricks.diagnostics.LossCurveMonitor(
    ...     stop_on=["nan", "divergence"])
    >>> model.fit(x, y, validation_split=0.2, epochs=10, callbacks=[monitor])
    >>> print(monitor.report())

    Reference:
    - [CS231n, Babysitting the learning process](https://cs231n.github.io/neural-networks-3/#baby)
    """

    def __init__(
        self,
        stop_on=("nan",),
        divergence_factor=3.0,
        flat_batches=20,
        flat_tolerance=0.02,
        oscillation_window=20,
        oscillation_tolerance=0.3,
        patience=3,
        gap_tolerance=0.1,
        high_loss_fraction=0.5,
        validation_size=None,
        min_validation_size=1000,
        log_key="loss_diagnosis",
        warn=True,
    ):
        super().__init__()
        if isinstance(stop_on, str) or not hasattr(stop_on, "__iter__"):
            raise ValueError(
                "`stop_on` must be a list of diagnosis names. "
                f"Received: stop_on={stop_on!r}"
            )
        for name in stop_on:
            _checks.check_choice("stop_on", name, _STOPPABLE)
        self.stop_on = list(stop_on)
        self.divergence_factor = _checks.check_range(
            "divergence_factor", divergence_factor, 1.0, math.inf, low_closed=False
        )
        self.flat_batches = _checks.check_int("flat_batches", flat_batches, minimum=2)
        self.flat_tolerance = _checks.check_range(
            "flat_tolerance", flat_tolerance, 0.0, 1.0
        )
        self.oscillation_window = _checks.check_int(
            "oscillation_window", oscillation_window, minimum=4
        )
        self.oscillation_tolerance = _checks.check_positive(
            "oscillation_tolerance", oscillation_tolerance
        )
        self.patience = _checks.check_int("patience", patience, minimum=1)
        self.gap_tolerance = _checks.check_positive(
            "gap_tolerance", gap_tolerance, allow_zero=True
        )
        self.high_loss_fraction = _checks.check_range(
            "high_loss_fraction",
            high_loss_fraction,
            0.0,
            1.0,
            low_closed=False,
            high_closed=True,
        )
        if validation_size is not None:
            validation_size = _checks.check_int(
                "validation_size", validation_size, minimum=1
            )
        self.validation_size = validation_size
        self.min_validation_size = _checks.check_int(
            "min_validation_size", min_validation_size, minimum=1
        )
        if not isinstance(log_key, str) or not log_key:
            raise ValueError(
                f"`log_key` must be a non-empty string. Received: log_key={log_key!r}"
            )
        self.log_key = log_key
        self.warn = _checks.check_bool("warn", warn)
        self._reset()

    def _reset(self):
        self.batch_losses = []
        self.train_losses = []
        self.val_losses = []
        self.diagnoses = []
        self.stopped_reason = None
        self._medians = []
        self._previous_mean = None
        self._previous_count = 0
        self._epoch = 0
        self._flat_checked = False
        self._last_oscillation_check = 0

    # ----------------------------------------------------------------- events
    def on_train_begin(self, logs=None):
        self._reset()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._previous_mean = None
        self._previous_count = 0

    def on_train_batch_end(self, batch, logs=None):
        if logs is None or "loss" not in logs:
            return
        mean = float(logs["loss"])
        # Keras logs the running mean of the epoch's batches, and with
        # `steps_per_execution` k calls this once per execution with `batch`
        # the index of its last batch: the mean covers `batch + 1` batches
        # (fewer in a short last execution, capped by the epoch's steps).
        count = batch + 1
        steps = (self.params or {}).get("steps")
        if steps:
            count = min(count, int(steps))
        if self._previous_mean is None or count <= self._previous_count:
            loss = mean
        else:  # undo the running mean: the mean loss of this call's batches
            new = count - self._previous_count
            loss = (count * mean - self._previous_count * self._previous_mean) / new
        self._previous_mean = mean
        self._previous_count = count
        self.batch_losses.append(loss)
        code = 0
        if not math.isfinite(mean):
            code = self._diagnose(
                "nan",
                f"the training loss became {mean} at epoch {self._epoch}, "
                f"batch {batch}: "
                "NaNs after a number of iterations come from a learning rate too "
                "high or a numerically unstable op",
                batch,
            )
        else:
            code = self._batch_checks(batch) or code
        if code:
            logs[self.log_key] = code

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        train = float(logs.get("loss", math.nan))
        val = logs.get("val_loss")
        self.train_losses.append(train)
        if val is not None:
            self.val_losses.append(float(val))
        codes = [d["code"] for d in self.diagnoses if d["epoch"] == epoch]
        if not math.isfinite(train) or (val is not None and not math.isfinite(val)):
            codes.append(
                self._diagnose(
                    "nan",
                    f"the {'training' if not math.isfinite(train) else 'validation'} "
                    f"loss is not finite at epoch {epoch}: learning rate too high "
                    "or numerical instability",
                )
            )
        if not self._flat_checked and len(self.batch_losses) >= 6:
            codes.append(self._flat_check(force=True))
        if val is not None:
            codes.append(self._epoch_checks(epoch))
        codes = [c for c in codes if c]
        logs[self.log_key] = max(codes) if codes else 0

    # ----------------------------------------------------------------- checks
    def _diagnose(self, name, message, batch=None):
        if any(d["name"] == name for d in self.diagnoses):
            return DIAGNOSIS_CODES[name]
        entry = {
            "name": name,
            "code": DIAGNOSIS_CODES[name],
            "severity": SEVERITY[name],
            "epoch": self._epoch,
            "batch": batch,
            "message": message,
        }
        self.diagnoses.append(entry)
        if self.warn:
            warnings.warn(f"LossCurveMonitor: {name}: {message}", stacklevel=2)
        if name in self.stop_on and self.model is not None:
            self.model.stop_training = True
            self.stopped_reason = f"stopped training on '{name}': {message}"
            if self.warn:
                warnings.warn(f"LossCurveMonitor: {self.stopped_reason}", stacklevel=2)
        return entry["code"]

    def _batch_checks(self, batch):
        losses = self.batch_losses
        initial = losses[0]
        code = 0
        if len(losses) >= 3:
            median = float(np.median(losses[-3:]))
            best = min([initial, *self._medians])
            self._medians.append(median)
            if median > self.divergence_factor * best:
                code = self._diagnose(
                    "divergence",
                    f"the loss is diverging: the median of the last 3 batches is "
                    f"{median:.4g}, {median / best:.1f}x its best {best:.4g}; the "
                    "learning rate is too high",
                    batch,
                )
        if not self._flat_checked and len(losses) >= self.flat_batches:
            code = self._flat_check() or code
        window = self.oscillation_window
        if len(losses) - self._last_oscillation_check >= window:
            self._last_oscillation_check = len(losses)
            code = self._oscillation_check(losses[-window:], initial, batch) or code
        return code

    def _flat_check(self, force=False):
        self._flat_checked = True
        losses = self.batch_losses[: self.flat_batches]
        k = max(len(losses) // 4, 1)
        start = float(np.median(losses[:k]))
        end = float(np.median(losses[-k:]))
        if not (math.isfinite(start) and math.isfinite(end)) or start <= 0:
            return 0
        drop = (start - end) / start
        if drop < self.flat_tolerance:
            return self._diagnose(
                "flat_start",
                f"the loss is flat at the start: it moved from {start:.4g} to "
                f"{end:.4g} ({100 * drop:.1f}%) over the first {len(losses)} "
                "batches; the learning rate is too low or the initialization is bad",
            )
        return 0

    def _oscillation_check(self, window, initial, batch):
        window = np.asarray(window)
        if not np.all(np.isfinite(window)):
            return 0
        diffs = np.diff(window)
        signs = np.sign(diffs)
        changes = float(np.mean(signs[1:] * signs[:-1] < 0))
        level = float(np.mean(np.abs(window)))
        amplitude = float(np.mean(np.abs(diffs))) / max(level, 1e-12)
        half = len(window) // 2
        progress = np.median(window[:half]) - np.median(window[half:])
        if (
            changes >= 0.6
            and amplitude > self.oscillation_tolerance
            and progress <= 0.05 * level
            and level > 0.5 * initial
        ):
            return self._diagnose(
                "oscillation",
                f"the loss oscillates: {100 * changes:.0f}% sign changes, jumps of "
                f"{100 * amplitude:.0f}% of its level {level:.4g}, no net progress "
                "over the last "
                f"{len(window)} batches; the learning rate is too high",
                batch,
            )
        return 0

    def _epoch_checks(self, epoch):
        code = 0
        if (
            self.validation_size is not None
            and self.validation_size < self.min_validation_size
        ):
            error = 0.5 / math.sqrt(self.validation_size)
            code = self._diagnose(
                "small_validation",
                f"the validation set has {self.validation_size} samples "
                f"(< {self.min_validation_size}): the standard error of an accuracy "
                f"is up to {error:.3f}, so validation statistics are not meaningful",
            )
        n = len(self.val_losses)
        train = self.train_losses[-n:]
        gaps = [v - t for v, t in zip(self.val_losses, train, strict=True)]
        if n > self.patience:
            recent = gaps[-(self.patience + 1) :]
            growing = all(b > a for a, b in zip(recent, recent[1:], strict=False))
            val = self.val_losses[-1]
            if growing and gaps[-1] > self.gap_tolerance * abs(val):
                code = max(
                    code,
                    self._diagnose(
                        "overfitting",
                        f"the train/validation gap grew for {self.patience} epochs to "
                        f"{gaps[-1]:.4g} (train {train[-1]:.4g}, "
                        f"validation {val:.4g}): "
                        "big gap = overfitting, increase regularization",
                    ),
                )
        initial = self.batch_losses[0] if self.batch_losses else math.nan
        if n >= self.patience and math.isfinite(initial):
            val = self.val_losses[-1]
            no_gap = abs(gaps[-1]) <= self.gap_tolerance * abs(val)
            if no_gap and train[-1] > self.high_loss_fraction * initial:
                code = max(
                    code,
                    self._diagnose(
                        "underfitting",
                        f"no train/validation gap ({gaps[-1]:.4g}) but the loss is "
                        f"still high ({train[-1]:.4g}, initial {initial:.4g}) after "
                        f"{len(train)} epochs: increase model capacity",
                    ),
                )
        return code

    # ----------------------------------------------------------------- output
    def report(self):
        """A `Report` of every diagnosis so far, with the loss curves."""
        numbers = {"batches": len(self.batch_losses), "epochs": len(self.train_losses)}
        if self.batch_losses:
            numbers["initial_loss"] = self.batch_losses[0]
        if self.train_losses:
            numbers["final_train_loss"] = self.train_losses[-1]
        if self.val_losses:
            numbers["final_val_loss"] = self.val_losses[-1]
        names = [d["name"] for d in self.diagnoses]
        summary = (
            "no problem seen in the loss curves" if not names else ", ".join(names)
        )
        if self.stopped_reason:
            summary += f" ({self.stopped_reason})"
        curves = {"train loss (per batch)": self.batch_losses}
        if self.val_losses:
            curves = {
                "train loss (per epoch)": self.train_losses,
                "val loss (per epoch)": self.val_losses,
            }
        return Report(
            "loss curve",
            not self.diagnoses,
            summary,
            numbers,
            curves=curves,
            findings=list(self.diagnoses),
        )

    def get_config(self):
        return {
            "stop_on": list(self.stop_on),
            "divergence_factor": self.divergence_factor,
            "flat_batches": self.flat_batches,
            "flat_tolerance": self.flat_tolerance,
            "oscillation_window": self.oscillation_window,
            "oscillation_tolerance": self.oscillation_tolerance,
            "patience": self.patience,
            "gap_tolerance": self.gap_tolerance,
            "high_loss_fraction": self.high_loss_fraction,
            "validation_size": self.validation_size,
            "min_validation_size": self.min_validation_size,
            "log_key": self.log_key,
            "warn": self.warn,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
