"""lint_model: static advice on a model's layers, with numbers."""

import keras
import numpy as np

from keras_tricks import _checks
from keras_tricks.diagnostics import _data
from keras_tricks.diagnostics._report import Report

_GLOROT = ("GlorotUniform", "GlorotNormal")

#: The severity of each finding: only an error predicts a broken run.
SEVERITY = {
    "probabilities_from_logits": "error",
    "logits_as_probabilities": "error",
    "separable_params": "warning",
    "dropout_batchnorm": "warning",
    "batchnorm_small_batch": "warning",
    "batchnorm_image_to_image": "warning",
    "inputs_not_normalized": "warning",
    "glorot_relu": "info",
    "dropout_rate": "info",
}
_NORMALIZING_INPUT = ("Rescaling", "Normalization")


def _walk(model):
    """Every layer in order, nested models expanded."""
    for layer in model.layers:
        if isinstance(layer, keras.Model) or hasattr(layer, "layers"):
            yield from _walk(layer)
        else:
            yield layer


def _activation_name(layer):
    activation = getattr(layer, "activation", None)
    if activation is None:
        return None
    name = keras.activations.serialize(activation)
    return name if isinstance(name, str) else getattr(activation, "__name__", None)


def _is_relu(layer):
    if type(layer).__name__ == "ReLU":
        return True
    return type(layer).__name__ == "Activation" and _activation_name(layer) == "relu"


def _is_batchnorm(layer):
    return "BatchNormalization" in type(layer).__name__


def _is_dropout(layer):
    return "Dropout" in type(layer).__name__ and hasattr(layer, "rate")


def _plain_conv_params(layer):
    """Parameters of the plain convolution with the same input/output channels."""
    kernel = layer.kernel_size
    in_channels = layer.input.shape[-1] if layer.data_format == "channels_last" else layer.input.shape[1]
    if type(layer).__name__.startswith("Depthwise"):
        out_channels = in_channels * layer.depth_multiplier
    else:
        out_channels = layer.filters
    bias = out_channels if layer.use_bias else 0
    return int(np.prod(kernel)) * int(in_channels) * int(out_channels) + bias


def _infer_replicas(strategy):
    if strategy is None:
        if keras.backend.backend() != "tensorflow":
            return 1
        import tensorflow as tf

        strategy = tf.distribute.get_strategy()
    replicas = getattr(strategy, "num_replicas_in_sync", None)
    if replicas is None:
        raise ValueError(
            "`strategy` must be a tf.distribute strategy (with "
            f"`num_replicas_in_sync`). Received: strategy={strategy!r}"
        )
    return int(replicas)


def lint_model(
    model,
    batch_size=None,
    strategy=None,
    data=None,
    min_batch_per_replica=16,
    dropout_range=(0.2, 0.5),
):
    """Static advice on a model's layers, each finding with its numbers.

    Findings (their `code`, with their `severity`; only errors fail the
    report, and so `diagnose`; warnings and infos are advice):

    - `probabilities_from_logits` (error): the output layer ends in a softmax
      or sigmoid but the compiled cross-entropy has `from_logits=True`, so
      the squashing is applied twice and the gradient nearly vanishes.
    - `logits_as_probabilities` (error): the output layer is linear (logits)
      but the compiled cross-entropy expects probabilities
      (`from_logits=False`), which it clips to [1e-7, 1 - 1e-7].
      Both are judged only on a single-output model compiled with a Keras
      loss by name or a `keras.losses.Loss` with a `from_logits` option.

    - `separable_params` (warning): a SeparableConv or DepthwiseConv layer with more
      parameters than the plain convolution it replaces ("depthwise separable
      convolution is not always your saviour": with a 1x1 kernel it costs
      more). Both counts are shown.
    - `dropout_batchnorm` (warning): Dropout right next to BatchNormalization: dropout
      shifts the variance BatchNorm has learned between training and
      inference ("dropout clashes with batch norm").
    - `batchnorm_small_batch` (warning): BatchNormalization with a per-replica batch
      (`batch_size / strategy.num_replicas_in_sync`) below
      `min_batch_per_replica`: "batch norm does not work well for small
      mini-batches"; use `keras_tricks.layers.GroupNormalization`.
    - `batchnorm_image_to_image` (warning): BatchNormalization in a model whose output
      has the input's spatial shape (image to image): use
      `keras_tricks.layers.InstanceNormalization`.
    - `glorot_relu` (info): a Glorot (Xavier) initialized kernel feeding a ReLU:
      "Xavier suits tanh and sigmoid, He suits ReLU".
    - `dropout_rate` (info): a dropout rate outside `dropout_range` ("dropouts of
      20 to 50%").
    - `inputs_not_normalized` (warning): with `data`, inputs whose mean or standard
      deviation is far from 0 and 1, or that look like raw 0-255 pixels, and
      no Rescaling or Normalization layer at the model's start.

    Args:
        model: built `keras.Model`.
        batch_size: int or `None`, the global batch size of training.
            Defaults to `None` (no batch-size finding).
        strategy: `tf.distribute.Strategy` or `None`, the strategy training
            runs under. Defaults to `None` (the current strategy).
        data: a sample for the normalization finding: inputs (an array, a
            list or dict of arrays), a pair `(x, y)`, a `tf.data.Dataset` or
            a `keras.utils.PyDataset` (its first batch is read), or `None`.
            Defaults to `None`.
        min_batch_per_replica: int, smallest per-replica batch for
            BatchNormalization. Defaults to `16`.
        dropout_range: pair, accepted dropout rates. Defaults to `(0.2, 0.5)`.

    Returns:
        `Report` passing when no finding is an error; `findings` lists them
        with `code`, `severity`, `layer`, `message` and numbers, and
        `report.severity` is the worst of them.

    Example:
    >>> print(keras_tricks.diagnostics.lint_model(model, batch_size=8))

    Reference:
    - [Chollet, 2017, Xception](https://arxiv.org/abs/1610.02357)
    - [Li et al., 2019, dropout and batch norm disharmony](https://arxiv.org/abs/1801.05134)
    - [Wu & He, 2018, Group Normalization](https://arxiv.org/abs/1803.08494)
    - [Ulyanov et al., 2017, Instance Normalization](https://arxiv.org/abs/1607.08022)
    - [He et al., 2015, Delving deep into rectifiers](https://arxiv.org/abs/1502.01852)
    """
    _data.check_model(model)
    if batch_size is not None:
        batch_size = _checks.check_int("batch_size", batch_size, minimum=1)
    min_batch_per_replica = _checks.check_int("min_batch_per_replica", min_batch_per_replica, minimum=1)
    low, high = _checks.check_pair("dropout_range", dropout_range, low=0.0, high=1.0)
    if not model.built:
        _data._fail(
            "model",
            f"<{type(model).__name__} name={model.name!r}, not built>",
            "must be built (give it an Input or call it once)",
        )
    layers = list(_walk(model))
    findings = []

    def add(code, layer, message, **numbers):
        findings.append(
            {
                "code": code,
                "severity": SEVERITY[code],
                "layer": getattr(layer, "name", None),
                "message": message,
                **numbers,
            }
        )

    for layer in layers:
        name = type(layer).__name__
        if name.startswith(("SeparableConv", "DepthwiseConv")):
            own = int(layer.count_params())
            plain = _plain_conv_params(layer)
            if own > plain:
                add(
                    "separable_params",
                    layer,
                    f"{layer.name}: {name} with kernel {tuple(layer.kernel_size)} has "
                    f"{own} parameters, more than the {plain} of a plain convolution "
                    "with the same channels; use a plain Conv here",
                    params=own,
                    plain_conv_params=plain,
                )
        if _is_dropout(layer) and not (low <= layer.rate <= high):
            add(
                "dropout_rate",
                layer,
                f"{layer.name}: dropout rate {layer.rate:g} is outside "
                f"[{low:g}, {high:g}]; dropouts of 20-50% are recommended",
                rate=float(layer.rate),
            )
    for before, after in zip(layers, layers[1:], strict=False):
        pair = (_is_dropout(before) and _is_batchnorm(after)) or (
            _is_batchnorm(before) and _is_dropout(after)
        )
        if pair:
            add(
                "dropout_batchnorm",
                after,
                f"{before.name} -> {after.name}: Dropout next to BatchNormalization; "
                "dropout changes the variance BatchNorm sees between training and "
                "inference. With batch norm, dropout can usually be removed",
            )
    for index, layer in enumerate(layers):
        initializer = getattr(layer, "kernel_initializer", None)
        if type(initializer).__name__ not in _GLOROT:
            continue
        following = list(layers[index + 1 : index + 3])
        feeds_relu = _activation_name(layer) == "relu" or any(
            _is_relu(lay) for lay in following[:1]
        ) or (len(following) == 2 and _is_batchnorm(following[0]) and _is_relu(following[1]))
        if feeds_relu:
            add(
                "glorot_relu",
                layer,
                f"{layer.name}: {type(initializer).__name__} (Xavier) initialization "
                "feeds a ReLU; Xavier suits tanh and sigmoid, He suits ReLU: use "
                "kernel_initializer='he_normal'",
            )
    batchnorms = [lay for lay in layers if _is_batchnorm(lay)]
    if batchnorms and batch_size is not None:
        replicas = _infer_replicas(strategy)
        per_replica = batch_size / replicas
        if per_replica < min_batch_per_replica:
            add(
                "batchnorm_small_batch",
                batchnorms[0],
                f"{len(batchnorms)} BatchNormalization layer(s) with a per-replica "
                f"batch of {per_replica:g} ({batch_size} over {replicas} replicas, "
                f"< {min_batch_per_replica}): batch norm does not work well for small "
                "mini-batches; use keras_tricks.layers.GroupNormalization",
                batch_size=batch_size,
                replicas=replicas,
                per_replica_batch=per_replica,
            )
    inputs = getattr(model, "inputs", None) or []
    outputs = getattr(model, "outputs", None) or []
    if batchnorms and len(inputs) == 1 and len(outputs) == 1:
        in_shape, out_shape = tuple(inputs[0].shape), tuple(outputs[0].shape)
        if len(in_shape) == 4 and len(out_shape) == 4 and in_shape[1:3] == out_shape[1:3]:
            add(
                "batchnorm_image_to_image",
                batchnorms[0],
                f"BatchNormalization in an image-to-image model (input {in_shape[1:]}, "
                f"output {out_shape[1:]}): one set of batch statistics for every image "
                "harms per-image outputs; use keras_tricks.layers.InstanceNormalization "
                "(and do not transfer-learn from classifiers for such tasks)",
            )
    _output_loss_rules(model, layers, add)
    if data is not None:
        x, _ = _data.read(data, "data", model=model, labels=False, batch_size=batch_size or 32)
        _data.check_inputs(model, x, "data")
        first_weighted = next((lay for lay in layers if lay.weights and not _is_batchnorm(lay)), None)
        head = layers[: layers.index(first_weighted)] if first_weighted in layers else layers
        normalized_inside = any(type(lay).__name__ in _NORMALIZING_INPUT for lay in head)
        if not normalized_inside:
            for i, array in enumerate(_data._flat(x)):
                array = np.asarray(array, dtype="float64")
                mean, std = float(array.mean()), float(array.std())
                low_v, high_v = float(array.min()), float(array.max())
                raw_pixels = high_v > 100 and low_v >= 0
                off = abs(mean) > 1.0 or std > 3.0 or std < 0.05
                if raw_pixels or off:
                    add(
                        "inputs_not_normalized",
                        None,
                        f"input {i}: mean {mean:.3g}, std {std:.3g}, range "
                        f"[{low_v:.3g}, {high_v:.3g}]"
                        f"{' (looks like raw 0-255 pixels)' if raw_pixels else ''}: "
                        "normalize inputs to zero mean and unit variance (or add a "
                        "Rescaling/Normalization layer)",
                        mean=mean,
                        std=std,
                    )
    summary = "no finding" if not findings else f"{len(findings)} finding(s): " + ", ".join(
        sorted({f["code"] for f in findings})
    )
    errors = [f for f in findings if f["severity"] == "error"]
    return Report("lint", not errors, summary, {"layers": len(layers)}, findings=findings)


def _output_activation(model, layers):
    """The activation of the model's single output layer, or `None` if unclear."""
    outputs = getattr(model, "outputs", None) or []
    if len(outputs) != 1 or not layers or not model.layers:
        return None
    top = model.layers[-1]
    try:
        if top.output is not outputs[0]:  # the last layer listed is not the output one
            return None
    except (AttributeError, ValueError):  # a layer called more than once
        return None
    last = layers[-1]
    if isinstance(last, keras.layers.Softmax):
        return "softmax"
    return _activation_name(last)


def _output_loss_rules(model, layers, add):
    """Error-level findings: the output activation contradicts the loss's `from_logits`."""
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
        return
    from keras_tricks.diagnostics._probe_checks import _loss_function, _snake

    try:
        activation = _output_activation(model, layers)
    except (AttributeError, ValueError):  # a subclassed model has no symbolic outputs
        return
    loss = model.loss
    # Only where `from_logits` is known: a Keras loss by name or a Loss with the option.
    known = isinstance(loss, str) or (
        isinstance(loss, keras.losses.Loss) and "from_logits" in loss.get_config()
    )
    _, loss_name, from_logits = _loss_function(model)
    if not known or "crossentropy" not in _snake(loss_name) or activation is None:
        return
    last = layers[-1]
    if from_logits and activation in ("softmax", "sigmoid"):
        add(
            "probabilities_from_logits",
            last,
            f"{last.name}: the output ends in a {activation} but the loss "
            f"({loss_name}) has from_logits=True: the {activation} is applied twice and "
            f"the gradient nearly vanishes; drop the {activation} or use from_logits=False",
        )
    elif not from_logits and activation == "linear":
        add(
            "logits_as_probabilities",
            last,
            f"{last.name}: the output is linear (logits) but the loss ({loss_name}) "
            "expects probabilities (from_logits=False) and clips them; use "
            "from_logits=True or end the model with a softmax/sigmoid",
        )
