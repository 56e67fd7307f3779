"""`LRFinderResult.learning_rate_range`: the range test sets a search's LR range."""

import keras
import numpy as np
import pytest

from keras_tricks import callbacks, tuning

keras_tuner = pytest.importorskip("keras_tuner")


def _result(curve):
    rates = np.geomspace(1e-5, 1.0, len(curve))
    return callbacks.LRFinderResult(rates, curve, curve)


def test_range_is_the_falling_part_of_the_curve():
    # Flat, then falling fastest at 1e-2 (a logistic step in log10 of the
    # rate), then diverging past 1e-1.
    x = np.log10(np.geomspace(1e-5, 1.0, 101))
    fall = 2.0 - 1.8 / (1.0 + np.exp(-4.0 * (x + 2.0)))
    curve = np.where(x < -1, fall, fall + (x + 1) ** 2 * 50)
    result = _result(curve)
    low, high = result.learning_rate_range()
    assert (low, high) == result.clr_bounds
    # The first 10 % of the fall ends where 1.8 / (1 + e^(-4u)) = 0.18, u = -0.55.
    assert 10**-2.65 <= low <= 10**-2.45
    assert high == pytest.approx(1e-2, rel=0.13)
    hp = keras_tuner.HyperParameters()
    rate = hp.Float("learning_rate", low, high, sampling="log")
    assert low <= rate <= high


def test_range_of_a_curve_that_never_falls_is_the_decade_below_its_minimum():
    result = _result(np.linspace(1.0, 5.0, 50))  # rises from the start
    low, high = result.learning_rate_range()
    assert high == result.min_loss_learning_rate == 1e-5
    assert low == pytest.approx(1e-6) and low < high


def test_range_from_a_model_feeds_tuning_optimizer():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 4)).astype("float32")
    y = x @ rng.normal(size=(4, 1)).astype("float32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    result = callbacks.LRFinder(num_steps=40, verbose=0).find(
        model, x, y, batch_size=32
    )
    low, high = result.learning_rate_range()
    assert 0 < low < high
    hp = keras_tuner.HyperParameters()
    opt = tuning.optimizer(hp, choices=["sgd"], learning_rate_range=(low, high))
    assert low * (1 - 1e-6) <= float(opt.learning_rate) <= high * (1 + 1e-6)
