"""Shared pieces of the optimizer tests: the enrolled classes and a digits MLP."""

import inspect

import keras
import numpy as np
import pytest
from sklearn.datasets import load_digits

from keras_tricks import optimizers


def exported_optimizers():
    """Every optimizer class `keras_tricks.optimizers` exports: new ones enrol here."""
    return [
        getattr(optimizers, name)
        for name in optimizers.__all__
        if inspect.isclass(getattr(optimizers, name))
        and issubclass(getattr(optimizers, name), keras.optimizers.Optimizer)
    ]


OPTIMIZERS = exported_optimizers()
every_optimizer = pytest.mark.parametrize(
    "cls", OPTIMIZERS, ids=[cls.__name__ for cls in OPTIMIZERS]
)


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
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=atol)
