"""Physically remove pruned units from Sequential and Functional chains."""

import copy

import keras
import numpy as np

from keras_tricks.layers._interface import normalization_groups
from keras_tricks.pruning._clone import (
    _check_plain_model,
    pruning_wrappers,
    strip_pruning,
)

_ELEMENTWISE = {
    "linear",
    "relu",
    "relu6",
    "elu",
    "selu",
    "gelu",
    "sigmoid",
    "tanh",
    "swish",
    "silu",
    "softplus",
    "softsign",
    "hard_sigmoid",
    "hard_silu",
    "hard_swish",
    "leaky_relu",
    "exponential",
    "mish",
    "celu",
    "glu_free",
    "sparse_plus",
    "squareplus",
    "tanh_shrink",
    "hard_tanh",
    "soft_shrink",
    "hard_shrink",
    "log_sigmoid",
    "threshold",
}
_DROPOUTS = (
    keras.layers.Dropout,
    keras.layers.GaussianNoise,
    keras.layers.GaussianDropout,
    keras.layers.AlphaDropout,
)
_POOLS = (
    keras.layers.MaxPooling1D,
    keras.layers.MaxPooling2D,
    keras.layers.MaxPooling3D,
    keras.layers.AveragePooling1D,
    keras.layers.AveragePooling2D,
    keras.layers.AveragePooling3D,
    keras.layers.GlobalMaxPooling1D,
    keras.layers.GlobalMaxPooling2D,
    keras.layers.GlobalMaxPooling3D,
    keras.layers.GlobalAveragePooling1D,
    keras.layers.GlobalAveragePooling2D,
    keras.layers.GlobalAveragePooling3D,
)
_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_TRANSPOSES = (
    keras.layers.Conv1DTranspose,
    keras.layers.Conv2DTranspose,
    keras.layers.Conv3DTranspose,
)


class _Refusal(Exception):
    pass


def _activation_name(activation):
    name = keras.activations.serialize(activation)
    if isinstance(name, dict):
        name = name.get("config", name.get("class_name"))
    return name


def _is_producer(layer):
    """Dense or a plain convolution: its output units can be removed."""
    if isinstance(layer, keras.layers.Dense):
        return True
    return isinstance(layer, _CONVS) and not isinstance(layer, _TRANSPOSES)


def _is_consumer(layer):
    return _is_producer(layer) or isinstance(layer, _TRANSPOSES)


def _channels_last(layer):
    return getattr(layer, "data_format", "channels_last") == "channels_last"


def _per_channel_norm(layer):
    """A normalization whose parameters and statistics are per channel."""
    groups = normalization_groups(layer)
    if groups is not None:
        channels = _channels(layer)
        if channels is None:  # no gamma nor beta: count the input's channels
            channels = int(layer.input.shape[-1])
        return groups == channels
    if isinstance(layer, keras.layers.GroupNormalization):
        return layer.groups == _channels(layer)
    return False


def _channels(layer):
    weights = layer.weights
    return int(weights[0].shape[-1]) if weights else None


def _passthrough_reason(layer, flattened):
    """None if `layer` maps each channel on its own; else why not."""
    if not _channels_last(layer):
        return "it is channels_first"
    if isinstance(layer, _DROPOUTS):
        return None
    if isinstance(layer, keras.layers.Activation):
        name = _activation_name(layer.activation)
        return None if name in _ELEMENTWISE else f"activation {name!r} mixes channels"
    if isinstance(layer, (keras.layers.ReLU, keras.layers.LeakyReLU, keras.layers.ELU)):
        return None
    if isinstance(layer, keras.layers.BatchNormalization):
        axis = layer.axis if isinstance(layer.axis, int) else None
        if axis in (-1, len(layer.input.shape) - 1):
            return None
        return "it normalizes along an axis other than the last"
    if (
        isinstance(
            layer,
            (
                keras.layers.SpatialDropout1D,
                keras.layers.SpatialDropout2D,
                keras.layers.SpatialDropout3D,
            ),
        )
        and not flattened
    ):
        return None
    if _per_channel_norm(layer) and not flattened:
        if getattr(layer, "axis", -1) in (-1, len(layer.input.shape) - 1):
            return None
        return "it normalizes along an axis other than the last"
    if isinstance(layer, _POOLS) and not flattened:
        return None
    if isinstance(layer, keras.layers.Flatten) and not flattened:
        return None
    return f"shrink cannot follow a {type(layer).__name__} layer"


class _Graph:
    """Who consumes each layer's output, for a Sequential or Functional model."""

    def __init__(self, model):
        self.model = model
        self.layers = {layer.name: layer for layer in model.layers}
        self.consumers = {}
        self.shared = set()
        if isinstance(model, keras.Sequential):
            layers = [la for la in model.layers]
            for first, second in zip(layers, layers[1:], strict=False):
                self.consumers[first.name] = [second.name]
            if layers:
                self.consumers[layers[-1].name] = ["<model output>"]
            self.single_input = {la.name for la in layers}
            return
        config = model.get_config()
        self.single_input = set()
        for entry in config["layers"]:
            nodes = entry.get("inbound_nodes", [])
            if len(nodes) > 1:
                self.shared.add(entry["name"])
            for node in nodes:
                sources = []
                _collect(node, sources)
                if len(sources) == 1:
                    self.single_input.add(entry["name"])
                for source in sources:
                    self.consumers.setdefault(source, []).append(entry["name"])
        for output in _outputs(config["output_layers"]):
            self.consumers.setdefault(output, []).append("<model output>")

    def next_layer(self, name):
        consumers = self.consumers.get(name, [])
        if consumers == ["<model output>"] or "<model output>" in consumers:
            raise _Refusal("its output is a model output")
        if len(consumers) != 1:
            raise _Refusal(f"its output feeds {len(consumers)} layers ({consumers})")
        following = consumers[0]
        if following in self.shared:
            raise _Refusal(f"{following!r} is called more than once")
        if following not in self.single_input:
            raise _Refusal(f"{following!r} takes several inputs")
        return self.layers[following]


def _collect(node, sources):
    if isinstance(node, dict):
        if node.get("class_name") == "__keras_tensor__":
            sources.append(node["config"]["keras_history"][0])
            return
        for value in node.values():
            _collect(value, sources)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _collect(value, sources)


def _outputs(output_layers):
    if output_layers and isinstance(output_layers[0], str):
        return [output_layers[0]]
    return [o[0] for o in output_layers]


def _removable_units(layer):
    kernel, *rest = layer.get_weights()
    moved = kernel.reshape(-1, kernel.shape[-1])
    dead = np.all(moved == 0, axis=0)
    if layer.use_bias:
        dead &= rest[0] == 0
    if dead.all():
        dead[0] = False  # keep one unit, so that the model stays a model
    return np.flatnonzero(dead)


def _plan(graph, producer, removed):
    """Follow `producer` to the next weight layer; say what to slice there."""
    if not _channels_last(producer):
        raise _Refusal("it is channels_first")
    if getattr(producer, "groups", 1) != 1:
        raise _Refusal("it is a grouped convolution")
    name = _activation_name(producer.activation)
    if name not in _ELEMENTWISE:
        raise _Refusal(f"its activation {name!r} mixes units")
    channels = producer.kernel.shape[-1]
    chain = []
    feature_removed = removed
    flattened = False
    layer = graph.next_layer(producer.name)
    while not _is_consumer(layer):
        reason = _passthrough_reason(layer, flattened)
        if reason is not None:
            raise _Refusal(f"{layer.name!r}: {reason}")
        if isinstance(layer, keras.layers.Flatten):
            spatial = int(np.prod(layer.input.shape[1:-1]))
            feature_removed = np.concatenate(
                [removed + s * channels for s in range(spatial)]
            )
            flattened = True
        chain.append((layer, feature_removed))
        layer = graph.next_layer(layer.name)
    if not _channels_last(layer):
        raise _Refusal(f"{layer.name!r} is channels_first")
    if getattr(layer, "groups", 1) != 1:
        raise _Refusal(f"{layer.name!r} is a grouped convolution")
    # What a removed unit sends on: act(0) through the chain, per feature.
    probe = keras.ops.zeros((1,) + tuple(producer.output.shape[1:]))
    probe = producer.activation(probe)
    for chain_layer, _ in chain:
        probe = chain_layer(probe, training=False)
    constants = keras.ops.convert_to_numpy(probe)[0]
    return chain, layer, feature_removed, constants


def _fold(consumer, feature_removed, constants):
    """The bias change that replaces the removed inputs' constant values."""
    kernel = consumer.get_weights()[0]
    values = constants.reshape(-1, constants.shape[-1])
    if not np.all(values[:, feature_removed] == values[:1, feature_removed]):
        raise _Refusal(f"{consumer.name!r} would see removed inputs that vary in space")
    removed_values = values[0, feature_removed]
    if not np.any(removed_values):
        return None
    if isinstance(consumer, keras.layers.Dense):
        return removed_values @ kernel[feature_removed, :]
    if isinstance(consumer, _TRANSPOSES) or consumer.padding != "valid":
        raise _Refusal(
            f"removed units send a non-zero constant into {consumer.name!r}, whose "
            f"padding {consumer.padding!r} makes it position dependent"
        )
    taps = kernel[..., feature_removed, :].reshape(
        -1, len(feature_removed), kernel.shape[-1]
    )
    return np.einsum("tio,i->o", taps, removed_values)


def shrink(model, layers=None):
    """Remove pruned units and filters, for a smaller and faster model.

    For every Dense or convolution layer (or those named in `layers`) whose
    output units are entirely zero (kernel column or filter, and bias), it
    deletes those units, slices the parameters of the per-channel layers on
    the way to the next Dense or convolution (BatchNormalization,
    InstanceNormalization, per-channel GroupNormalization, pooling, dropout,
    elementwise activations, Flatten), and deletes the matching input weights
    of that next layer. A removed unit sends `activation(0)` onward, which is
    not always zero (sigmoid, BatchNormalization's shift): that constant is
    folded into the next layer's bias, so the outputs stay the same. Pruning
    wrappers are stripped first.

    It refuses, rather than return a wrong model, whenever it cannot follow
    the structure: a unit-pruned layer whose output is a model output, feeds
    several layers or a residual `Add`, passes through a layer that mixes
    channels (LayerNormalization, Reshape, softmax, ...), or sends a non-zero
    constant into a `"same"`-padded convolution.

    Args:
        model: a Sequential or Functional model (pruned or stripped).
        layers: `None` (every Dense/convolution with zero units) or a list of
            layer names to shrink. Defaults to `None`.

    Returns:
        A new, plain Keras model.

    Example:
    >>> small = keras_tricks.pruning.shrink(unit_pruned_model)  # doctest: +SKIP

    Reference:
    - [Li et al., 2017, Pruning filters for efficient convnets](https://arxiv.org/abs/1608.08710)
    """
    model = _flat_plain_model(model)
    graph = _Graph(model)
    out_keep, in_keep, feature_keep, bias_delta = {}, {}, {}, {}
    for name in _candidates(graph, layers):
        producer = graph.layers[name]
        removed = _removable_units(producer)
        if removed.size == 0:
            continue
        chain, consumer, feature_removed, delta = _plan_or_refuse(
            model, graph, producer, removed
        )
        out_keep[name] = np.setdiff1d(np.arange(producer.kernel.shape[-1]), removed)
        for chain_layer, removed_features in chain:
            width = chain_layer.output.shape[-1]
            feature_keep[chain_layer.name] = np.setdiff1d(
                np.arange(width), removed_features
            )
        width = consumer.input.shape[-1]
        in_keep[consumer.name] = np.setdiff1d(np.arange(width), feature_removed)
        if delta is not None:
            bias_delta[consumer.name] = delta
    return _rebuild(model, out_keep, in_keep, feature_keep, bias_delta)


def _flat_plain_model(model):
    """`model` stripped of its pruning wrappers; refused unless flat
    Sequential/Functional."""
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a Keras model. Received: model={model!r}")
    _check_plain_model(model)
    if pruning_wrappers(model):
        model = strip_pruning(model)
    if any(isinstance(la, keras.Model) for la in model.layers):
        raise ValueError(
            "`model` holds a nested model; shrink follows a flat Sequential or "
            f"Functional model only. Received: model={model.name!r}"
        )
    return model


def _candidates(graph, layers):
    """The names of the Dense/convolution layers to shrink: all, or `layers` checked."""
    names = [la.name for la in graph.model.layers]
    if layers is None:
        return [n for n in names if _is_producer(graph.layers[n])]
    if isinstance(layers, str) or not hasattr(layers, "__iter__"):
        raise ValueError(
            f"`layers` must be a list of names. Received: layers={layers!r}"
        )
    for name in layers:
        if name not in names or not _is_producer(graph.layers[name]):
            raise ValueError(
                f"`layers` must name Dense or convolution layers of the model; "
                f"{name!r} is not one. Received: layers={layers!r}"
            )
    return list(layers)


def _plan_or_refuse(model, graph, producer, removed):
    """`_plan` and `_fold` for `producer`, or the `ValueError` saying why not."""
    try:
        chain, consumer, feature_removed, constants = _plan(graph, producer, removed)
        delta = _fold(consumer, feature_removed, constants)
    except _Refusal as reason:
        raise ValueError(
            f"`model` cannot be shrunk at layer {producer.name!r}, which has "
            f"{removed.size} removable units: {reason}. Prune it with "
            "granularity='weight', leave it out of unit pruning, or pass "
            f"`layers=` without it. Received: model={model.name!r}"
        ) from None
    return chain, consumer, feature_removed, delta


def _rebuild(model, out_keep, in_keep, feature_keep, bias_delta):
    config = copy.deepcopy(model.get_config())
    entries = config["layers"]
    for entry in entries:
        entry.pop("build_config", None)
        layer_config = entry["config"]
        name = layer_config.get("name")
        if name in out_keep:
            key = "units" if "units" in layer_config else "filters"
            layer_config[key] = int(out_keep[name].size)
        if name in bias_delta:
            layer_config["use_bias"] = True
        if name in feature_keep and "groups" in layer_config:
            if layer_config["groups"] != -1:
                layer_config["groups"] = int(feature_keep[name].size)
    new_model = type(model).from_config(config)
    for layer in model.layers:
        name = layer.name
        target = new_model.get_layer(name)
        weights = layer.get_weights()
        if name in out_keep or name in in_keep or name in bias_delta:
            kernel = weights[0]
            bias = weights[1] if layer.use_bias else None
            transpose = isinstance(layer, _TRANSPOSES)
            if name in in_keep:
                kernel = np.take(kernel, in_keep[name], axis=-1 if transpose else -2)
            if bias is None and name in bias_delta:
                bias = np.zeros(kernel.shape[-2 if transpose else -1], kernel.dtype)
            if bias is not None and name in bias_delta:
                bias = bias + bias_delta[name].astype(bias.dtype)
            if name in out_keep:
                kernel = np.take(kernel, out_keep[name], axis=-1)
                bias = None if bias is None else bias[out_keep[name]]
            weights = [kernel] + ([] if bias is None else [bias]) + weights[2:]
        elif name in feature_keep:
            weights = [w[..., feature_keep[name]] for w in weights]
        target.set_weights(weights)
    return new_model
