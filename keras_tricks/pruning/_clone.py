"""Adding and removing pruning wrappers: rebuild a model with its layers wrapped or
bare.

`prune_low_magnitude` clones a Sequential or Functional model (nested ones
too) with the chosen layers wrapped in `PruneLowMagnitude`; `strip_pruning`
clones it back without wrappers, keeping the zeros. Models are recognised by
type: Sequential, or Keras's Functional class (which a user's or a library's
subclass of a functional model also derives from).
"""

import functools

import keras

from keras_tricks.pruning._kinds import UNIT_AXIS, layer_kind
from keras_tricks.pruning._wrapper import PruneLowMagnitude


@functools.cache
def _functional_class():
    """Keras's Functional model class (Keras exports it only as `keras.Model(...)`'s
    type).

    `keras.Model(inputs, outputs)` returns an instance of it, and Keras makes
    every subclass of `keras.Model` whose `__init__` passes inputs and outputs
    to `super().__init__` derive from it too.
    """
    inputs = keras.Input((1,))
    return type(keras.Model(inputs, inputs))


def _is_plain_model(model):
    """Sequential or Functional (subclasses included): the models whose graph can be
    rebuilt."""
    return isinstance(model, (keras.Sequential, _functional_class()))


def _check_plain_model(model, argument="model"):
    if not _is_plain_model(model):
        raise ValueError(
            f"`{argument}` is a subclassed model ({type(model).__name__}); only "
            "Sequential and Functional models can be rebuilt. Either rebuild it "
            "with the Functional API, or wrap the layers to prune yourself with "
            "`keras_tricks.pruning.PruneLowMagnitude(layer, ...)` inside its "
            f"`__init__`. Received: {argument}={model.name!r}"
        )
    if not model.built:
        raise ValueError(
            f"`{argument}` must be built (give it an `Input`). "
            f"Received: {argument}={model.name!r}"
        )


def _copy_layer(layer):
    """A new layer with `layer`'s config, built and holding its weights."""
    copy = type(layer).from_config(layer.get_config())
    if layer.built and not copy.built:
        build_config = layer.get_build_config()
        if build_config:
            copy.build_from_config(build_config)
    return copy


def _copy_weights(pairs):
    for source, target in pairs:
        target.set_weights(source.get_weights())


def prune_low_magnitude(
    to_prune,
    pruning_schedule=None,
    granularity="weight",
    unit_norm="l1",
    block_size=None,
    layers=None,
):
    """Make a layer or a Sequential/Functional model prunable.

    For a model, returns a new model of the same structure (the original is
    untouched) in which every prunable layer, or only those named in
    `layers`, is wrapped in `PruneLowMagnitude`, with the original weights.
    Nested Sequential and Functional models (a model used as a layer) are
    rebuilt the same way, recursively, as TensorFlow Model Optimization does;
    a nested subclassed model that holds prunable layers is refused. Layers
    with nothing to prune are copied as they are. Compile the new model and
    train it with the `keras_tricks.callbacks.Pruning` callback.

    Args:
        to_prune: a `keras.layers.Layer`, or a built Sequential or Functional
            model.
        pruning_schedule: a `PruningSchedule`. Defaults to
            `ConstantSparsity(0.5, begin_step=0)`.
        granularity: `"weight"` or `"unit"`. Defaults to `"weight"`.
        unit_norm: `"l1"` or `"l2"`. Defaults to `"l1"`.
        block_size: `None` or a pair of ints (block sparsity). Defaults to `None`.
        layers: `None` (every prunable layer) or a list of the layers to
            prune, at any depth: layer objects, names, or paths through
            nested models (`"encoder/dense"`, needed when two nested models
            hold layers of the same name). Naming a nested model prunes every
            prunable layer in it. Defaults to `None`.

    Returns:
        A `PruneLowMagnitude` layer, or a new model.

    Example:
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    >>> pruned = keras_tricks.pruning.prune_low_magnitude(
    ...     model, keras_tricks.pruning.PolynomialDecay(0.0, 0.8, 0, 100, frequency=10))

    Reference:
    - [Zhu & Gupta, 2017](https://arxiv.org/abs/1710.01878)
    """
    options = {
        "pruning_schedule": pruning_schedule,
        "granularity": granularity,
        "unit_norm": unit_norm,
        "block_size": block_size,
    }
    if not _check_to_prune(to_prune, layers):
        return PruneLowMagnitude(to_prune, **options)
    selected = _select_layers(to_prune, layers, granularity)
    pairs = []
    clone = _wrapping_clone_function(to_prune, selected, options, pairs)
    new_model = keras.models.clone_model(to_prune, clone_function=clone)
    _copy_weights(pairs)
    return new_model


def _check_to_prune(to_prune, layers):
    """Whether `to_prune` is a model to rebuild (True) or a layer to wrap (False)."""
    if isinstance(to_prune, keras.Model):
        _check_plain_model(to_prune, "to_prune")
        return True
    if isinstance(to_prune, keras.layers.Layer):
        if layers is not None:
            raise ValueError(
                f"`layers` applies to models only. Received: layers={layers!r}"
            )
        return False
    raise ValueError(
        "`to_prune` must be a Keras layer or a Sequential/Functional model. "
        f"Received: to_prune={to_prune!r}"
    )


def _wrapping_clone_function(model, selected, options, pairs):
    """The `clone_model` function that wraps the `selected` layers of `model`.

    Every copied layer is appended to `pairs` as `(original, copy)`, so that
    the weights can be copied once the new model is built.
    """

    def clone(layer):
        if isinstance(layer, keras.Model) and _is_plain_model(layer):
            return _clone_nested(layer, clone)
        if isinstance(layer, keras.Model) and _holds(layer, selected):
            raise ValueError(
                f"`to_prune` holds a subclassed model {layer.name!r} "
                f"({type(layer).__name__}) with prunable layers, which cannot be "
                "rebuilt: wrap its layers with "
                "`keras_tricks.pruning.PruneLowMagnitude(layer, ...)` in its "
                "`__init__`, or leave it out with `layers=`. "
                f"Received: to_prune={model.name!r}"
            )
        copy = _copy_layer(layer)
        pairs.append((layer, copy))
        if id(layer) in selected:
            return PruneLowMagnitude(copy, **options)
        return copy

    return clone


def _walk(model, prefix=""):
    """`(path, layer)` for every layer of `model`, into nested models."""
    for layer in model.layers:
        path = prefix + layer.name
        yield path, layer
        if isinstance(layer, keras.Model):
            yield from _walk(layer, path + "/")


def _holds(model, selected):
    return any(id(layer) in selected for _, layer in _walk(model))


def _clone_nested(model, clone_function):
    """`clone_model` of a nested Sequential/Functional model, name and trainable
    kept."""
    copy = keras.models.clone_model(model, clone_function=clone_function)
    if copy.name != model.name:
        copy.name = model.name
    copy.trainable = model.trainable
    return copy


def _prunable_leaf(layer, granularity):
    return (
        layer_kind(layer) is not None
        and not isinstance(layer, (PruneLowMagnitude, keras.Model))
        and bool(layer.weights)
        and (granularity != "unit" or layer_kind(layer) in UNIT_AXIS)
    )


def _select_layers(model, layers, granularity):
    """The ids of the layers (at any depth) that `prune_low_magnitude` wraps."""
    walked = list(_walk(model))
    if layers is None:
        return {id(layer) for _, layer in walked if _prunable_leaf(layer, granularity)}
    if isinstance(layers, (str, keras.layers.Layer)) or not hasattr(layers, "__iter__"):
        raise ValueError(
            f"`layers` must be a list of layer names or layers. Received: "
            f"layers={layers!r}"
        )
    layers = list(layers)
    selected = set()
    for item in layers:
        path, layer = _find_layer(model, walked, item, layers)
        if isinstance(layer, keras.Model):
            inner = [la for _, la in _walk(layer) if _prunable_leaf(la, granularity)]
            if not inner:
                raise ValueError(
                    f"`layers` names the nested model {path!r}, which holds no "
                    f"prunable layers. Received: layers={layers!r}"
                )
            selected.update(id(la) for la in inner)
            continue
        if layer_kind(layer) is None:
            raise ValueError(
                f"`layers` names {path!r} ({type(layer).__name__}), "
                "which has no prunable weights. Received: "
                f"layers={layers!r}"
            )
        selected.add(id(layer))
    return selected


def _find_layer(model, walked, item, layers):
    """The one `(path, layer)` of `walked` that `item` (a layer, name or path) names."""
    if isinstance(item, keras.layers.Layer):
        matches = [(p, la) for p, la in walked if la is item]
        name = item.name
    elif isinstance(item, str):
        key = "path" if "/" in item else "name"
        matches = [
            (p, la) for p, la in walked if (p if key == "path" else la.name) == item
        ]
        name = item
    else:
        raise ValueError(
            f"`layers` must hold layer names or layers; {item!r} is neither. "
            f"Received: layers={layers!r}"
        )
    if not matches:
        raise ValueError(
            f"`layers` names a layer that is not in the model "
            f"{model.name!r} (nested models included): {name!r}. "
            f"Received: layers={layers!r}"
        )
    if len(matches) > 1:
        paths = [p for p, _ in matches]
        raise ValueError(
            f"`layers` names {name!r}, which several nested models hold "
            f"({paths}): give its path instead, or the layer itself. "
            f"Received: layers={layers!r}"
        )
    return matches[0]


def strip_pruning(model):
    """Remove every pruning wrapper, keeping the zeros.

    Returns a plain Keras model (or layer) whose weights are the pruned
    weights times their masks: no wrappers, no mask variables, no mask
    constraints. Save this one for deployment; its zeros compress well.

    Args:
        model: a Sequential or Functional model, or a `PruneLowMagnitude` layer.

    Returns:
        A new model (or layer) without pruning machinery.

    Example:
    >>> plain = keras_tricks.pruning.strip_pruning(pruned_model)  # doctest: +SKIP
    """
    if isinstance(model, PruneLowMagnitude):
        return _unwrap(model)
    if not isinstance(model, keras.Model):
        raise ValueError(
            "`model` must be a Sequential/Functional model or a PruneLowMagnitude "
            f"layer. Received: model={model!r}"
        )
    _check_plain_model(model)

    def clone(layer):
        if isinstance(layer, PruneLowMagnitude):
            return _unwrap(layer)
        if isinstance(layer, keras.Model) and _is_plain_model(layer):
            return _clone_nested(layer, clone)
        copy = _copy_layer(layer)
        pending.append((layer, copy))
        return copy

    pending = []
    new_model = keras.models.clone_model(model, clone_function=clone)
    _copy_weights(pending)
    return new_model


def _unwrap(wrapper):
    inner = wrapper.layer
    copy = _copy_layer(inner)
    masked = {id(v): m for v, m in wrapper._mask_pairs()}
    values = []
    for variable in inner.weights:
        value = keras.ops.convert_to_numpy(variable)
        if id(variable) in masked:
            value = value * keras.ops.convert_to_numpy(masked[id(variable)])
        values.append(value)
    if not copy.built:
        raise ValueError(
            "`model` holds a pruning wrapper around an unbuilt layer. "
            f"Received: model={wrapper.name!r}"
        )
    copy.set_weights(values)
    return copy


def wrapper_paths(model, prefix=""):
    """`(path, wrapper)` for every `PruneLowMagnitude` layer of `model`.

    The path is the layer name, preceded by the names of the nested models
    that hold it (`"encoder/prune_low_magnitude_dense"`).
    """
    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, PruneLowMagnitude):
            found.append((prefix + layer.name, layer))
        elif isinstance(layer, keras.Model):
            found.extend(wrapper_paths(layer, f"{prefix}{layer.name}/"))
    return found


def pruning_wrappers(model):
    """Every `PruneLowMagnitude` layer of `model`, nested models included."""
    return [wrapper for _, wrapper in wrapper_paths(model)]
