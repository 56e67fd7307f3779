"""Input validation, model cloning and loss helpers shared by the checks."""

import keras
import numpy as np
from keras import ops


def _fail(name, received, requirement):
    raise ValueError(f"`{name}` {requirement}. Received: {name}={received}")


def _describe(value):
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_describe(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k!r}: {_describe(v)}" for k, v in value.items()) + "}"
    shape = getattr(value, "shape", None)
    if shape is not None:
        return f"array of shape {tuple(shape)}"
    return repr(value)


def _num_samples(x):
    if isinstance(x, dict):
        x = next(iter(x.values()))
    if isinstance(x, (list, tuple)):
        x = x[0]
    return int(np.shape(x)[0]) if np.ndim(x) else 0


def _take(x, index):
    if isinstance(x, dict):
        return {k: _take(v, index) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_take(v, index) for v in x)
    return np.asarray(x)[index]


def _map(x, fn):
    if isinstance(x, dict):
        return {k: _map(v, fn) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_map(v, fn) for v in x)
    return fn(np.asarray(x))


def _flat(x):
    if isinstance(x, dict):
        return [np.asarray(v) for v in x.values()]
    if isinstance(x, (list, tuple)):
        return [np.asarray(v) for v in x]
    return [np.asarray(x)]


def split_xy(data, name):
    """Return `(x, y)` from a pair, refusing anything else and empty data."""
    if not isinstance(data, (list, tuple)) or len(data) != 2:
        _fail(name, _describe(data), "must be a pair (x, y) of arrays")
    x, y = data
    if _num_samples(x) == 0:
        _fail(name, _describe(data), "must hold at least one sample")
    if _num_samples(y) != _num_samples(x):
        _fail(name, _describe(data), "must hold as many labels as inputs")
    return x, y


def check_inputs(model, x, name):
    """Build `model` on `x` if needed and raise if `x` does not fit its inputs."""
    if _num_samples(x) == 0:
        _fail(name, _describe(x), "must hold at least one sample")
    inputs = getattr(model, "inputs", None) if model.built else None
    if inputs:
        arrays = _flat(x)
        if len(arrays) != len(inputs):
            _fail(
                name,
                _describe(x),
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
                _fail(
                    name,
                    _describe(x),
                    f"must match the model's input shape {expected}",
                )
        return
    try:
        model(_take(x, slice(0, 1)), training=False)
    except Exception as error:  # noqa: BLE001  (any failure means a mismatch)
        _fail(name, _describe(x), f"must fit the model's inputs ({error})")


def require_compiled(model, name="model"):
    """Raise unless `model` was compiled with a loss."""
    if not getattr(model, "compiled", False) or getattr(model, "loss", None) is None:
        _fail(
            name,
            f"<{type(model).__name__} name={model.name!r}, not compiled>",
            "must be compiled with a loss for this check "
            "(call `model.compile(optimizer=..., loss=...)` first)",
        )


def _is_augmentation(layer):
    module = type(layer).__module__
    return type(layer).__name__.startswith("Random") or module.startswith(
        "keras_tricks.augment"
    )


def clone(model, learning_rate=None, disable_augmentation=True):
    """A compiled copy of `model` with its weights and a fresh optimizer.

    Random augmentation layers (Keras's `Random*` layers and
    `keras_tricks.augment`) become identities when `disable_augmentation`.
    The copy is compiled without XLA: diagnostics favour a quick start.
    """

    def clone_layer(layer):
        if disable_augmentation and _is_augmentation(layer):
            return keras.layers.Identity(name=layer.name)
        if isinstance(layer, keras.layers.Lambda):
            return keras.layers.Lambda(layer.function, name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    copy = keras.models.clone_model(model, clone_function=clone_layer)
    if not copy.built:
        copy.build(model.inputs[0].shape if getattr(model, "inputs", None) else None)
    originals = {layer.name: layer for layer in model.layers}
    for layer in copy.layers:
        source = originals.get(layer.name)
        if source is not None and len(source.weights) == len(layer.weights):
            layer.set_weights(source.get_weights())
    optimizer = keras.optimizers.deserialize(keras.optimizers.serialize(model.optimizer))
    if learning_rate is not None:
        optimizer.learning_rate = learning_rate
    loss = model.loss
    if isinstance(loss, keras.losses.Loss):
        loss = keras.losses.deserialize(keras.losses.serialize(loss))
    copy.compile(optimizer=optimizer, loss=loss, jit_compile=False)
    return copy


def loss_value(model, x, y, training=False):
    """The compiled loss of `model` on `(x, y)` as a Python float."""
    y_pred = model(x, training=training)
    return float(ops.convert_to_numpy(model.compute_loss(x=x, y=y, y_pred=y_pred, training=training)))


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
        logs = model.train_on_batch(_take(x, index), _take(y, index), return_dict=True)
        losses.append(float(logs["loss"]))
    return losses
