"""Checks that train a copy of the model: overfit one batch, input-independent
baseline."""

import math

import keras
import numpy as np
from keras import ops

from keras_tricks import _backend, _checks
from keras_tricks.diagnostics import _data, _losses
from keras_tricks.diagnostics._report import Report

_SATURATING = {"sigmoid": (0.0, 1.0), "softmax": (0.0, 1.0), "tanh": (-1.0, 1.0)}


def _zero_gradient_variables(model, x, y):
    """Paths of trainable variables whose gradient is exactly zero.

    TensorFlow only (`tf.GradientTape`): `None` on the other backends, where
    the advice names the likely causes without listing the weights.
    """
    if not _backend.is_tensorflow():
        return None
    import tensorflow as tf

    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        y_pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=y_pred, training=True)
    grads = tape.gradient(loss, [v.value for v in variables])
    return [
        v.path
        for v, g in zip(variables, grads, strict=True)
        if g is None or not np.any(ops.convert_to_numpy(g))
    ]


def _saturation(model, x):
    """Fraction of outputs within 1e-4 of a saturating activation's bounds."""
    last = model.layers[-1] if getattr(model, "layers", None) else None
    activation = getattr(last, "activation", None)
    if activation is None:
        return None, None
    name = keras.activations.serialize(activation)
    name = name if isinstance(name, str) else getattr(activation, "__name__", "")
    if name not in _SATURATING:
        return name, None
    low, high = _SATURATING[name]
    out = ops.convert_to_numpy(model(x, training=False))
    near = (np.abs(out - low) < 1e-4) | (np.abs(out - high) < 1e-4)
    return name, float(np.mean(near))


def _chance_loss(model, x):
    """`log C` for cross-entropy losses, else `None`."""
    kind = _losses.crossentropy_kind(model)
    if kind == "categorical":
        return math.log(
            int(model(_data.take(x, slice(0, 1)), training=False).shape[-1])
        )
    if kind == "binary":
        return math.log(2.0)
    return None


def overfit_one_batch(
    model,
    batch,
    steps=300,
    target_ratio=0.05,
    learning_rate=None,
    disable_augmentation=True,
):
    """Train a copy of the model on one fixed batch and check that it overfits.

    "Always overfit one fixed batch first, without augmentation: if it does
    not overfit, either the model lacks the capacity for the task or the code
    has a bug." The model is cloned (`keras.models.clone_model`, its weights
    copied, a fresh optimizer built from the compiled one's config), random
    augmentation layers run as at inference (called with `training=False`,
    so a `RandomResizedCrop` still crops), and the copy trains on the
    batch for at most `steps` steps. It passes when the loss falls to
    `target_ratio` times its initial value (for cross-entropy, times the
    smaller of the initial value and chance level `log C`, so that a model
    starting absurdly high cannot pass by merely coming down). On failure the
    report names the likely causes: weights that receive no gradient (a frozen
    layer or a `stop_gradient` cutting the path), a saturated output activation,
    a learning rate too high (NaN, rising loss) or too low (flat loss), or too
    little capacity. The original model's weights are not touched.

    Args:
        model: compiled `keras.Model`.
        batch: the fixed batch: a pair `(x, y)` of arrays (`x` a list or
            dict of arrays for a multi-input model), or a `tf.data.Dataset`
            or `keras.utils.PyDataset` of `(x, y)` batches, whose first
            batch is taken (an unbatched dataset gives its first 32
            samples).
        steps: int, most training steps. Defaults to `300`.
        target_ratio: float in (0, 1), the final loss must reach
            `target_ratio * initial_loss`. Defaults to `0.05`.
        learning_rate: float or `None`, overrides the optimizer's learning
            rate for the copy. Defaults to `None` (the compiled one).
        disable_augmentation: bool, run random augmentation layers in
            inference mode in the copy. Defaults to `True`.

    Backends: every backend. On TensorFlow the advice also lists the weights
    that get no gradient (found with `tf.GradientTape`).

    Returns:
        `Report` with numbers `initial_loss`, `final_loss`, `target_loss`,
        `steps` and the curve `loss`.

    Example:
    >>> report = keras_tricks.diagnostics.overfit_one_batch(model, (x[:32], y[:32]))
    >>> print(report)

    Reference:
    - [Karpathy, 2019, A recipe for training neural networks](https://karpathy.github.io/2019/04/25/recipe/)
    """
    steps = _checks.check_int("steps", steps, minimum=1)
    target_ratio = _checks.check_range(
        "target_ratio", target_ratio, 0.0, 1.0, low_closed=False
    )
    if learning_rate is not None:
        learning_rate = _checks.check_positive("learning_rate", learning_rate)
    disable_augmentation = _checks.check_bool(
        "disable_augmentation", disable_augmentation
    )
    _data.require_compiled(model)
    x, y = _data.read(batch, "batch", model=model)
    _data.check_inputs(model, x, "batch")
    copy = _data.clone(model, learning_rate, disable_augmentation, x=x)
    initial = _data.loss_value(copy, x, y, training=False)
    zero_grads = _zero_gradient_variables(copy, x, y)
    chance = _chance_loss(copy, x)
    target = target_ratio * (initial if chance is None else min(initial, chance))
    losses, no_gradient = _train_until(copy, x, y, steps, target, initial)
    final = (
        _data.loss_value(copy, x, y, training=False)
        if math.isfinite(losses[-1])
        else losses[-1]
    )
    passed = math.isfinite(final) and final <= target
    numbers = {
        "initial_loss": initial,
        "final_loss": final,
        "target_loss": target,
        "steps": len(losses),
    }
    advice = []
    if not passed:
        advice += _gradient_advice(copy, no_gradient, zero_grads)
        advice += _saturation_advice(copy, x)
        advice += _curve_advice(initial, final, target, len(losses))
    summary = (
        f"loss fell from {initial:.4g} to {final:.4g} in {len(losses)} steps"
        if passed
        else f"did not overfit one batch: loss {initial:.4g} -> {final:.4g} "
        f"after {len(losses)} steps (target {target:.4g})"
    )
    return Report(
        "overfit one batch", passed, summary, numbers, advice, {"loss": losses}
    )


def _train_until(copy, x, y, steps, target, initial):
    """Train on `(x, y)` until the loss reaches `target`, turns non-finite or `steps`
    run out.

    Returns `(losses, no_gradient)`; `no_gradient` tells that Keras refused a
    step because no trainable weight gets a gradient.
    """
    losses = []
    for _ in range(steps):
        try:
            logs = copy.train_on_batch(x, y, return_dict=True)
        except (ValueError, RuntimeError) as error:
            if not _is_no_gradient_error(error):
                raise
            losses.append(initial)
            return losses, True
        losses.append(float(logs["loss"]))
        if not math.isfinite(losses[-1]) or losses[-1] <= target:
            break
    return losses, False


def _is_no_gradient_error(error):
    """Whether a training step failed because no trainable weight gets a gradient.

    Keras refuses such a step on TensorFlow (`ValueError: No gradients ...`);
    on PyTorch, `backward` fails (`RuntimeError: element 0 of tensors does
    not require grad ...`). JAX steps on with zero gradients.
    """
    message = str(error)
    if isinstance(error, ValueError):
        return "No gradients" in message
    return "does not require grad" in message


def _gradient_advice(copy, no_gradient, zero_grads):
    """Advice on weights that get no gradient, or a model with none to train."""
    advice = []
    if no_gradient:
        advice.append(
            "No trainable weight receives any gradient, so training cannot "
            "start: a frozen layer, a stop_gradient or a non-differentiable "
            "op cuts every path from the loss to the weights."
        )
    elif zero_grads:
        advice.append(
            f"{len(zero_grads)} of {len(copy.trainable_variables)} trainable "
            f"weights get no gradient ({', '.join(zero_grads[:4])}"
            f"{', ...' if len(zero_grads) > 4 else ''}): a frozen layer, "
            "a stop_gradient or a non-differentiable op cuts the path."
        )
    if not copy.trainable_variables:
        advice.append("The model has no trainable weights: everything is frozen.")
    return advice


def _saturation_advice(copy, x):
    """Advice on an output activation saturated on more than half the outputs."""
    activation, saturated = _saturation(copy, x)
    if saturated is None or saturated <= 0.5:
        return []
    return [
        f"The output activation '{activation}' is saturated: "
        f"{100 * saturated:.0f}% of outputs are within 1e-4 of its bounds, "
        "where its gradient vanishes; shrink the last layer's initial "
        "weights or feed logits to a loss with from_logits=True."
    ]


def _curve_advice(initial, final, target, steps):
    """Advice read from the loss curve: NaN, rising, flat, or falling too slowly."""
    if not math.isfinite(final):
        return [
            "The loss became NaN or Inf: the learning rate is too high, or "
            "an op is numerically unstable (log of 0, division by 0)."
        ]
    if final > initial:
        return [
            f"The loss rose from {initial:.4g} to {final:.4g}: the learning rate "
            "is too high, or the update goes in the wrong direction (a sign "
            "error in a custom loss)."
        ]
    if final > 0.9 * initial:
        return [
            f"The loss barely moved ({initial:.4g} -> {final:.4g}): learning rate "
            "too low, a saturated output activation, or a gradient cut by a "
            "frozen or stop-gradient layer."
        ]
    return [
        f"The loss fell ({initial:.4g} -> {final:.4g}) but not to "
        f"{target:.4g} in {steps} steps: the model may lack capacity "
        "for this batch, or needs more steps or a higher learning rate."
    ]


def input_independent_baseline(
    model,
    data,
    steps=100,
    batch_size=32,
    validation_split=0.25,
    margin=0.9,
    seed=0,
):
    """Check that the model does clearly better with its inputs than with zeros.

    Two copies of the model start from its current weights: one trains on the
    real inputs, the other on all-zero inputs, for the same `steps` minibatch
    steps. Both are then scored on held-out samples. The zeroed copy can learn
    only the label prior; the real one must beat it: its held-out loss must be
    at most `margin` times the baseline's. If not, the model is not using its
    inputs, most often because labels were shuffled against the inputs.
    Held-out data matters: a big enough model can memorize one batch of
    shuffled labels, so training loss alone would not show it.

    Args:
        model: compiled `keras.Model`.
        data: a pair `(x, y)` of arrays (`x` a list or dict of arrays for
            a multi-input model), used whole, or a `tf.data.Dataset` or
            `keras.utils.PyDataset` of `(x, y)` batches, read for
            `ceil(steps * batch_size / (1 - validation_split))` samples (an
            endless dataset is fine). A few hundred samples or more; fewer
            than `batch_size` raise a `ValueError`.
        steps: int, training steps for each copy. Defaults to `100`.
        batch_size: int, minibatch size. Defaults to `32`.
        validation_split: float in (0, 1), the held-out fraction.
            Defaults to `0.25`.
        margin: float in (0, 1], the real copy's held-out loss must be at most
            `margin` times the baseline's. Defaults to `0.9`.
        seed: int, seed of the split and the minibatch order. Defaults to `0`.

    Backends: every backend.

    Returns:
        `Report` with numbers `real_loss`, `zero_input_loss`, `ratio` and the
        training curves of both copies.

    Example:
    >>> report = keras_tricks.diagnostics.input_independent_baseline(model, (x, y))

    Reference:
    - [Karpathy, 2019, A recipe for training neural networks](https://karpathy.github.io/2019/04/25/recipe/)
    """
    steps = _checks.check_int("steps", steps, minimum=1)
    batch_size = _checks.check_int("batch_size", batch_size, minimum=1)
    validation_split = _checks.check_range(
        "validation_split", validation_split, 0.0, 1.0, low_closed=False
    )
    margin = _checks.check_range(
        "margin", margin, 0.0, 1.0, low_closed=False, high_closed=True
    )
    seed = _checks.check_int("seed", seed, minimum=0)
    _data.require_compiled(model)
    # A dataset is read up to one pass of `steps` batches plus the held-out part.
    needed = math.ceil(steps * batch_size / (1.0 - validation_split))
    count = needed if _data.is_stream(data) else "all"
    x, y = _data.read(data, "data", count, model=model, batch_size=batch_size)
    _data.check_inputs(model, x, "data")
    (x_train, y_train), (x_val, y_val) = _split_held_out(x, y, validation_split, seed)
    _data.require_batch(x, batch_size)
    n_train = _data.num_samples(x_train)
    index = list(_data.batches(n_train, min(batch_size, n_train), steps, seed))
    real_curve, real_loss = _train_and_score(
        model, x, (x_train, y_train), (x_val, y_val), index
    )
    zeroed = lambda a: _data.map_arrays(a, np.zeros_like)  # noqa: E731
    zero_curve, zero_loss = _train_and_score(
        model, x, (zeroed(x_train), y_train), (zeroed(x_val), y_val), index
    )
    ratio = real_loss / zero_loss if zero_loss > 0 else float("inf")
    passed = math.isfinite(real_loss) and real_loss <= margin * zero_loss
    numbers = {"real_loss": real_loss, "zero_input_loss": zero_loss, "ratio": ratio}
    advice = []
    if not passed:
        advice.append(
            "The model does no better on held-out data with its real inputs than "
            "with all-zero inputs: it is not using its inputs. Check that labels "
            "line up with inputs (x and y shuffled separately?), that "
            "preprocessing does not blank the inputs, and that the input actually "
            "reaches the output."
        )
    summary = (
        f"held-out loss {real_loss:.4g} with real inputs vs {zero_loss:.4g} with "
        f"zeroed inputs (ratio {ratio:.3g}, must be <= {margin:g})"
    )
    curves = {
        "train loss, real inputs": real_curve,
        "train loss, zeroed inputs": zero_curve,
    }
    return Report(
        "input-independent baseline", passed, summary, numbers, advice, curves
    )


def _split_held_out(x, y, validation_split, seed):
    """`((x_train, y_train), (x_val, y_val))`, the held-out part drawn at random by
    `seed`."""
    n = _data.num_samples(x)
    n_val = int(round(n * validation_split))
    if n_val < 1 or n - n_val < 1:
        _checks.fail(
            "data",
            _data.Description(f"{n} samples"),
            "must hold enough samples to split off a held-out part",
        )
    order = np.random.default_rng(seed).permutation(n)
    train, held_out = order[n_val:], order[:n_val]
    return (_data.take(x, train), _data.take(y, train)), (
        _data.take(x, held_out),
        _data.take(y, held_out),
    )


def _train_and_score(model, x, train, held_out, index):
    """Train a fresh copy of `model` on the `index` minibatches of `train`.

    Returns `(training curve, held-out loss)`.
    """
    copy = _data.clone(model, x=x)
    curve = _data.train_steps(copy, *train, index)
    return curve, _data.loss_value(copy, *held_out)
