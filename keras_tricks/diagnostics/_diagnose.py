"""diagnose: the checks in the order a careful practitioner runs them."""

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


def diagnose(model, data, batch_size=32, steps=100, baseline=True, strategy=None):
    """Run the diagnostic checks in order and return one combined report.

    Order: `lint_model` (static, with a data sample), `check_batch_dependence`,
    `check_initial_loss` (untrained model, first batch), `overfit_one_batch`
    (first `batch_size` samples) and, with `baseline`,
    `input_independent_baseline` (all of `data`). The model itself is not
    trained: the training checks work on copies.

    Args:
        model: compiled `keras.Model`, untrained for the initial-loss check.
        data: pair `(x, y)` of arrays, a few hundred samples or more.
        batch_size: int, the fixed batch and minibatch size. Defaults to `32`.
        steps: int, training steps for the baseline; the overfit check gets
            three times as many at most. Defaults to `100`.
        baseline: bool, run the input-independent baseline (the slowest
            check). Defaults to `True`.
        strategy: `tf.distribute.Strategy` or `None`, passed to `lint_model`.
            Defaults to `None`.

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
    x, y = _data.split_xy(data, "data")
    _data.require_compiled(model)
    _data.check_inputs(model, x, "data")
    first = (_data._take(x, slice(0, batch_size)), _data._take(y, slice(0, batch_size)))
    reports = [lint_model(model, batch_size=batch_size, strategy=strategy, data=first[0])]
    if not isinstance(x, (list, tuple, dict)) and _data._num_samples(x) >= 2:
        reports.append(check_batch_dependence(model, first[0]))
    reports.append(check_initial_loss(model, first))
    reports.append(overfit_one_batch(model, first, steps=3 * steps))
    if baseline:
        reports.append(input_independent_baseline(model, (x, y), steps=steps, batch_size=batch_size))
    return DiagnosisReport(reports)
