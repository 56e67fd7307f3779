"""Checks that only run the model forward/backward: initial loss, batch dependence."""

import math

import keras
import numpy as np
from keras import ops

from keras_tricks import _backend, _checks
from keras_tricks.diagnostics import _data, _layers, _losses
from keras_tricks.diagnostics._report import Report


def check_initial_loss(model, batch, tolerance=0.25):
    """Check the loss at initialization against chance level.

    For softmax classification with `C` classes an untrained model should be
    unsure, so its cross-entropy should be near `-log(1/C)` (`log 2` per
    output for sigmoid outputs with binary cross-entropy). The check measures
    the loss on `batch`, reports how far off it is, and looks at the outputs:
    values outside [0, 1] or not summing to 1 are logits. A loss that is far
    too high suggests a last layer initialised too large (the network starts
    confidently wrong) or logits fed to a loss that expects probabilities;
    probabilities fed to a loss with `from_logits=True` apply softmax twice.
    Losses other than cross-entropy are skipped.

    A loss far above chance fails with severity `"warning"` (status `WARN`:
    the run usually trains, after a wasted start; `diagnose` still passes);
    a logits/probabilities mix-up, a NaN loss or a loss below chance
    (labels leaking into the inputs) fail with severity `"error"`.

    Args:
        model: compiled `keras.Model`, untrained.
        batch: a pair `(x, y)` of arrays (`x` a list or dict of arrays for
            a multi-input model), or a `tf.data.Dataset` or
            `keras.utils.PyDataset` of `(x, y)` batches, whose first batch
            is taken.
        tolerance: float >= 0, largest accepted relative distance from
            `-log(1/C)`. Defaults to `0.25`.

    Backends: every backend.

    Returns:
        `Report` with numbers `initial_loss`, `expected_loss`, `relative_error`,
        `num_classes`, `outputs_are_probabilities`, `from_logits`.

    Example:
    >>> keras_tricks.diagnostics.check_initial_loss(model, (x[:128], y[:128]))

    Reference:
    - [Karpathy, 2019, A recipe for training neural networks](https://karpathy.github.io/2019/04/25/recipe/)
    """
    tolerance = _checks.check_positive("tolerance", tolerance, allow_zero=True)
    _data.require_compiled(model)
    x, y = _data.read(batch, "batch", model=model)
    _data.check_inputs(model, x, "batch")
    fn, name, from_logits = _losses.loss_function(model)
    kind = _losses.crossentropy_kind(model)
    if kind is None:
        return Report(
            "initial loss",
            True,
            f"not a cross-entropy loss ({_losses.snake_case(name)}): "
            "no chance level to compare with",
            skipped=True,
        )
    out = ops.convert_to_numpy(model(x, training=False)).astype("float64")
    num_classes = out.shape[-1] if kind == "categorical" else 2
    expected = math.log(num_classes)
    probabilities, sums_to_one = _look_like_probabilities(out, kind)
    measured = float(ops.convert_to_numpy(ops.mean(fn(y, model(x, training=False)))))
    relative = (measured - expected) / expected
    mismatch = probabilities == from_logits
    passed = math.isfinite(measured) and abs(relative) <= tolerance and not mismatch
    numbers = {
        "initial_loss": measured,
        "expected_loss": expected,
        "relative_error": relative,
        "num_classes": int(num_classes),
        "outputs_are_probabilities": probabilities,
        "from_logits": from_logits,
    }
    advice = _mismatch_advice(out, mismatch, from_logits, sums_to_one)
    advice += _chance_advice(measured, expected, relative, tolerance)
    summary = (
        f"loss at init {measured:.4g} vs -log(1/{num_classes}) = {expected:.4g} "
        f"({100 * relative:+.0f}%)"
    )
    # Only a logits/probabilities mix-up, a non-finite loss or a loss below
    # chance (labels leaking) predict a broken run; a start too high is a warning.
    broken = mismatch or not math.isfinite(measured) or relative < -tolerance
    severity = "error" if broken else "warning"
    return Report("initial loss", passed, summary, numbers, advice, severity=severity)


def _look_like_probabilities(out, kind):
    """`(probabilities, sums_to_one)`: whether the outputs lie in [0, 1] (and rows sum
    to 1)."""
    in_range = bool(np.all((out >= 0) & (out <= 1)))
    sums_to_one = kind == "binary" or bool(np.allclose(out.sum(-1), 1.0, atol=1e-3))
    return in_range and sums_to_one, sums_to_one


def _mismatch_advice(out, mismatch, from_logits, sums_to_one):
    """Advice on logits fed as probabilities, or probabilities fed as logits."""
    if mismatch and not from_logits:
        outside = float(np.mean((out < 0) | (out > 1)))
        return [
            f"The outputs look like logits ({100 * outside:.0f}% lie outside [0, 1]"
            f"{'' if sums_to_one else ', rows do not sum to 1'}) but the loss "
            "expects probabilities (from_logits=False): logits versus "
            "probabilities mix-up. Pass from_logits=True to the loss, or end "
            "the model with a softmax."
        ]
    if mismatch:
        return [
            "The outputs are already probabilities (in [0, 1], summing to 1) "
            "but the loss has from_logits=True, so softmax is applied twice and "
            "the gradient is squashed. Use from_logits=False or drop the softmax."
        ]
    return []


def _chance_advice(measured, expected, relative, tolerance):
    """Advice on an initial loss that is not finite, or far from chance level."""
    if not math.isfinite(measured):
        return ["The initial loss is NaN or Inf: check the loss inputs."]
    if relative > tolerance:
        return [
            f"The loss at initialization is {measured:.4g}, {100 * relative:.0f}% "
            f"above -log(1/C) = {expected:.4g}: the network starts confidently "
            "wrong. Initialise the last layer with smaller weights (and a zero "
            "bias, or the log of the class frequencies), and check that inputs "
            "are normalized."
        ]
    if relative < -tolerance:
        return [
            f"The loss at initialization is {measured:.4g}, below chance "
            f"-log(1/C) = {expected:.4g}: the untrained model already predicts "
            "the labels. Look for labels leaking into the inputs."
        ]
    return []


def _influence_by_gradient(model, x, training, seed):
    import tensorflow as tf

    inputs = [tf.convert_to_tensor(a) for a in keras.tree.flatten(x)]
    n = int(inputs[0].shape[0])
    matrix = np.zeros((n, n))
    # A random projection of the outputs: a plain sum can be constant (softmax).
    projection = None
    for i in range(n):
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            out = model(keras.tree.pack_sequence_as(x, inputs), training=training)
            out = tf.concat(
                [tf.reshape(o, (n, -1)) for o in keras.tree.flatten(out)], axis=1
            )
            if projection is None:
                rng = np.random.default_rng(seed)
                projection = tf.constant(rng.standard_normal(out.shape[1:]), out.dtype)
            target = tf.reduce_sum(out[i] * projection)
        for grad in tape.gradient(target, inputs):
            if grad is not None:
                grad = np.abs(grad.numpy().reshape(n, -1)).max(axis=1)
                matrix[i] = np.maximum(matrix[i], grad)
    return matrix


def _outputs(model, x, training, n):
    out = model(x, training=training)
    return np.concatenate(
        [ops.convert_to_numpy(o).reshape(n, -1) for o in keras.tree.flatten(out)],
        axis=1,
    )


def _influence_by_perturbation(model, x, training, seed):
    arrays = [np.asarray(a) for a in keras.tree.flatten(x)]
    n = arrays[0].shape[0]
    rng = np.random.default_rng(seed)
    base = _outputs(model, x, training, n)
    matrix = np.zeros((n, n))
    for j in range(n):
        moved = []
        for array in arrays:
            array = array.copy()
            if np.issubdtype(array.dtype, np.floating):
                scale = max(float(np.std(array)), 1.0)
                array[j] += (scale * rng.standard_normal(array.shape[1:])).astype(
                    array.dtype
                )
            moved.append(array)
        out = _outputs(model, keras.tree.pack_sequence_as(x, moved), training, n)
        matrix[:, j] = np.abs(out - base).max(axis=1)
    return matrix


def _coupling_layers(model):
    """Names of the layers that couple samples through batch statistics in training."""
    found = []
    stack = list(getattr(model, "layers", []))
    while stack:
        layer = stack.pop(0)
        if _layers.is_batchnorm(layer):
            found.append(layer.name)
        stack.extend(getattr(layer, "layers", []))
    return found


def check_batch_dependence(
    model,
    x,
    num_samples=4,
    training=False,
    method="auto",
    tolerance=1e-6,
    seed=0,
):
    """Check that each sample's output depends only on its own input.

    The gradient of sample `i`'s output (a fixed random projection of it)
    must reach only input `i`. A reshape
    or transpose that mixes the batch axis with another breaks this, and the
    model then learns from its neighbours in the batch. The check builds the
    influence matrix `M[i, j]` (how much output `i` responds to input `j`)
    for the first `num_samples` samples and fails if an off-diagonal entry
    exceeds `tolerance` times the largest diagonal one.

    By default the model runs in inference mode (`training=False`), so
    BatchNormalization uses its moving statistics and does not couple
    samples. In training mode it does, legitimately, through the batch mean
    and variance; the report names such layers.

    Args:
        model: `keras.Model`, compiled or not.
        x: inputs (an array, a list or a dict of arrays), a tuple `(x, y)`
            whose `y` is ignored, or a `tf.data.Dataset` or
            `keras.utils.PyDataset` (of `x` or `(x, y)` batches), whose
            first `num_samples` samples are read. Only float inputs are
            probed; a model of integer inputs only is skipped.
        num_samples: int >= 2, samples to probe. Defaults to `4`.
        training: bool, the mode the model runs in. Defaults to `False`.
        method: `"auto"`, `"gradient"` or `"perturbation"`. `"gradient"` uses
            `tf.GradientTape` (TensorFlow backend only): one backward pass per
            sample. `"perturbation"` adds noise to one input at a time and
            watches the other outputs, with `keras.ops` only, so it runs on
            every backend. `"auto"` picks `"gradient"` on TensorFlow,
            `"perturbation"` elsewhere. Defaults to `"auto"`.
        tolerance: float >= 0, relative size of an off-diagonal entry that
            counts as a leak. Defaults to `1e-6`.
        seed: int, seed of the perturbations and of the random projection
            of the outputs whose gradient is taken. Defaults to `0`.

    Backends: every backend; `method="gradient"` needs TensorFlow and raises
    `NotImplementedError` on the others.

    Returns:
        `Report` with numbers `leak` (largest off-diagonal entry over the
        largest diagonal one), `num_samples`, `method`, and the influence
        matrix as `report.matrix` (NumPy array).

    Example:
    >>> keras_tricks.diagnostics.check_batch_dependence(model, x[:4])

    Reference:
    - [Karpathy, 2019, A recipe for training neural networks](https://karpathy.github.io/2019/04/25/recipe/)
    """
    num_samples = _checks.check_int("num_samples", num_samples, minimum=2)
    method = _checks.check_choice(
        "method", method, ("auto", "gradient", "perturbation")
    )
    tolerance = _checks.check_positive("tolerance", tolerance, allow_zero=True)
    training = _checks.check_bool("training", training)
    seed = _checks.check_int("seed", seed, minimum=0)
    _data.check_model(model)
    if method == "auto":
        method = "gradient" if _backend.is_tensorflow() else "perturbation"
    if method == "gradient":
        _backend.require_tensorflow("check_batch_dependence(method='gradient')")
    x, _ = _data.read(x, "x", num_samples, model=model, labels=False)
    _data.check_inputs(model, x, "x")
    n = _data.num_samples(x)
    if n < 2:
        _checks.fail("x", _data.describe(x), "must hold at least 2 samples")
    if not any(np.issubdtype(a.dtype, np.floating) for a in _data.flat_arrays(x)):
        return Report(
            "batch dependence",
            True,
            "integer inputs only (token ids?): neither a gradient nor a small "
            "perturbation can probe them",
            skipped=True,
        )
    influence = (
        _influence_by_gradient if method == "gradient" else _influence_by_perturbation
    )
    matrix = influence(model, x, training, seed)
    leak, diagonal, off = _leak(matrix)
    passed = leak <= tolerance and diagonal > 0
    coupling = _coupling_layers(model)
    advice = _leak_advice(leak, diagonal, off, tolerance, training, coupling)
    summary = f"largest cross-sample influence {leak:.3g} of the largest own-sample one"
    if coupling and not training:
        summary += (
            f"; ran in inference mode, so {', '.join(coupling)} used moving "
            "statistics (in training mode BatchNorm couples samples by design)"
        )
    numbers = {"leak": leak, "num_samples": n, "method": method}
    report = Report("batch dependence", passed, summary, numbers, advice)
    report.matrix = matrix
    return report


def _leak(matrix):
    """`(leak, diagonal, off)`: the largest off-diagonal influence over the largest own
    one."""
    diagonal = float(np.max(np.diag(matrix)))
    off = matrix.copy()
    np.fill_diagonal(off, 0.0)
    off_max = float(off.max())
    leak = off_max / diagonal if diagonal > 0 else (math.inf if off_max > 0 else 0.0)
    return leak, diagonal, off


def _leak_advice(leak, diagonal, off, tolerance, training, coupling):
    advice = []
    if leak > tolerance:
        leaking = np.nonzero(off > tolerance * max(diagonal, 1e-30))
        pairs = [(int(i), int(j)) for i, j in zip(*leaking, strict=True)]
        advice.append(
            f"Outputs depend on other samples' inputs (output i <- input j for "
            f"{pairs[:6]}{' ...' if len(pairs) > 6 else ''}): a reshape, "
            "transpose or reduction mixes the batch axis with another. Keep the "
            "batch axis first and untouched."
        )
        if training and coupling:
            advice.append(
                f"Layers {coupling} couple the batch in training mode through "
                "batch statistics; run with training=False to check the rest."
            )
    if diagonal == 0:
        advice.append(
            "No output responds to its own input: the model ignores its inputs "
            "(or the gradient is cut before the input)."
        )
    return advice
