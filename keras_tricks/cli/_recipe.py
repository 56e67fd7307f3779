"""The steps of the recipe; each returns the numbers the report shows."""

import gzip
import math
import os
import time

import keras
import numpy as np

from keras_tricks import callbacks, diagnostics, pruning, schedules
from keras_tricks.cli import _model

_DIAGNOSE_LEARNING_RATE = 3e-3
# Half a cyclical-LR cycle, in epochs (Smith: 2 to 8).
_HALF_CYCLE_EPOCHS = 2
# The pruning schedule reaches its target after this fraction of the fine-tuning.
_MAX_CYCLE_RATIO = 10.0
_PRUNE_RAMP_FRACTION = 0.75
_PRUNE_UPDATES = 20


class Recorder(keras.callbacks.Callback):
    """Records the learning rate, loss and pruning sparsity at every batch."""

    def __init__(self):
        super().__init__()
        self.learning_rate, self.loss, self.sparsity = [], [], []

    def on_train_batch_end(self, batch, logs=None):
        logs = logs or {}
        self.learning_rate.append(
            float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
        )
        if "loss" in logs:
            self.loss.append(float(logs["loss"]))
        if "pruning/sparsity" in logs:
            self.sparsity.append(float(logs["pruning/sparsity"]))


def _finite(value):
    return value is not None and math.isfinite(value)


def steps_per_epoch(splits, batch_size):
    return max(1, math.ceil(splits.num_train / batch_size))


def diagnose(splits, args, strategy):
    """Step 1: the sanity checks, on an untrained copy without augmentation."""
    with strategy.scope():
        model = _model.build(
            splits.input_shape,
            splits.num_classes,
            args.normalization,
            "none",
            args.dropout,
            args.seed,
        )
        _model.compile_model(model, args.optimizer, _DIAGNOSE_LEARNING_RATE)
    batch_size = min(args.batch_size, 32, splits.num_train)
    report = diagnostics.diagnose(
        model,
        splits.train,
        batch_size=batch_size,
        steps=args.diagnose_steps,
        baseline=not args.quick,
    )
    return report, {
        "passed": bool(report.passed),
        "summary": report.summary,
        "checks": [
            {
                "check": r.check,
                "status": r.status,
                "summary": r.summary,
                "numbers": {k: _number(v) for k, v in r.numbers.items()},
            }
            for r in report.reports
        ],
    }


def _number(value):
    if value is None:
        return None
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return value if math.isfinite(value) else None


def range_test(model, splits, args):
    """Step 2: the LR range test on the (compiled, untrained) model."""
    low, high = _model.range_test_bounds(args.optimizer)
    finder = callbacks.LRFinder(
        low,
        high,
        num_steps=args.range_test_steps,
        smoothing=args.range_test_smoothing,
        verbose=min(args.verbose, 1),
        seed=args.seed,
    )
    result = finder.find(model, splits.train)
    suggested, bounds = result.suggested_learning_rate, tuple(result.clr_bounds)
    numbers = {
        "min_learning_rate": low,
        "max_learning_rate": high,
        "steps": len(result.learning_rates),
        "suggested_learning_rate": suggested,
        "min_loss_learning_rate": result.min_loss_learning_rate,
        "clr_bounds": list(bounds),
    }
    return result, numbers


def chosen_rates(result_numbers, args):
    """The constant rate and the cyclical bounds the training uses, and why.

    The range test's numbers are used when its curve fell: a minimum in the
    first tenth of the sweep (or a rate that is not finite) means the loss
    never fell, and a fallback rate for the optimizer is used instead.
    """
    suggested = result_numbers["suggested_learning_rate"]
    low, high = result_numbers["clr_bounds"]
    if args.learning_rate is not None:
        return (
            args.learning_rate,
            (args.learning_rate / 10.0, args.learning_rate),
            "--learning-rate",
        )
    start, end = (
        result_numbers["min_learning_rate"],
        result_numbers["max_learning_rate"],
    )
    first_tenth = start * (end / start) ** 0.1
    usable = all(_finite(v) and v > 0 for v in (suggested, low, high))
    if not usable or high <= first_tenth:
        rate = _model.fallback_learning_rate(args.optimizer)
        return (
            rate,
            (rate / _MAX_CYCLE_RATIO, rate),
            "fallback (the range test's loss did not fall)",
        )
    # Smith's base is 1/3 to 1/4 of the maximum; a noisy curve can put the
    # start of the fall decades lower, where the cycle would waste its time.
    low = min(max(low, high / _MAX_CYCLE_RATIO), high / 2.0)
    return suggested, (low, high), "range test"


def learning_rate_callback(args, rate, bounds, steps):
    """Warmup then a cyclical (or constant) rate, as one callback.

    Half a cycle lasts 2 epochs, shortened so that at least one whole cycle
    fits in the steps after the warmup.
    """
    total = args.epochs * steps
    warmup_steps = min(int(round(args.warmup_epochs * steps)), total // 2)
    if args.schedule == "cyclical":
        half_cycle = max(
            1, min(_HALF_CYCLE_EPOCHS * steps, (total - warmup_steps) // 2)
        )
        if warmup_steps == 0:
            return callbacks.CyclicalLR(bounds[0], bounds[1], step_size=half_cycle)
        after = schedules.CyclicalLearningRate(
            bounds[0], bounds[1], step_size=half_cycle
        )
        return callbacks.WarmupLR(after, warmup_steps=warmup_steps)
    return callbacks.WarmupLR(rate, warmup_steps=warmup_steps)


def train(model, splits, args, rate, bounds):
    """Step 3: fit with the learning-rate schedule and early stopping."""
    steps = steps_per_epoch(splits, args.batch_size)
    recorder = Recorder()
    stopping = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=args.patience, restore_best_weights=True
    )
    history = model.fit(
        splits.train,
        validation_data=splits.validation,
        epochs=args.epochs,
        shuffle=False,  # the pipeline shuffles
        callbacks=[
            learning_rate_callback(args, rate, bounds, steps),
            stopping,
            recorder,
        ],
        verbose=args.verbose,
    )
    test_loss, test_accuracy = model.evaluate(splits.test, verbose=0)
    epochs_run = len(history.history["loss"])
    best = int(np.argmin(history.history["val_loss"]))
    return recorder, {
        "epochs_run": epochs_run,
        "steps_per_epoch": steps,
        "stopped_early": epochs_run < args.epochs,
        "best_epoch": best + 1,
        "history": {
            k: [float(v) for v in values] for k, values in history.history.items()
        },
        "test_loss": float(test_loss),
        "test_accuracy": float(test_accuracy),
    }


def tune(splits, args, strategy, directory):
    """Step 4: a short Keras Tuner RandomSearch (only with `--tune N`)."""
    import keras_tuner

    from keras_tricks import tuning

    hypermodel = tuning.ImageClassifierHyperModel(
        splits.input_shape, splits.num_classes
    )
    tuner = keras_tuner.RandomSearch(
        hypermodel,
        objective="val_accuracy",
        max_trials=args.tune,
        seed=args.seed,
        directory=directory,
        project_name="search",
        overwrite=True,
        distribution_strategy=strategy,
    )
    # Unbatched: the hypermodel batches by the batch size it draws.
    tuner.search(
        splits.train_examples,
        validation_data=splits.validation_examples,
        epochs=args.tune_epochs,
        verbose=args.verbose,
    )
    trials = tuner.oracle.get_best_trials(num_trials=args.tune)
    failed = [t for t in tuner.oracle.trials.values() if t.status == "FAILED"]
    return {
        "trials": len(tuner.oracle.trials),
        "failed_trials": len(failed),
        "epochs_per_trial": args.tune_epochs,
        "best_val_accuracy": _number(trials[0].score) if trials else None,
        "best_hyperparameters": {
            k: _plain(v) for k, v in trials[0].hyperparameters.values.items()
        }
        if trials
        else {},
        "scores": [_number(t.score) for t in trials],
    }


def _plain(value):
    return (
        value
        if isinstance(value, str | bool | int | float) or value is None
        else str(value)
    )


def _gzip_size(path):
    with open(path, "rb") as f:
        return len(gzip.compress(f.read(), compresslevel=9))


def _sizes(model, path):
    """Bytes of `model`'s weights file (`.weights.h5`) and of its gzip.

    Saved from an uncompiled copy: a compiled model's weights file also holds
    its optimizer's variables (Adam's two moments triple it).
    """
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    copy.save_weights(path)
    return os.path.getsize(path), _gzip_size(path)


def prune(model, splits, args, strategy, rate, output):
    """Step 5: prune to `--sparsity` while fine-tuning, strip, save, measure."""
    steps = steps_per_epoch(splits, args.batch_size)
    total = args.prune_epochs * steps
    frequency = max(1, total // _PRUNE_UPDATES)
    end_step = frequency * max(1, int(total * _PRUNE_RAMP_FRACTION) // frequency)
    schedule = pruning.PolynomialDecay(
        initial_sparsity=0.0,
        final_sparsity=args.sparsity,
        begin_step=0,
        end_step=end_step,
        frequency=frequency,
    )
    with strategy.scope():
        pruned = pruning.prune_low_magnitude(model, schedule)
        _model.compile_model(pruned, args.optimizer, rate)
    recorder = Recorder()
    pruned.fit(
        splits.train,
        validation_data=splits.validation,
        epochs=args.prune_epochs,
        shuffle=False,
        callbacks=[callbacks.Pruning(), recorder],
        verbose=args.verbose,
    )
    with strategy.scope():
        stripped = pruning.strip_pruning(pruned)
        stripped.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    test_loss, test_accuracy = stripped.evaluate(splits.test, verbose=0)
    total_row = pruning.sparsity_report(stripped)[-1]
    dense_bytes, dense_gzip = _sizes(model, os.path.join(output, "dense.weights.h5"))
    pruned_bytes, pruned_gzip = _sizes(
        stripped, os.path.join(output, "pruned.weights.h5")
    )
    model_path = os.path.join(output, "model.keras")
    stripped.save(model_path)
    return (
        stripped,
        recorder,
        {
            "target_sparsity": args.sparsity,
            "sparsity": float(total_row["sparsity"]),
            "epochs": args.prune_epochs,
            "end_step": end_step,
            "frequency": frequency,
            "learning_rate": rate,
            "test_loss": float(test_loss),
            "test_accuracy": float(test_accuracy),
            "model_file": "model.keras",
            "model_bytes": os.path.getsize(model_path),
            "dense_weights_bytes": dense_bytes,
            "dense_weights_gzip_bytes": dense_gzip,
            "pruned_weights_bytes": pruned_bytes,
            "pruned_weights_gzip_bytes": pruned_gzip,
            "gzip_compression_ratio": dense_gzip / pruned_gzip,
        },
    )


def confusion_matrix(model, dataset, num_classes):
    """Counts `[true, predicted]` over `dataset`, and the accuracy."""
    matrix = np.zeros((num_classes, num_classes), dtype="int64")
    for images, labels in dataset:
        predicted = np.argmax(model.predict_on_batch(images), axis=-1)
        np.add.at(matrix, (np.asarray(labels), predicted), 1)
    return matrix


class Clock:
    """Seconds spent in each step."""

    def __init__(self):
        self.seconds = {}
        self._start = time.perf_counter()

    def lap(self, name):
        now = time.perf_counter()
        self.seconds[name] = round(now - self._start, 3)
        self._start = now
