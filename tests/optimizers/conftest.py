"""Shared pieces of the optimizer tests: the enrolled classes, a digits MLP, and
steps that run quickly on every backend."""

import keras
import numpy as np
import pytest
from keras import ops
from sklearn.datasets import load_digits

from keras_tricks.optimizers import _registry

# Every optimizer the registry knows (what the package exports), by name: a
# new optimizer file enrols here through its export.
OPTIMIZERS = [cls for _, cls in sorted(_registry.optimizer_classes().items())]
every_optimizer = pytest.mark.parametrize(
    "cls", OPTIMIZERS, ids=[cls.__name__ for cls in OPTIMIZERS]
)


BACKEND = keras.backend.backend()

# How `compile` runs a few steps of a small model quickly: eagerly on TensorFlow
# and PyTorch (tracing costs more than the steps), jitted on JAX (its eager
# mode dispatches every op alone, about 0.3 s per optimizer step here).
QUICK = {} if BACKEND == "jax" else {"run_eagerly": True}


def tensor(x, dtype="float32"):
    """`x` as a tensor of the running backend."""
    return ops.convert_to_tensor(np.asarray(x), dtype=dtype)


def apply_steps(optimizer, variables, grads):
    """Apply `grads[i][t]` to `variables[i]` for every step `t`, quickly.

    TensorFlow: one traced `while_loop` (fast to build); JAX: one jitted
    `stateless_apply` called per step; PyTorch: `apply_gradients` eagerly.
    Each gradient takes its variable's dtype.
    """
    steps = len(grads[0])
    dtypes = [v.dtype for v in variables]
    if BACKEND == "tensorflow":
        import tensorflow as tf

        grads = [tf.constant(g, d) for g, d in zip(grads, dtypes, strict=True)]

        @tf.function(autograph=False)
        def train():
            def body(t):
                step_grads = [g[t] for g in grads]
                optimizer.apply_gradients(zip(step_grads, variables, strict=True))
                return (t + 1,)

            tf.while_loop(lambda t: t < steps, body, (tf.constant(0),))

        train()
    elif BACKEND == "jax":
        import jax

        optimizer.build(variables)
        step = jax.jit(optimizer.stateless_apply)
        weights = [v.value for v in variables]
        state = [v.value for v in optimizer.variables]
        for t in range(steps):
            step_grads = [tensor(g[t], d) for g, d in zip(grads, dtypes, strict=True)]
            weights, state = step(state, step_grads, weights)
        for variable, value in zip(variables, weights, strict=True):
            variable.assign(value)
        for variable, value in zip(optimizer.variables, state, strict=True):
            variable.assign(value)
    else:
        for t in range(steps):
            step_grads = [tensor(g[t], d) for g, d in zip(grads, dtypes, strict=True)]
            optimizer.apply_gradients(zip(step_grads, variables, strict=True))


def numpy(x):
    """A variable or tensor as a float32 NumPy array (bfloat16 included)."""
    if isinstance(x, keras.Variable):
        x = x.value
    return np.asarray(ops.convert_to_numpy(ops.cast(x, "float32")))


def digits(n=256):
    """The first `n` sklearn digits (8x8 images, real data, offline)."""
    x, y = load_digits(return_X_y=True)
    return (x[:n] / 16.0).astype("float32"), y[:n].astype("int32")


def digits_mlp(seed=0):
    """A small MLP for the 64-pixel digits, with fixed initial weights."""
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def compile_mlp(model, optimizer, **kwargs):
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        **kwargs,
    )
    return model


def assert_weights_close(a, b, rtol=1e-5, atol=1e-6):
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(numpy(x), numpy(y), rtol=rtol, atol=atol)
