"""Gradients and layer calls written once for every Keras backend.

``keras.ops`` has no gradient function, so each backend's own is used:
``tf.GradientTape``, ``jax.value_and_grad`` or ``torch.autograd``. The
cross-backend tests (``tests/backends``) compute the same numbers with these
on TensorFlow, JAX and PyTorch and compare them.
"""

import inspect

import keras
import numpy as np


def value_and_grads(function, *arrays):
    """``function(*arrays)`` (a scalar) and its gradients, as NumPy float64 arrays."""
    backend = keras.backend.backend()
    arrays = [np.asarray(a, dtype="float32") for a in arrays]
    if backend == "tensorflow":
        import tensorflow as tf

        xs = [tf.constant(a) for a in arrays]
        with tf.GradientTape() as tape:
            for x in xs:
                tape.watch(x)
            value = function(*xs)
        grads = tape.gradient(value, xs)
    elif backend == "jax":
        import jax

        value, grads = jax.value_and_grad(function, argnums=tuple(range(len(arrays))))(
            *arrays
        )
    elif backend == "torch":
        import torch

        xs = [torch.tensor(a, requires_grad=True) for a in arrays]
        value = function(*xs)
        grads = torch.autograd.grad(value, xs, allow_unused=True)
    else:
        raise NotImplementedError(f"no gradients for backend {backend!r}")
    grads = [
        np.zeros_like(a) if g is None else g for a, g in zip(arrays, grads, strict=True)
    ]
    return _numpy(value), [_numpy(g) for g in grads]


def layer_outputs_and_grads(layer, inputs, seed=0, training=False):
    """A built ``layer``'s output on ``inputs`` and the gradients of a fixed loss.

    The loss is ``sum(output * cotangent)`` with a cotangent drawn from
    ``seed``, so the gradients are those of the output in one fixed direction,
    with respect to the input and to each trainable weight (in the order of
    ``layer.trainable_weights``). Returns ``{"output", "d_input", "d_<i>_<weight
    name>"...}`` as NumPy arrays.
    """
    inputs = np.asarray(inputs, dtype="float32")
    if not layer.built:
        layer.build(inputs.shape)
    trainable = [
        np.asarray(keras.ops.convert_to_numpy(w)) for w in layer.trainable_weights
    ]
    non_trainable = [v.value for v in layer.non_trainable_variables]
    output_shape = np.asarray(
        keras.ops.convert_to_numpy(layer(inputs, training=training))
    ).shape
    cotangent = np.random.default_rng(seed).normal(size=output_shape).astype("float32")
    kwargs = {"training": training} if _takes_training(layer) else {}

    def call(x, *weights):
        out, _ = layer.stateless_call(list(weights), non_trainable, x, **kwargs)
        return out

    def loss(x, *weights):
        return keras.ops.sum(call(x, *weights) * keras.ops.convert_to_tensor(cotangent))

    _, grads = value_and_grads(loss, inputs, *trainable)
    result = {"output": _numpy(call(inputs, *trainable)), "d_input": grads[0]}
    for i, (weight, grad) in enumerate(
        zip(layer.trainable_weights, grads[1:], strict=True)
    ):
        result[f"d_{i}_{weight.name}"] = grad  # names without the layer's counter
    return result


def _takes_training(layer):
    return "training" in inspect.signature(layer.call).parameters


def _numpy(x):
    if hasattr(x, "detach"):
        x = x.detach().cpu()
    return np.asarray(
        keras.ops.convert_to_numpy(x) if not isinstance(x, np.ndarray) else x
    )
