"""The Pruning callback: logs, config, errors."""

import json

import keras
import numpy as np
import pytest

from keras_tricks.callbacks import Pruning
from keras_tricks.pruning import ConstantSparsity, PolynomialDecay, prune_low_magnitude


def _pruned(schedule):
    base = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(10, name="a"), keras.layers.Dense(2, name="b")]
    )
    model = prune_low_magnitude(base, schedule)
    model.compile(keras.optimizers.SGD(0.01), "mse")
    return model


def test_sparsity_is_logged_into_history():
    # Kernels: a has 40 weights, b 20; at 50% each keeps max(round(n/2), 1).
    schedule = PolynomialDecay(0.0, 0.5, begin_step=0, end_step=3, frequency=1)
    model = _pruned(schedule)
    rng = np.random.default_rng(0)
    history = model.fit(
        rng.normal(size=(16, 4)), rng.normal(size=(16, 2)), batch_size=4, epochs=2,
        callbacks=[Pruning(log_per_layer=True)], verbose=0,
    )
    expected = (40 - 20 + 20 - 10) / 60
    assert history.history["pruning/sparsity"] == [pytest.approx(expected)] * 2
    assert history.history["pruning/prune_low_magnitude_a"] == [0.5, 0.5]
    assert history.history["pruning/prune_low_magnitude_b"] == [0.5, 0.5]


def test_logs_before_the_first_pruning_step_report_zero():
    model = _pruned(ConstantSparsity(0.5, begin_step=100))
    rng = np.random.default_rng(1)
    history = model.fit(
        rng.normal(size=(8, 4)), rng.normal(size=(8, 2)), epochs=1, callbacks=[Pruning()],
        verbose=0,
    )
    assert history.history["pruning/sparsity"] == [0.0]
    assert "pruning/prune_low_magnitude_a" not in history.history


def test_config_round_trip():
    callback = Pruning(log_per_layer=True)
    config = callback.get_config()
    json.dumps(config)
    assert Pruning.from_config(config).get_config() == config
    assert keras.saving.get_registered_name(Pruning) == "keras_tricks>Pruning"


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"log_per_layer.*bool.*Received: log_per_layer=1"):
        Pruning(log_per_layer=1)
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    plain.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"no PruneLowMagnitude layers.*Received: model="):
        plain.fit(np.zeros((2, 4)), np.zeros((2, 2)), callbacks=[Pruning()], verbose=0)
