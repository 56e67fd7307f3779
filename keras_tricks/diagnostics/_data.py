"""Shared by the checks: `read` (data of every kind `fit` takes, as NumPy),
the structure helpers (`take`, `map_arrays`, `flat_arrays`, `num_samples`,
`concat`, `describe`), input validation, model cloning and loss helpers.

What the other modules of `keras_tricks.diagnostics` may use: every name
here without a leading underscore. Nothing outside the subpackage uses it.
"""

import functools

import keras
import numpy as np
from keras import ops

from keras_tricks import _checks
from keras_tricks.diagnostics import _layers


class Description(str):
    """Text that stands for a value in an error message, shown without quotes.

    `keras_tricks._checks.fail` writes `Received: name=<repr of the value>`;
    arrays are described by their shapes (`array of shape (32, 64)`) rather
    than printed, so the description's `repr` is the text itself.
    """

    def __repr__(self):
        return str(self)


def describe(value):
    """`value` for an error message: arrays by shape, structures by their parts."""
    if isinstance(value, (list, tuple)):
        return Description("(" + ", ".join(describe(v) for v in value) + ")")
    if isinstance(value, dict):
        return Description(
            "{" + ", ".join(f"{k!r}: {describe(v)}" for k, v in value.items()) + "}"
        )
    shape = getattr(value, "shape", None)
    if shape is not None:
        return Description(f"array of shape {tuple(shape)}")
    return Description(repr(value))


# Data as the checks hold it: an array, or a list, tuple or dict of arrays
# (one per model input). These helpers work on every such structure through
# `keras.tree`; the checks and `diagnose` use them, never their own loops.


def flat_arrays(x):
    """Every array of the structure `x`, flattened, as NumPy arrays."""
    return [np.asarray(a) for a in keras.tree.flatten(x)]


def num_samples(x):
    """The number of samples in `x` (the first axis of its first array; 0 if none)."""
    leaves = flat_arrays(x)
    return int(leaves[0].shape[0]) if leaves and leaves[0].ndim else 0


def take(x, index):
    """The samples `index` (an index array or a slice) of every array of `x`."""
    return keras.tree.map_structure(lambda a: np.asarray(a)[index], x)


def map_arrays(x, fn):
    """`fn` applied to every array of `x` (as NumPy), keeping the structure."""
    return keras.tree.map_structure(lambda a: fn(np.asarray(a)), x)


def concat(parts):
    """Structures of the same shape joined along the batch axis."""
    return keras.tree.map_structure(
        lambda *leaves: np.concatenate([np.asarray(a) for a in leaves], axis=0), *parts
    )


_KINDS = (
    "a pair (x, y) of arrays (x an array, a list or a dict of arrays), "
    "a tf.data.Dataset or a keras.utils.PyDataset"
)


def _tf_dataset_type():
    try:
        import tensorflow as tf
    except ImportError:  # another backend without TensorFlow installed
        return None
    return tf.data.Dataset


def is_stream(data):
    """Whether `data` is a `tf.data.Dataset` or a `keras.utils.PyDataset`."""
    dataset = _tf_dataset_type()
    return isinstance(data, keras.utils.PyDataset) or (
        dataset is not None and isinstance(data, dataset)
    )


def _ranks(structure):
    return sorted(len(spec.shape) for spec in keras.tree.flatten(structure))


def _is_unbatched(dataset, model):
    """Whether the dataset's elements are single samples of `model`'s inputs."""
    try:
        inputs = (
            getattr(model, "inputs", None)
            if model is not None and model.built
            else None
        )
    except (AttributeError, ValueError):  # a subclassed model has no symbolic inputs
        inputs = None
    if not inputs:
        return False
    x_spec = keras.utils.unpack_x_y_sample_weight(dataset.element_spec)[0]
    try:
        ranks = _ranks(x_spec)
    except (AttributeError, TypeError):
        return False
    return ranks == [r - 1 for r in _ranks(inputs)]


def _stream_batches(data, model, batch_size, name):
    """Yield the batches of a dataset or PyDataset as NumPy structures."""
    if isinstance(data, keras.utils.PyDataset):
        try:
            count = data.num_batches
        except NotImplementedError:  # neither `num_batches` nor `__len__`
            count = None
        index = 0
        while count is None or index < count:
            yield keras.tree.map_structure(np.asarray, data[index])
            index += 1
        return
    if not _is_unbatched(data, model):
        yield from data.as_numpy_iterator()
        return
    import tensorflow as tf

    try:
        yield from data.batch(batch_size).as_numpy_iterator()
    except tf.errors.InvalidArgumentError as error:  # e.g. images of different sizes
        reason = " ".join(str(error).split())[:200]
        raise ValueError(
            f"`{name}` holds single samples (it is not batched) that cannot be "
            f"batched together ({reason}): resize them to one shape and batch the "
            f"dataset, as `fit` needs. Received: {name}={_describe_stream(data)}"
        ) from None


_MAX_EMPTY_BATCHES = 100


def _read_stream(data, name, count, model, batch_size):
    parts, total, empty = [], 0, 0
    for element in _stream_batches(data, model, batch_size, name):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(element)
        parts.append((x,) if y is None else (x, y))
        total += num_samples(x)
        empty = empty + 1 if num_samples(x) == 0 else 0
        if empty >= _MAX_EMPTY_BATCHES:  # an endless stream of empty batches
            break
        if count == "batch" and total > 0:
            break
        if isinstance(count, int) and total >= count:
            break
    if not parts or total == 0:
        _checks.fail(name, _describe_stream(data), "must hold at least one sample")
    if len({len(p) for p in parts}) != 1:
        _checks.fail(
            name,
            _describe_stream(data),
            "must give (x, y) in every batch, or x alone in every one",
        )
    try:
        pooled = concat(parts)
    except (ValueError, TypeError) as error:
        _checks.fail(
            name,
            _describe_stream(data),
            f"must give batches that stack along the batch axis ({error})",
        )
    if isinstance(count, int):
        pooled = take(pooled, slice(0, count))
    return pooled[0], (pooled[1] if len(pooled) == 2 else None)


def _describe_stream(data):
    if isinstance(data, keras.utils.PyDataset):
        return Description(f"<{type(data).__name__}>")
    return Description(f"<{type(data).__name__} element_spec={data.element_spec}>")


def read(data, name, count="batch", model=None, labels=True, batch_size=32):
    """Read samples of `data`, of any kind `fit` takes, as NumPy structures.

    The one entry point of every check that takes data. `data` is a pair
    `(x, y)` of arrays (`x` an array, a list of arrays or a dict of arrays),
    a `tf.data.Dataset` or a `keras.utils.PyDataset`; with `labels=False` it
    may also be `x` alone. Elements of a dataset are read as `fit` reads
    them: `x`, `(x,)`, `(x, y)` or `(x, y, sample_weight)` (the weights are
    ignored), each element one batch. A `tf.data.Dataset` whose elements
    are single samples (their rank one below the model's inputs) is batched
    here by `batch_size`.

    Args:
        data: the data, as above.
        name: str, the argument's name in error messages.
        count: `"batch"` (arrays whole, the first batch of a
            dataset), `"all"` (arrays only) or an int (the first
            `count` samples, fewer when the data holds fewer).
        model: `keras.Model` or `None`, to tell an unbatched dataset.
        labels: bool, whether `y` is required.
        batch_size: int, the batch size given to an unbatched dataset.

    Returns:
        `(x, y)`, `y` being `None` when `labels` is false and none are given.
    """
    if is_stream(data):
        if count == "all":
            raise ValueError("internal: streams are read by a number of samples")
        x, y = _read_stream(data, name, count, model, batch_size)
        if labels and y is None:
            _checks.fail(
                name, _describe_stream(data), "must give labels: elements (x, y)"
            )
    else:
        if labels:
            x, y = _split_pair(data, name)
        elif isinstance(data, tuple) and len(data) == 2:
            x, y = _as_arrays(data[0], name, data), _as_arrays(data[1], name, data)
        else:
            x, y = _as_arrays(data, name, data), None
        if isinstance(count, int):
            x = take(x, slice(0, count))
            y = None if y is None else take(y, slice(0, count))
    if num_samples(x) == 0:
        _checks.fail(name, describe(x), "must hold at least one sample")
    if y is not None and num_samples(y) != num_samples(x):
        _checks.fail(name, describe((x, y)), "must hold as many labels as inputs")
    return x, y


def _as_arrays(value, name, data):
    """`value` (an array, or a list, tuple or dict of arrays) as NumPy arrays."""
    try:
        arrays = map_arrays(value, lambda a: a)
    except (TypeError, ValueError):
        arrays = None
    if arrays is None or any(a.dtype == object for a in flat_arrays(arrays)):
        _checks.fail(name, describe(data), f"must be {_KINDS}")
    return arrays


def _split_pair(data, name):
    if not isinstance(data, (list, tuple)) or len(data) != 2:
        _checks.fail(name, describe(data), f"must be {_KINDS}")
    return _as_arrays(data[0], name, data), _as_arrays(data[1], name, data)


def check_inputs(model, x, name):
    """Build `model` on `x` if needed and raise if `x` does not fit its inputs."""
    if num_samples(x) == 0:
        _checks.fail(name, describe(x), "must hold at least one sample")
    try:
        inputs = getattr(model, "inputs", None) if model.built else None
    except (AttributeError, ValueError):  # a subclassed model has no symbolic inputs
        inputs = None
    if inputs and not isinstance(x, dict):  # a dict is matched by name: try it below
        arrays = flat_arrays(x)
        if len(arrays) != len(inputs):
            _checks.fail(
                name,
                describe(x),
                f"must match the model's {len(inputs)} input(s) of shape "
                f"{[tuple(i.shape) for i in inputs]}",
            )
        for array, tensor in zip(arrays, inputs, strict=True):
            expected = tuple(tensor.shape)
            got = tuple(array.shape)
            fits = len(got) == len(expected) and all(
                e is None or e == g for e, g in zip(expected[1:], got[1:], strict=True)
            )
            if not fits:
                _checks.fail(
                    name,
                    describe(x),
                    f"must match the model's input shape {expected}",
                )
        return
    try:
        model(take(x, slice(0, 1)), training=False)
    except Exception as error:  # noqa: BLE001  (any failure means a mismatch)
        _checks.fail(name, describe(x), f"must fit the model's inputs ({error})")


def require_batch(x, batch_size, name="data"):
    """Refuse `x` when it holds fewer samples than one batch."""
    n = num_samples(x)
    if n < batch_size:
        _checks.fail(
            name,
            Description(f"{n} samples"),
            f"must hold at least one batch (batch_size={batch_size} samples); "
            "pass a smaller `batch_size` for a small dataset",
        )


def check_model(model, name="model"):
    """Raise a `TypeError` unless `model` is a `keras.Model`."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"`{name}` must be a keras.Model. Received: {name}={model!r}")


def require_compiled(model, name="model"):
    """Raise unless `model` is a `keras.Model` compiled with a loss."""
    check_model(model, name)
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
        _checks.fail(
            name,
            Description(f"<{type(model).__name__} name={model.name!r}, not compiled>"),
            "must be compiled with a loss for this check "
            "(call `model.compile(optimizer=..., loss=...)` first)",
        )


class _InferenceOnly(keras.layers.Layer):
    """Calls the wrapped layer with `training=False` whatever the mode.

    The diagnostic copies use it in place of an augmentation layer: the
    layer's inference behaviour (a central crop, for instance) keeps the
    shapes downstream, which an `Identity` would not. Never saved.
    """

    def __init__(self, layer, **kwargs):
        super().__init__(name=layer.name, dtype=layer.dtype_policy, **kwargs)
        self.layer = layer

    def build(self, input_shape):
        pass  # the wrapped layer builds itself on its first call

    def call(self, inputs, training=None, **kwargs):
        return self.layer(inputs, training=False, **kwargs)

    def compute_output_shape(self, input_shape):
        return self.layer.compute_output_shape(input_shape)


def is_subclassed(model):
    """Whether `model` is a subclassed `keras.Model` (neither Functional nor
    Sequential)."""
    return isinstance(model, keras.Model) and not (
        isinstance(model, keras.Sequential) or _is_functional(model)
    )


@functools.cache
def _functional_type():
    """Keras's Functional class, found through the public API (`keras.Model(inputs,
    outputs)`)."""
    inputs = keras.Input((1,))
    return type(keras.Model(inputs, keras.layers.Identity()(inputs)))


def _is_functional(model):
    return isinstance(model, _functional_type())


def _clone_subclassed(model, x):
    """A fresh instance of a subclassed model from its config, built on `x`."""
    try:
        copy = type(model).from_config(model.get_config())
    except Exception as error:  # noqa: BLE001  (any failure: the model cannot be rebuilt)
        reason = " ".join(str(error).split())
        reason = reason if len(reason) <= 200 else reason[:197] + "..."
        _checks.fail(
            "model",
            Description(f"<{type(model).__name__} name={model.name!r}, subclassed>"),
            "must be a Functional or Sequential model, or a subclassed model whose "
            "`get_config()` and `from_config()` rebuild it, for this check: it "
            "trains a copy of the model and leaves yours untouched. Implement "
            "`get_config` (returning the `__init__` arguments) or build the model "
            f"with the functional API (rebuilding it failed: {reason})",
        )
    copy(take(x, slice(0, 1)), training=False)
    if len(copy.weights) != len(model.weights):
        _checks.fail(
            "model",
            Description(f"<{type(model).__name__} name={model.name!r}, subclassed>"),
            f"must be rebuilt by `from_config(get_config())` with the same weights "
            f"({len(copy.weights)} weights in the rebuilt copy, "
            f"{len(model.weights)} in the model)",
        )
    copy.set_weights(model.get_weights())
    return copy


def clone(model, learning_rate=None, disable_augmentation=True, x=None):
    """A compiled copy of `model` with its weights and a fresh optimizer.

    Random augmentation layers (Keras's `Random*` layers, `MixUp`, ... and
    `keras_tricks.augment`), nested models included, run in inference mode
    in the copy when `disable_augmentation`: called with `training=False`,
    so a layer that changes the shape (`RandomResizedCrop`) keeps doing so.
    A subclassed model is rebuilt with `from_config(get_config())` and built
    on `x` (its augmentation layers cannot be reached). The copy is compiled
    without XLA: diagnostics favour a quick start.
    """
    if is_subclassed(model):
        copy = _clone_subclassed(model, x)
    else:

        def clone_layer(layer):
            fresh = (
                keras.layers.Lambda(layer.function, name=layer.name)
                if isinstance(layer, keras.layers.Lambda)
                else layer.__class__.from_config(layer.get_config())
            )
            if disable_augmentation and _layers.is_augmentation(layer):
                return _InferenceOnly(fresh)
            return fresh

        copy = keras.models.clone_model(
            model, clone_function=clone_layer, recursive=True
        )
        if not copy.built:
            copy.build(
                model.inputs[0].shape if getattr(model, "inputs", None) else None
            )
        _copy_weights(model, copy)
    optimizer = keras.optimizers.deserialize(
        keras.optimizers.serialize(model.optimizer)
    )
    if learning_rate is not None:
        optimizer.learning_rate = learning_rate
    loss = model.loss
    if isinstance(loss, keras.losses.Loss):
        loss = keras.losses.deserialize(keras.losses.serialize(loss))
    copy.compile(optimizer=optimizer, loss=loss, jit_compile=False)
    return copy


def _copy_weights(model, copy):
    """Copy weights layer by layer (augmentation wrappers hold none that train)."""
    originals = {layer.name: layer for layer in model.layers}
    for layer in copy.layers:
        source = originals.get(layer.name)
        if source is None:
            continue
        target = layer.layer if isinstance(layer, _InferenceOnly) else layer
        if isinstance(target, keras.Model) and isinstance(source, keras.Model):
            _copy_weights(source, target)
        elif len(source.weights) == len(target.weights):
            target.set_weights(source.get_weights())


def loss_value(model, x, y, training=False):
    """The compiled loss of `model` on `(x, y)` as a Python float."""
    y_pred = model(x, training=training)
    return float(
        ops.convert_to_numpy(
            model.compute_loss(x=x, y=y, y_pred=y_pred, training=training)
        )
    )


def batches(num_samples, batch_size, steps, seed):
    """Yield `steps` index arrays cycling through shuffled epochs."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(num_samples)
    position = 0
    for _ in range(steps):
        if position + batch_size > num_samples:
            order = rng.permutation(num_samples)
            position = 0
        yield order[position : position + batch_size]
        position += batch_size


def train_steps(model, x, y, index_batches):
    """Run `train_on_batch` over the index batches; return the losses."""
    losses = []
    for index in index_batches:
        logs = model.train_on_batch(take(x, index), take(y, index), return_dict=True)
        losses.append(float(logs["loss"]))
    return losses
