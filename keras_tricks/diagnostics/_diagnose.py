"""diagnose: the checks in the order a careful practitioner runs them."""

import math

from keras_tricks import _checks
from keras_tricks.diagnostics import _data
from keras_tricks.diagnostics._lint import lint_model
from keras_tricks.diagnostics._probe_checks import (
    check_batch_dependence,
    check_initial_loss,
)
from keras_tricks.diagnostics._report import DiagnosisReport
from keras_tricks.diagnostics._training_checks import (
    input_independent_baseline,
    overfit_one_batch,
)

_VALIDATION_SPLIT = 0.25


def diagnose(model, data, batch_size=32, steps=100, baseline=True, strategy=None):
    """Run the diagnostic checks in order and return one combined report.

    Order: `lint_model` (static, with a data sample), `check_batch_dependence`,
    `check_initial_loss` (untrained model, first batch), `overfit_one_batch`
    (first `batch_size` samples) and, with `baseline`,
    `input_independent_baseline` (all of `data`). The model itself is not
    trained: the training checks work on copies.

    `data` is anything `fit` takes: a pair `(x, y)` of arrays (`x` a list
    or dict of arrays for a multi-input model), a `tf.data.Dataset` of
    `(x, y)` batches, or a `keras.utils.PyDataset`. From a dataset the
    samples of its first batches are pooled: `batch_size` of them for the
    first checks, and with `baseline` enough for one pass of `steps`
    minibatches plus the held-out quarter (arrays are used whole). A
    `tf.data.Dataset` of single samples (not batched) is batched here by
    `batch_size`. Fewer than `batch_size` samples raise a `ValueError`.

    The report fails when a check fails or a lint finding is an error;
    lint warnings and infos (Glorot initialization before a ReLU, for one)
    are shown as advice and do not fail it.

    Args:
        model: compiled `keras.Model`, untrained for the initial-loss check.
        data: pair `(x, y)` of arrays, `tf.data.Dataset` or
            `keras.utils.PyDataset`, a few hundred samples or more.
        batch_size: int, the fixed batch and minibatch size. Defaults to `32`.
        steps: int, training steps for the baseline; the overfit check gets
            three times as many at most. Defaults to `100`.
        baseline: bool, run the input-independent baseline (the slowest
            check). Defaults to `True`.
        strategy: `tf.distribute.Strategy` or `None`, passed to `lint_model`.
            Defaults to `None`.

    Backends: every backend (`check_batch_dependence` runs with its
    default method: gradients on TensorFlow, perturbations elsewhere).

    Returns:
        `DiagnosisReport`; `report["overfit one batch"]` finds one check.

    Example:
    >>> report = keras_tricks.diagnostics.diagnose(model, (x, y))
    >>> print(report)

    Reference:
    - [Karpathy, 2019, A recipe for training neural networks](https://karpathy.github.io/2019/04/25/recipe/)
    """
    batch_size = _checks.check_int("batch_size", batch_size, minimum=2)
    steps = _checks.check_int("steps", steps, minimum=1)
    baseline = _checks.check_bool("baseline", baseline)
    _data.require_compiled(model)
    if _data.is_stream(data):  # the first batch, and one pass of the baseline's steps
        count = (
            math.ceil(steps * batch_size / (1.0 - _VALIDATION_SPLIT))
            if baseline
            else batch_size
        )
    else:
        count = "all"
    x, y = _data.read(data, "data", count, model=model, batch_size=batch_size)
    _data.check_inputs(model, x, "data")
    _data.require_batch(x, batch_size)
    first = (_data.take(x, slice(0, batch_size)), _data.take(y, slice(0, batch_size)))
    reports = [
        lint_model(model, batch_size=batch_size, strategy=strategy, data=first[0])
    ]
    reports.append(check_batch_dependence(model, first[0]))
    reports.append(check_initial_loss(model, first))
    reports.append(overfit_one_batch(model, first, steps=3 * steps))
    if baseline:
        reports.append(
            input_independent_baseline(
                model,
                (x, y),
                steps=steps,
                batch_size=batch_size,
                validation_split=_VALIDATION_SPLIT,
            )
        )
    return DiagnosisReport(reports)
