"""The pruning wrapper: one layer, its masks, and how they are recomputed."""

import numbers
import warnings

import keras
import numpy as np

from keras_tricks import _checks
from keras_tricks._serialization import nested_config
from keras_tricks.pruning._kinds import (
    UNIT_AXIS,
    layer_kind,
    prunable_variables,
    unit_bias,
)
from keras_tricks.pruning._schedules import ConstantSparsity, PruningSchedule
from keras_tricks.pruning._select import compile_function, keep_largest

GRANULARITIES = ("weight", "unit")
UNIT_NORMS = ("l1", "l2")


def _optimizer_sees_masks():
    """Whether a constraint can read a mask while the optimizer updates.

    On JAX, `fit()` runs the optimizer with `stateless_apply`, whose scope
    holds only the trainable and optimizer variables: a non-trainable mask has
    no value there (`fit()` also purges the variables' own values), so a
    constraint that reads it fails. There the wrapper masks in the forward
    pass instead (see `PruneLowMagnitude.call`).
    """
    return keras.backend.backend() != "jax"


class _MaskConstraint:
    """Multiplies a variable by its mask after each optimizer step.

    Keras optimizers assign `variable.constraint(variable)` right after every
    update, whatever the update rule (momentum, weight decay, ...), so the
    masked entries are exactly zero after every step. An existing constraint
    runs first. Never serialized: the wrapper sets it again at every build.
    Not installed on JAX (see `_optimizer_sees_masks`).
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
    if not isinstance(value, (bool, str, bytes, numbers.Real)) and hasattr(
        value, "shape"
    ):
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


def _check_layer(layer):
    """The kind of `layer` (see `_kinds`); a clear error for anything unprunable."""
    if isinstance(layer, keras.Model):
        raise ValueError(
            "`layer` must be a layer, not a model: pass models to "
            f"`prune_low_magnitude`. Received: layer={layer.name!r}"
        )
    if not isinstance(layer, keras.layers.Layer):
        raise ValueError(f"`layer` must be a Keras layer. Received: layer={layer!r}")
    kind = layer_kind(layer)
    if kind is None:
        raise ValueError(
            f"`layer` has no weights that keras_tricks knows how to prune "
            f"({type(layer).__name__}). Prunable: Dense, EinsumDense, "
            "Conv1D/2D/3D and their transposes, SeparableConv1D/2D, Embedding, "
            "MultiHeadAttention, recurrent layers; a custom layer opts in by "
            "defining `get_prunable_weights()`. "
            f"Received: layer={layer.name!r}"
        )
    return kind


def _check_schedule(pruning_schedule):
    """`pruning_schedule` as a `PruningSchedule` (the default, or from a config)."""
    if pruning_schedule is None:
        return ConstantSparsity(0.5, begin_step=0)
    if isinstance(pruning_schedule, dict):
        pruning_schedule = keras.saving.deserialize_keras_object(pruning_schedule)
    if not isinstance(pruning_schedule, PruningSchedule):
        raise ValueError(
            "`pruning_schedule` must be a keras_tricks.pruning schedule. "
            f"Received: pruning_schedule={pruning_schedule!r}"
        )
    return pruning_schedule


def _check_unit_granularity(layer, kind, granularity):
    if granularity == "unit" and kind not in UNIT_AXIS:
        raise ValueError(
            f"`granularity` 'unit' is not defined for {type(layer).__name__}; "
            "use granularity='weight'. Received: granularity='unit'"
        )


def _is_positive_int(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _check_block_size(block_size, granularity):
    """`None`, or `block_size` as a tuple of two positive ints (needs "weight")."""
    if block_size is None:
        return None
    if (
        isinstance(block_size, (str, bytes))
        or not hasattr(block_size, "__len__")
        or len(block_size) != 2
        or not all(_is_positive_int(b) for b in block_size)
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
    return tuple(block_size)


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

    Backends: TensorFlow, JAX and PyTorch. On JAX, `fit()` runs the optimizer
    in a stateless step that cannot read the non-trainable masks, so there
    the wrapper multiplies each pruned weight by its mask in the forward pass
    instead (`apply_masks`): the layer computes as pruned, pruned weights get
    zero gradients, and the `Pruning` callback zeroes their stored values at
    every mask update, epoch end and at the end of training. Between those,
    an optimizer with momentum can move a stored pruned weight away from zero
    without effect on any output; `strip_pruning` and `sparsity_report` count
    the masked values.

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
        kind = _check_layer(layer)
        pruning_schedule = _check_schedule(pruning_schedule)
        _checks.check_choice("granularity", granularity, GRANULARITIES)
        _checks.check_choice("unit_norm", unit_norm, UNIT_NORMS)
        _check_unit_granularity(layer, kind, granularity)
        block_size = _check_block_size(block_size, granularity)
        kwargs.setdefault("name", f"prune_low_magnitude_{layer.name}")
        super().__init__(layer, **kwargs)
        self.pruning_schedule = pruning_schedule
        self.granularity = granularity
        self.unit_norm = unit_norm
        self.block_size = block_size
        self._kind = kind
        self.supports_masking = layer.supports_masking
        # The wrapper reads its variables only in `apply_masks`, which must
        # see them in their own dtype (a float16 read under mixed precision
        # would round the weights it writes back); the wrapped layer
        # autocasts in its own call.
        self.autocast = False
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
        self._pruned = prunable_variables(self.layer, self._kind)
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
            self._bias = unit_bias(self.layer, self._kind)
            if self._bias is not None:
                self._bias_mask = self.add_weight(
                    name="bias_mask",
                    shape=tuple(self._bias.shape),
                    initializer="ones",
                    trainable=False,
                    dtype=self._bias.dtype,
                )
        if _optimizer_sees_masks():
            for variable, mask in self._mask_pairs():
                constraint = variable.constraint
                if isinstance(constraint, _MaskConstraint):
                    constraint = constraint.inner
                variable.constraint = _MaskConstraint(mask, constraint)
        self.built = True

    def _mask_pairs(self):
        """`(variable, mask)` for every masked variable (kernels, then a unit bias).

        What `strip_pruning`, `sparsity_report` and the `Pruning` callback
        read; the masks are non-trainable weights of this layer.
        """
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
        if training is True and not (
            self._driven or self._driven_by_hand or self._warned
        ):
            self._warned = True
            warnings.warn(_UNDRIVEN_WARNING, UserWarning, stacklevel=2)
        if not _optimizer_sees_masks():
            self.apply_masks()
        return self.layer(inputs, *args, **kwargs)

    def apply_masks(self):
        """Multiply every pruned weight by its mask (`weight.assign(weight * mask)`).

        Where the optimizer cannot apply the masks (JAX, see the Note of the
        class), `call` runs this before the wrapped layer: inside `fit()`'s
        stateless step the assignment only changes the value the layer reads,
        so gradients of pruned weights are zero and the forward pass is that
        of the pruned layer; the `Pruning` callback runs it for real at the
        end of every epoch. Elsewhere the weights are already masked and this
        changes nothing.
        """
        for variable, mask in self._mask_pairs():
            variable.assign(variable * keras.ops.cast(mask, variable.dtype))

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

    # What the `Pruning` callback (`_callback.py`) uses: `_set_driven`,
    # `_mask_zero_counts`, `_keep_counts`, `_assign_masks`, `_zero_counts`,
    # `apply_masks` and `pruning_schedule`.

    def _set_driven(self, driven):
        """Say whether the `Pruning` callback drives this layer's masks now.

        While it does, training does not warn about a missing callback.
        """
        self._driven = bool(driven)

    def _mask_zero_counts(self):
        """`(zeros, size)` of each kernel mask as it stands (one host read each)."""
        counts = []
        for mask in self._masks:
            values = keras.ops.convert_to_numpy(mask)
            counts.append(
                (int(values.size - np.count_nonzero(values)), int(values.size))
            )
        return counts

    def _units(self, variable):
        return int(variable.shape[UNIT_AXIS[self._kind] % len(variable.shape)])

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
                self._weight_mask(v, m, keeps[i])
                for i, (v, m) in enumerate(zip(self._pruned, self._masks, strict=True))
            ]
        for variable, mask, new in zip(
            self._pruned, self._masks, new_masks, strict=True
        ):
            mask.assign(keras.ops.cast(new, mask.dtype))
            variable.assign(variable * keras.ops.cast(new, variable.dtype))
        if self._bias_mask is not None:
            self._bias_mask.assign(keras.ops.cast(unit_mask, self._bias_mask.dtype))
            self._bias.assign(self._bias * keras.ops.cast(unit_mask, self._bias.dtype))

    def _masked(self, variable, mask):
        """`variable * mask`: the weight the layer uses, on every backend.

        On JAX a pruned entry of the variable itself may have drifted from
        zero between epochs (see `apply_masks`); ranking the masked value
        treats it as the zero it stands for. Elsewhere the constraint keeps it
        zero, and the variable is the masked value already.
        """
        value = keras.ops.convert_to_tensor(variable)
        if _optimizer_sees_masks():
            return value
        return value * keras.ops.cast(mask, variable.dtype)

    def _weight_mask(self, variable, mask, keep):
        magnitude = keras.ops.abs(self._masked(variable, mask))
        if self.block_size is not None:
            return _block_mask(magnitude, keep, self.block_size)
        return keep_largest(magnitude, keep)

    def _unit_masks(self, keeps):
        masks = []
        unit_mask = None
        bias = None
        if self._bias is not None:
            bias = self._masked(self._bias, self._bias_mask)
        for i, (variable, mask) in enumerate(
            zip(self._pruned, self._masks, strict=True)
        ):
            kernel = self._masked(variable, mask)
            axis = UNIT_AXIS[self._kind] % len(kernel.shape)
            moved = keras.ops.moveaxis(kernel, axis, -1)
            units = moved.shape[-1]
            flat = keras.ops.reshape(moved, (-1, units))
            if self.unit_norm == "l1":
                scores = keras.ops.sum(keras.ops.abs(flat), axis=0)
                if bias is not None:
                    scores = scores + keras.ops.abs(bias)
            else:
                scores = keras.ops.sum(keras.ops.square(flat), axis=0)
                if bias is not None:
                    scores = scores + keras.ops.square(bias)
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
        config = {
            "layer": nested_config(self.layer),
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
