"""lint_model: static advice on a model's layers, with numbers.

The linter is a list of rules, small functions of a `LintContext` that add
findings to it; `lint_model` builds the context and runs `LINT_RULES`, then
any rules the user passes.
"""

import keras
import numpy as np

from keras_tricks import _checks
from keras_tricks.diagnostics import _data, _layers, _losses
from keras_tricks.diagnostics._report import SEVERITIES, Report

#: The severity of each built-in finding: only an error predicts a broken run.
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


class LintContext:
    """What a lint rule sees, and where it puts its findings.

    A rule is a function `rule(context)` that reads the attributes below and
    calls `context.add(...)` once per finding; it returns nothing. Pass your
    own to `lint_model(model, rules=[...])`.

    Attributes:
        model: the built `keras.Model` being linted.
        layers: list of its layers in order, nested models expanded.
        batch_size: int or `None`, the global batch size of training.
        replicas: int, replicas training runs on (from `strategy`).
        sample: the inputs read from `data` (NumPy arrays, in the model's
            input structure), or `None` without `data`.
        min_batch_per_replica: int, as given to `lint_model`.
        dropout_range: `(low, high)`, as given to `lint_model`.
        findings: list of dict, the findings so far.

    Example:
    >>> def no_wide_dense(context):
    ...     for layer in context.layers:
    ...         if isinstance(layer, keras.layers.Dense) and layer.units > 4096:
    ...             context.add("wide_dense", layer, f"{layer.name} is wide")
    """

    def __init__(
        self,
        model,
        layers,
        batch_size,
        replicas,
        sample,
        min_batch_per_replica,
        dropout_range,
    ):
        self.model = model
        self.layers = layers
        self.batch_size = batch_size
        self.replicas = replicas
        self.sample = sample
        self.min_batch_per_replica = min_batch_per_replica
        self.dropout_range = dropout_range
        self.findings = []

    def add(self, code, layer, message, severity=None, **numbers):
        """Record a finding.

        Args:
            code: str, a short name of the finding (`"dropout_rate"`).
            layer: the layer it concerns, or `None` (the model's inputs).
            message: str, what is wrong and what to do, in plain words.
            severity: `"info"`, `"warning"` or `"error"` (only errors fail
                the report). Defaults to `None`: the built-in severity of
                `code` (`SEVERITY`), or `"warning"` for a code of your own.
            **numbers: the measurements behind the finding.
        """
        if severity is None:
            severity = SEVERITY.get(code, "warning")
        _checks.check_choice("severity", severity, SEVERITIES)
        self.findings.append(
            {
                "code": code,
                "severity": severity,
                "layer": getattr(layer, "name", None),
                "message": message,
                **numbers,
            }
        )


# ------------------------------------------------------------------ rules
def _plain_conv_params(layer):
    """Parameters of the plain convolution with the same input/output channels."""
    kernel = layer.kernel_size
    in_channels = (
        layer.input.shape[-1]
        if layer.data_format == "channels_last"
        else layer.input.shape[1]
    )
    if _layers.is_depthwise_conv(layer):
        out_channels = in_channels * layer.depth_multiplier
    else:
        out_channels = layer.filters
    bias = out_channels if layer.use_bias else 0
    return int(np.prod(kernel)) * int(in_channels) * int(out_channels) + bias


def separable_params(context):
    """A depthwise (separable) convolution with more parameters than the plain one."""
    for layer in context.layers:
        if not _layers.is_separable_conv(layer):
            continue
        own = int(layer.count_params())
        plain = _plain_conv_params(layer)
        if own > plain:
            context.add(
                "separable_params",
                layer,
                f"{layer.name}: {type(layer).__name__} with kernel "
                f"{tuple(layer.kernel_size)} has "
                f"{own} parameters, more than the {plain} of a plain convolution "
                "with the same channels; use a plain Conv here",
                params=own,
                plain_conv_params=plain,
            )


def dropout_rate(context):
    """A dropout rate outside `dropout_range`."""
    low, high = context.dropout_range
    for layer in context.layers:
        if _layers.is_dropout(layer) and not (low <= layer.rate <= high):
            context.add(
                "dropout_rate",
                layer,
                f"{layer.name}: dropout rate {layer.rate:g} is outside "
                f"[{low:g}, {high:g}]; dropouts of 20-50% are recommended",
                rate=float(layer.rate),
            )


def dropout_batchnorm(context):
    """Dropout right before or after BatchNormalization."""
    layers = context.layers
    for before, after in zip(layers, layers[1:], strict=False):
        pair = (_layers.is_dropout(before) and _layers.is_batchnorm(after)) or (
            _layers.is_batchnorm(before) and _layers.is_dropout(after)
        )
        if pair:
            context.add(
                "dropout_batchnorm",
                after,
                f"{before.name} -> {after.name}: Dropout next to BatchNormalization; "
                "dropout changes the variance BatchNorm sees between training and "
                "inference. With batch norm, dropout can usually be removed",
            )


def _feeds_relu(layer, following):
    """Whether `layer`'s output goes through a ReLU (its own, the next layer, or after a
    BatchNorm)."""
    if _layers.activation_name(layer) == "relu":
        return True
    if following and _layers.is_relu(following[0]):
        return True
    return (
        len(following) == 2
        and _layers.is_batchnorm(following[0])
        and _layers.is_relu(following[1])
    )


def glorot_relu(context):
    """A Glorot-initialized kernel feeding a ReLU."""
    layers = context.layers
    for index, layer in enumerate(layers):
        if not _layers.has_glorot_kernel(layer):
            continue
        if _feeds_relu(layer, list(layers[index + 1 : index + 3])):
            context.add(
                "glorot_relu",
                layer,
                f"{layer.name}: {type(layer.kernel_initializer).__name__} (Xavier) "
                "initialization "
                "feeds a ReLU; Xavier suits tanh and sigmoid, He suits ReLU: use "
                "kernel_initializer='he_normal'",
            )


def batchnorm_small_batch(context):
    """BatchNormalization with a per-replica batch below `min_batch_per_replica`."""
    batchnorms = [layer for layer in context.layers if _layers.is_batchnorm(layer)]
    if not batchnorms or context.batch_size is None:
        return
    per_replica = context.batch_size / context.replicas
    if per_replica < context.min_batch_per_replica:
        context.add(
            "batchnorm_small_batch",
            batchnorms[0],
            f"{len(batchnorms)} BatchNormalization layer(s) with a per-replica "
            f"batch of {per_replica:g} ({context.batch_size} over "
            f"{context.replicas} replicas, < {context.min_batch_per_replica}): "
            "batch norm does not work well for small "
            "mini-batches; use keras_tricks.layers.GroupNormalization",
            batch_size=context.batch_size,
            replicas=context.replicas,
            per_replica_batch=per_replica,
        )


def batchnorm_image_to_image(context):
    """BatchNormalization in a model whose output keeps the input's spatial shape."""
    batchnorms = [layer for layer in context.layers if _layers.is_batchnorm(layer)]
    inputs = getattr(context.model, "inputs", None) or []
    outputs = getattr(context.model, "outputs", None) or []
    if not batchnorms or len(inputs) != 1 or len(outputs) != 1:
        return
    in_shape, out_shape = tuple(inputs[0].shape), tuple(outputs[0].shape)
    if len(in_shape) == 4 and len(out_shape) == 4 and in_shape[1:3] == out_shape[1:3]:
        context.add(
            "batchnorm_image_to_image",
            batchnorms[0],
            f"BatchNormalization in an image-to-image model (input {in_shape[1:]}, "
            f"output {out_shape[1:]}): one set of batch statistics for every image "
            "harms per-image outputs; use keras_tricks.layers.InstanceNormalization "
            "(and do not transfer-learn from classifiers for such tasks)",
        )


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
    return _layers.activation_name(last)


def _judged_activation(model, layers):
    """The output activation where the loss's `from_logits` is known, else `None`.

    Judged only on a model compiled with a Keras cross-entropy given by name,
    or a `keras.losses.Loss` with a `from_logits` option.
    """
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
        return None
    try:
        activation = _output_activation(model, layers)
    except (AttributeError, ValueError):  # a subclassed model has no symbolic outputs
        return None
    loss = model.loss
    known = isinstance(loss, str) or (
        isinstance(loss, keras.losses.Loss) and "from_logits" in loss.get_config()
    )
    if not known or _losses.crossentropy_kind(model) is None:
        return None
    return activation


def output_loss(context):
    """Error-level findings: the output activation contradicts the loss's
    `from_logits`."""
    activation = _judged_activation(context.model, context.layers)
    if activation is None:
        return
    _, loss_name, from_logits = _losses.loss_function(context.model)
    last = context.layers[-1]
    if from_logits and activation in ("softmax", "sigmoid"):
        context.add(
            "probabilities_from_logits",
            last,
            f"{last.name}: the output ends in a {activation} but the loss "
            f"({loss_name}) has from_logits=True: the {activation} is applied "
            "twice and the gradient nearly vanishes; "
            f"drop the {activation} or use from_logits=False",
        )
    elif not from_logits and activation == "linear":
        context.add(
            "logits_as_probabilities",
            last,
            f"{last.name}: the output is linear (logits) but the loss ({loss_name}) "
            "expects probabilities (from_logits=False) and clips them; use "
            "from_logits=True or end the model with a softmax/sigmoid",
        )


def _normalized_inside(layers):
    """Whether a Rescaling or Normalization layer comes before the first weighted
    layer."""
    first = next(
        (
            layer
            for layer in layers
            if layer.weights and not _layers.is_batchnorm(layer)
        ),
        None,
    )
    head = layers[: layers.index(first)] if first in layers else layers
    return any(_layers.is_input_normalization(layer) for layer in head)


def inputs_not_normalized(context):
    """Inputs far from zero mean and unit variance, with no normalizing layer at the
    start."""
    if context.sample is None or _normalized_inside(context.layers):
        return
    for i, array in enumerate(_data.flat_arrays(context.sample)):
        array = np.asarray(array, dtype="float64")
        mean, std = float(array.mean()), float(array.std())
        low, high = float(array.min()), float(array.max())
        raw_pixels = high > 100 and low >= 0
        off = abs(mean) > 1.0 or std > 3.0 or std < 0.05
        if raw_pixels or off:
            context.add(
                "inputs_not_normalized",
                None,
                f"input {i}: mean {mean:.3g}, std {std:.3g}, range "
                f"[{low:.3g}, {high:.3g}]"
                f"{' (looks like raw 0-255 pixels)' if raw_pixels else ''}: "
                "normalize inputs to zero mean and unit variance (or add a "
                "Rescaling/Normalization layer)",
                mean=mean,
                std=std,
            )


#: The built-in rules, in the order `lint_model` runs them.
LINT_RULES = (
    separable_params,
    dropout_rate,
    dropout_batchnorm,
    glorot_relu,
    batchnorm_small_batch,
    batchnorm_image_to_image,
    output_loss,
    inputs_not_normalized,
)


# ------------------------------------------------------------ lint_model
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


def _check_rules(rules):
    if rules is None:
        return []
    if (
        isinstance(rules, (str, bytes))
        or callable(rules)
        or not hasattr(rules, "__iter__")
    ):
        _checks.fail(
            "rules",
            rules,
            "must be a list of rule functions, each taking a LintContext",
        )
    rules = list(rules)
    if not all(callable(rule) for rule in rules):
        _checks.fail(
            "rules",
            rules,
            "must be a list of rule functions, each taking a LintContext",
        )
    return rules


def _read_sample(model, data, batch_size):
    if data is None:
        return None
    x, _ = _data.read(
        data, "data", model=model, labels=False, batch_size=batch_size or 32
    )
    _data.check_inputs(model, x, "data")
    return x


def lint_model(
    model,
    batch_size=None,
    strategy=None,
    data=None,
    min_batch_per_replica=16,
    dropout_range=(0.2, 0.5),
    rules=None,
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
        rules: list of callables or `None`, your own rules, run after the
            built-in ones (`LINT_RULES`). A rule is a function of one
            argument, a `LintContext`, that calls `context.add(code, layer,
            message, severity=..., **numbers)` for each finding. Defaults
            to `None`.

    Backends: every backend. `strategy` is a `tf.distribute` strategy; left
    `None`, TensorFlow's current strategy gives the replica count, and other
    backends count one replica.

    Returns:
        `Report` passing when no finding is an error; `findings` lists them
        with `code`, `severity`, `layer`, `message` and numbers, and
        `report.severity` is the worst of them.

    Example:
    >>> print(keras_tricks.diagnostics.lint_model(model, batch_size=8))
    >>> def no_wide_dense(context):
    ...     for layer in context.layers:
    ...         if isinstance(layer, keras.layers.Dense) and layer.units > 4096:
    ...             context.add(
    ...                 "wide_dense", layer, f"{layer.name} is wide", units=layer.units)
    >>> keras_tricks.diagnostics.lint_model(model, rules=[no_wide_dense])

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
    min_batch_per_replica = _checks.check_int(
        "min_batch_per_replica", min_batch_per_replica, minimum=1
    )
    dropout_range = _checks.check_pair(
        "dropout_range", dropout_range, low=0.0, high=1.0
    )
    rules = _check_rules(rules)
    if not model.built:
        _checks.fail(
            "model",
            _data.Description(
                f"<{type(model).__name__} name={model.name!r}, not built>"
            ),
            "must be built (give it an Input or call it once)",
        )
    layers = list(_layers.walk(model))
    known = batch_size is not None or strategy is not None
    replicas = _infer_replicas(strategy) if known else 1
    sample = _read_sample(model, data, batch_size)
    context = LintContext(
        model,
        layers,
        batch_size,
        replicas,
        sample,
        min_batch_per_replica,
        dropout_range,
    )
    for rule in (*LINT_RULES, *rules):
        rule(context)
    findings = context.findings
    summary = (
        "no finding"
        if not findings
        else f"{len(findings)} finding(s): "
        + ", ".join(sorted({f["code"] for f in findings}))
    )
    errors = [f for f in findings if f["severity"] == "error"]
    return Report(
        "lint", not errors, summary, {"layers": len(layers)}, findings=findings
    )
