"""The pruning wrapper, and the functions that add and remove it."""

import numbers
import warnings

import keras
import numpy as np

from keras_tricks import _checks
from keras_tricks.pruning._schedules import ConstantSparsity, PruningSchedule
from keras_tricks.pruning._select import compile_function, keep_largest

GRANULARITIES = ("weight", "unit")
UNIT_NORMS = ("l1", "l2")

# Kinds of layers whose whole output units can be ranked and removed, and the
# kernel axis that indexes those units.
_UNIT_AXIS = {
    "dense": -1,
    "conv": -1,
    "conv_transpose": -2,
    "separable": -1,
    "embedding": -1,
    "custom": -1,
}


def _layer_kind(layer):
    """What part of `layer` can be pruned, as a short name, or `None`."""
    if hasattr(layer, "get_prunable_weights"):
        return "custom"
    if isinstance(layer, keras.layers.Dense):
        return "dense"
    if isinstance(layer, keras.layers.EinsumDense):
        return "einsum"
    transposes = (
        keras.layers.Conv1DTranspose,
        keras.layers.Conv2DTranspose,
        keras.layers.Conv3DTranspose,
    )
    if isinstance(layer, transposes):
        return "conv_transpose"
    if isinstance(layer, (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)):
        return "separable"
    if isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)):
        return "conv"
    if isinstance(layer, keras.layers.Embedding):
        return "embedding"
    if isinstance(layer, keras.layers.MultiHeadAttention):
        return "attention"
    if isinstance(layer, keras.layers.Bidirectional):
        return "bidirectional"
    if isinstance(layer, keras.layers.RNN):
        return "recurrent"  # the cell's kernel and recurrent kernel
    return None


def _cell_kernels(rnn):
    cell = rnn.cell
    names = ("kernel", "recurrent_kernel")
    return [getattr(cell, n) for n in names if getattr(cell, n, None) is not None]


def _prunable_variables(layer, kind):
    """The variables of a built `layer` that pruning masks."""
    if kind == "custom":
        return list(layer.get_prunable_weights())
    if kind in ("dense", "einsum", "conv", "conv_transpose"):
        return [layer.kernel]
    if kind == "separable":
        return [layer.pointwise_kernel]
    if kind == "embedding":
        return [layer.embeddings]
    if kind == "attention":
        denses = (layer.query_dense, layer.key_dense, layer.value_dense)
        return [d.kernel for d in denses] + [layer.output_dense.kernel]
    if kind == "recurrent":
        return _cell_kernels(layer)
    if kind == "bidirectional":
        return _cell_kernels(layer.forward_layer) + _cell_kernels(layer.backward_layer)
    return []


def _unit_bias(layer, kind):
    if kind in ("dense", "conv", "conv_transpose", "separable") and layer.use_bias:
        return layer.bias
    return None


class _MaskConstraint:
    """Multiplies a variable by its mask after each optimizer step.

    Keras optimizers assign `variable.constraint(variable)` right after every
    update, whatever the update rule (momentum, weight decay, ...), so the
    masked entries are exactly zero after every step. An existing constraint
    runs first. Never serialized: the wrapper sets it again at every build.
    """

    def __init__(self, mask, inner=None):
        self.mask = mask
        self.inner = inner

    def __call__(self, value):
        if self.inner is not None:
            value = self.inner(value)
        return value * keras.ops.cast(self.mask, value.dtype)


def _round_half_even(x):
    return int(np.round(x))


def _keep_count(n, sparsity):
    return max(_round_half_even(n * (1.0 - sparsity)), 1)


def check_sparsity(name, value):
    """`value` as a float in `[0, 1)`; NumPy and 0-d tensor scalars are accepted."""
    if not isinstance(value, (bool, str, bytes, numbers.Real)) and hasattr(value, "shape"):
        array = keras.ops.convert_to_numpy(value)
        if array.ndim == 0 and array.dtype.kind in "fiu":
            value = float(array)
    return _checks.check_range(name, value, 0.0, 1.0)


def _block_grid(shape, block_size):
    rows = int(np.prod(shape[:-1]))
    bh, bw = block_size
    return -(-rows // bh), -(-int(shape[-1]) // bw)


def _block_mask(magnitude, keep, block_size):
    """Ranks `block_size` blocks of the weight seen as a matrix (rows, last axis)."""
    shape = tuple(magnitude.shape)
    columns = shape[-1]
    matrix = keras.ops.reshape(magnitude, (-1, columns))
    rows = matrix.shape[0]
    bh, bw = block_size
    grid_rows, grid_cols = _block_grid(shape, block_size)
    pad_rows, pad_cols = grid_rows * bh - rows, grid_cols * bw - columns
    matrix = keras.ops.pad(matrix, ((0, pad_rows), (0, pad_cols)))
    blocks = keras.ops.reshape(matrix, (grid_rows, bh, grid_cols, bw))
    scores = keras.ops.mean(blocks, axis=(1, 3))
    block = keras.ops.cast(keep_largest(scores, keep), "int32")
    full = keras.ops.repeat(keras.ops.repeat(block, bh, axis=0), bw, axis=1)
    return keras.ops.reshape(full[:rows, :columns], shape)


class _Compiled:
    """Holds a compiled function out of sight of the layer's tracking."""

    __slots__ = ("function",)

    def __init__(self, function):
        self.function = function


_UNDRIVEN_WARNING = (
    "A model with PruneLowMagnitude layers is training without the "
    "`keras_tricks.callbacks.Pruning` callback, so its masks are never updated "
    "and it does not get pruned. Pass `callbacks=[keras_tricks.callbacks.Pruning()]` "
    "to `fit()` (in a custom training loop, call `update_masks` yourself)."
)


@keras.saving.register_keras_serializable(package="keras_tricks")
class PruneLowMagnitude(keras.layers.Wrapper):
    """Magnitude pruning of one layer's weights.

    Wraps a layer and owns one non-trainable 0/1 mask per prunable weight
    (kernel of Dense and convolutions, pointwise kernel of separable
    convolutions, embeddings, the four kernels of `MultiHeadAttention`, the
    kernel and recurrent kernel of recurrent layers; a custom layer opts in
    with a method `get_prunable_weights()` returning its variables). The
    `keras_tricks.callbacks.Pruning` callback recomputes the masks at the steps
    its schedule names; between updates the masks hold pruned weights at
    exactly zero after every optimizer step: each prunable variable's
    `constraint` multiplies it by its mask, and every Keras optimizer applies
    `variable.constraint` right after its update. The forward pass is the
    wrapped layer's, unchanged.

    Granularities:
    - `"weight"`: keep the `max(round(n * (1 - sparsity)), 1)` weights of
      largest magnitude; with `block_size=(rows, columns)`, rank blocks of the
      weight seen as a matrix (its last axis as columns) by mean magnitude.
    - `"unit"`: rank whole output units (Dense columns, convolution filters,
      embedding dimensions) by the L1 or L2 norm of their weights and bias,
      and zero the lowest ones with their bias; `shrink` can then remove them.

    Args:
        layer: the `keras.layers.Layer` to prune.
        pruning_schedule: a `PruningSchedule`. Defaults to
            `ConstantSparsity(0.5, begin_step=0)`.
        granularity: `"weight"` or `"unit"`. Defaults to `"weight"`.
        unit_norm: `"l1"` or `"l2"`, how units are ranked. Defaults to `"l1"`.
        block_size: `None` or a pair of ints, the block shape for block
            sparsity with `granularity="weight"`. Defaults to `None`.
        **kwargs: base layer arguments such as `name`.

    Call arguments:
        inputs, *args, **kwargs: those of the wrapped layer.

    Example:
    >>> dense = keras.layers.Dense(8)
    >>> pruned = keras_tricks.pruning.PruneLowMagnitude(
    ...     dense, keras_tricks.pruning.ConstantSparsity(0.75, begin_step=0))

    Note:
        The sparsity is the same for every prunable weight of the layer and is
        counted per weight; under `"unit"` it is counted in units.

    Reference:
    - [Zhu & Gupta, 2017](https://arxiv.org/abs/1710.01878)
    - [Han et al., 2015](https://arxiv.org/abs/1506.02626)
    """

    def __init__(
        self,
        layer,
        pruning_schedule=None,
        granularity="weight",
        unit_norm="l1",
        block_size=None,
        **kwargs,
    ):
        if isinstance(layer, keras.Model):
            raise ValueError(
                "`layer` must be a layer, not a model: pass models to "
                f"`prune_low_magnitude`. Received: layer={layer.name!r}"
            )
        if not isinstance(layer, keras.layers.Layer):
            raise ValueError(f"`layer` must be a Keras layer. Received: layer={layer!r}")
        kind = _layer_kind(layer)
        if kind is None:
            raise ValueError(
                f"`layer` has no weights that keras_tricks knows how to prune "
                f"({type(layer).__name__}). Prunable: Dense, EinsumDense, "
                "Conv1D/2D/3D and their transposes, SeparableConv1D/2D, Embedding, "
                "MultiHeadAttention, recurrent layers; a custom layer opts in by "
                "defining `get_prunable_weights()`. "
                f"Received: layer={layer.name!r}"
            )
        if pruning_schedule is None:
            pruning_schedule = ConstantSparsity(0.5, begin_step=0)
        if isinstance(pruning_schedule, dict):
            pruning_schedule = keras.saving.deserialize_keras_object(pruning_schedule)
        if not isinstance(pruning_schedule, PruningSchedule):
            raise ValueError(
                "`pruning_schedule` must be a keras_tricks.pruning schedule. "
                f"Received: pruning_schedule={pruning_schedule!r}"
            )
        _checks.check_choice("granularity", granularity, GRANULARITIES)
        _checks.check_choice("unit_norm", unit_norm, UNIT_NORMS)
        if granularity == "unit" and kind not in _UNIT_AXIS:
            raise ValueError(
                f"`granularity` 'unit' is not defined for {type(layer).__name__}; "
                "use granularity='weight'. Received: granularity='unit'"
            )
        if block_size is not None:
            if (
                isinstance(block_size, (str, bytes))
                or not hasattr(block_size, "__len__")
                or len(block_size) != 2
                or not all(
                    isinstance(b, int) and not isinstance(b, bool) and b >= 1
                    for b in block_size
                )
            ):
                raise ValueError(
                    "`block_size` must be None or a pair of positive ints. "
                    f"Received: block_size={block_size!r}"
                )
            if granularity != "weight":
                raise ValueError(
                    "`block_size` needs granularity='weight'. "
                    f"Received: block_size={block_size!r}"
                )
            block_size = tuple(block_size)
        kwargs.setdefault("name", f"prune_low_magnitude_{layer.name}")
        super().__init__(layer, **kwargs)
        self.pruning_schedule = pruning_schedule
        self.granularity = granularity
        self.unit_norm = unit_norm
        self.block_size = block_size
        self._kind = kind
        self.supports_masking = layer.supports_masking
        self._pruned = []
        self._masks = []
        self._bias = None
        self._bias_mask = None
        # Set by the `Pruning` callback while it drives a `fit()`, and by a
        # direct `update_masks` call; without either, training warns once.
        self._driven = False
        self._driven_by_hand = False
        self._warned = False
        self._compiled = None

    def build(self, input_shape=None):
        if not self.layer.built:
            if self._kind in ("attention",):
                raise ValueError(
                    f"`layer` {type(self.layer).__name__} must be built before it is "
                    f"wrapped (call it on its inputs once). Received: layer="
                    f"{self.layer.name!r}"
                )
            self.layer.build(input_shape)
        self._pruned = _prunable_variables(self.layer, self._kind)
        self._masks = [
            self.add_weight(
                name=f"mask_{i}",
                shape=tuple(v.shape),
                initializer="ones",
                trainable=False,
                dtype=v.dtype,
            )
            for i, v in enumerate(self._pruned)
        ]
        if self.granularity == "unit":
            self._bias = _unit_bias(self.layer, self._kind)
            if self._bias is not None:
                self._bias_mask = self.add_weight(
                    name="bias_mask",
                    shape=tuple(self._bias.shape),
                    initializer="ones",
                    trainable=False,
                    dtype=self._bias.dtype,
                )
        for variable, mask in self._mask_pairs():
            constraint = variable.constraint
            if isinstance(constraint, _MaskConstraint):
                constraint = constraint.inner
            variable.constraint = _MaskConstraint(mask, constraint)
        self.built = True

    def _mask_pairs(self):
        pairs = list(zip(self._pruned, self._masks, strict=True))
        if self._bias_mask is not None:
            pairs.append((self._bias, self._bias_mask))
        return pairs

    def build_from_config(self, config):
        if not self.layer.built and config.get("layer"):
            self.layer.build_from_config(config["layer"])
        self.build(config.get("input_shape"))

    def get_build_config(self):
        config = super().get_build_config() or {}
        if self.layer.built and self.layer.get_build_config():
            config["layer"] = self.layer.get_build_config()
        return config

    def call(self, inputs, *args, training=None, **kwargs):
        # `training` and masks reach the wrapped layer through Keras's call
        # context and the inputs' mask; passing them on here would record them
        # in the functional graph, which `strip_pruning` replays on the bare
        # layer. `training` is named only to notice training without the
        # `Pruning` callback: in `fit()` this runs once, when the train step
        # is traced, after the callbacks' `on_train_begin`.
        if training is True and not (self._driven or self._driven_by_hand or self._warned):
            self._warned = True
            warnings.warn(_UNDRIVEN_WARNING, UserWarning, stacklevel=2)
        return self.layer(inputs, *args, **kwargs)

    def compute_mask(self, inputs, mask=None):
        return self.layer.compute_mask(inputs, mask)

    def update_masks(self, sparsity):
        """Recompute every mask at `sparsity` from the current weights.

        Zeroes the masked weights at once. Runs as one compiled function
        between steps (the `Pruning` callback calls it); under a distribution
        strategy it runs in cross-replica context, so every replica gets the
        same masks. Calling it yourself (a custom training loop) also silences
        the warning about training without the `Pruning` callback.

        Args:
            sparsity: float in `[0, 1)`, the fraction of each pruned weight
                (of its blocks or units, for those granularities) set to zero.

        Returns:
            A list of `(zeros, size)` pairs, one per prunable weight.
        """
        sparsity = check_sparsity("sparsity", sparsity)
        if not self.built:
            raise ValueError(
                "`update_masks` needs a built layer: call it on inputs first. "
                f"Received: layer={self.name!r}"
            )
        self._driven_by_hand = True
        keeps = self._keep_counts(sparsity)
        if self._compiled is None:
            self._compiled = _Compiled(compile_function(self._assign_masks))
        self._compiled.function(np.asarray(keeps, "int32"))
        return self._zero_counts(keeps)

    def _units(self, variable):
        return int(variable.shape[_UNIT_AXIS[self._kind] % len(variable.shape)])

    def _keep_counts(self, sparsity):
        """How many entries (blocks, units) of each pruned weight stay, as ints."""
        if self.granularity == "unit":
            sizes = [self._units(v) for v in self._pruned]
        elif self.block_size is not None:
            sizes = [
                int(np.prod(_block_grid(tuple(v.shape), self.block_size)))
                for v in self._pruned
            ]
        else:
            sizes = [int(np.prod(v.shape)) for v in self._pruned]
        return [_keep_count(n, sparsity) for n in sizes]

    def _zero_counts(self, keeps):
        """`(zeros, size)` per pruned weight after `_assign_masks(keeps)`."""
        counts = []
        for variable, mask, keep in zip(self._pruned, self._masks, keeps, strict=True):
            size = int(np.prod(variable.shape))
            if self.granularity == "unit":
                units = self._units(variable)
                zeros = (units - keep) * (size // units)
            elif self.block_size is not None:  # edge blocks are partial: count
                zeros = size - int(np.count_nonzero(keras.ops.convert_to_numpy(mask)))
            else:
                zeros = size - keep
            counts.append((zeros, size))
        return counts

    def _assign_masks(self, keeps):
        """Keep `keeps[i]` entries of pruned weight i; graph safe, no host reads."""
        if self.granularity == "unit":
            new_masks, unit_mask = self._unit_masks(keeps)
        else:
            new_masks = [
                self._weight_mask(v, keeps[i]) for i, v in enumerate(self._pruned)
            ]
        for variable, mask, new in zip(self._pruned, self._masks, new_masks, strict=True):
            mask.assign(keras.ops.cast(new, mask.dtype))
            variable.assign(variable * keras.ops.cast(new, variable.dtype))
        if self._bias_mask is not None:
            self._bias_mask.assign(keras.ops.cast(unit_mask, self._bias_mask.dtype))
            self._bias.assign(self._bias * keras.ops.cast(unit_mask, self._bias.dtype))

    def _weight_mask(self, variable, keep):
        magnitude = keras.ops.abs(keras.ops.convert_to_tensor(variable))
        if self.block_size is not None:
            return _block_mask(magnitude, keep, self.block_size)
        return keep_largest(magnitude, keep)

    def _unit_masks(self, keeps):
        masks = []
        unit_mask = None
        for i, variable in enumerate(self._pruned):
            kernel = keras.ops.convert_to_tensor(variable)
            axis = _UNIT_AXIS[self._kind] % len(kernel.shape)
            moved = keras.ops.moveaxis(kernel, axis, -1)
            units = moved.shape[-1]
            flat = keras.ops.reshape(moved, (-1, units))
            if self.unit_norm == "l1":
                scores = keras.ops.sum(keras.ops.abs(flat), axis=0)
                if self._bias is not None:
                    scores = scores + keras.ops.abs(self._bias)
            else:
                scores = keras.ops.sum(keras.ops.square(flat), axis=0)
                if self._bias is not None:
                    scores = scores + keras.ops.square(self._bias)
                scores = keras.ops.sqrt(scores)
            unit_mask = keras.ops.cast(keep_largest(scores, keeps[i]), "int32")
            shape = [1] * len(kernel.shape)
            shape[axis] = units
            masks.append(
                keras.ops.broadcast_to(
                    keras.ops.reshape(unit_mask, shape), keras.ops.shape(kernel)
                )
            )
        return masks, unit_mask

    def get_config(self):
        # The wrapped layer's own build config would make this config change at
        # build; `get_build_config` carries it instead.
        layer = dict(keras.saving.serialize_keras_object(self.layer))
        layer.pop("build_config", None)
        config = {
            "layer": layer,
            "pruning_schedule": keras.saving.serialize_keras_object(
                self.pruning_schedule
            ),
            "granularity": self.granularity,
            "unit_norm": self.unit_norm,
            "block_size": None if self.block_size is None else list(self.block_size),
        }
        return {**super().get_config(), **config}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        layer = keras.saving.deserialize_keras_object(
            config.pop("layer"), custom_objects=custom_objects
        )
        return cls(layer, **config)


def _is_plain_model(model):
    """Sequential or Functional: the models whose graph can be rebuilt."""
    return isinstance(model, keras.Sequential) or type(model).__name__ == "Functional"


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
    if isinstance(to_prune, keras.Model):
        _check_plain_model(to_prune, "to_prune")
    elif isinstance(to_prune, keras.layers.Layer):
        if layers is not None:
            raise ValueError(
                f"`layers` applies to models only. Received: layers={layers!r}"
            )
        return PruneLowMagnitude(to_prune, **options)
    else:
        raise ValueError(
            "`to_prune` must be a Keras layer or a Sequential/Functional model. "
            f"Received: to_prune={to_prune!r}"
        )
    model = to_prune
    selected = _select_layers(model, layers, granularity)
    pairs = []

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

    new_model = keras.models.clone_model(model, clone_function=clone)
    _copy_weights(pairs)
    return new_model


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
    """`clone_model` of a nested Sequential/Functional model, name and trainable kept."""
    copy = keras.models.clone_model(model, clone_function=clone_function)
    if copy.name != model.name:
        copy.name = model.name
    copy.trainable = model.trainable
    return copy


def _prunable_leaf(layer, granularity):
    return (
        _layer_kind(layer) is not None
        and not isinstance(layer, (PruneLowMagnitude, keras.Model))
        and bool(layer.weights)
        and (granularity != "unit" or _layer_kind(layer) in _UNIT_AXIS)
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
        path, layer = matches[0]
        if isinstance(layer, keras.Model):
            inner = [la for _, la in _walk(layer) if _prunable_leaf(la, granularity)]
            if not inner:
                raise ValueError(
                    f"`layers` names the nested model {path!r}, which holds no "
                    f"prunable layers. Received: layers={layers!r}"
                )
            selected.update(id(la) for la in inner)
            continue
        if _layer_kind(layer) is None:
            raise ValueError(
                f"`layers` names {path!r} ({type(layer).__name__}), "
                "which has no prunable weights. Received: "
                f"layers={layers!r}"
            )
        selected.add(id(layer))
    return selected


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
