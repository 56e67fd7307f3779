"""LRFinder on a real small model and dataset (sklearn digits)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from matplotlib.figure import Figure
from sklearn.datasets import load_digits

from keras_tricks.callbacks import LRFinder, LRFinderResult


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return (data.data / 16.0).astype("float32"), data.target.astype("int32")


def _mlp(optimizer):
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(10)]
    )
    model.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def _state(model):
    return [v.numpy() for v in model.variables], [v.numpy() for v in model.optimizer.variables]


def _assert_same_state(before, after):
    for saved, now in zip(before[0] + before[1], after[0] + after[1], strict=True):
        np.testing.assert_array_equal(saved, now)


def test_finds_a_rate_where_the_loss_falls_and_restores_everything(digits):
    x, y = digits
    model = _mlp(keras.optimizers.Adam(1e-3))
    model.fit(x[:256], y[:256], batch_size=64, verbose=0)  # non-trivial optimizer state
    before = _state(model)
    finder = LRFinder(1e-5, 10.0, num_steps=80, verbose=0, seed=0)
    result = finder.find(model, x, y, batch_size=64)
    _assert_same_state(before, _state(model))
    assert int(model.optimizer.iterations.numpy()) == 4

    assert isinstance(result, LRFinderResult)
    rates, curve = result.learning_rates, result.smoothed_losses
    np.testing.assert_allclose(rates, finder.learning_rates()[: len(rates)])
    # Exponential sweep: constant ratio between consecutive rates.
    np.testing.assert_allclose(rates[1:] / rates[:-1], (1e6) ** (1 / 79), rtol=1e-9)
    # Bias-corrected moving average of the recorded losses.
    average, expected = 0.0, []
    for i, loss in enumerate(result.losses):
        average = 0.9 * average + 0.1 * loss
        expected.append(average / (1 - 0.9 ** (i + 1)))
    np.testing.assert_allclose(curve, expected, rtol=1e-12)

    # The suggestion lies where the smoothed loss falls: between the CLR
    # bounds, below the starting loss, on a falling slope.
    base, top = result.clr_bounds
    assert 1e-5 < base < top <= 10.0
    index = int(np.argmin(np.abs(rates - result.suggested_learning_rate)))
    assert base <= result.suggested_learning_rate <= top
    assert curve[index] < curve[0]
    assert curve[index + 1] < curve[index - 1]
    assert result.min_over_ten_learning_rate == pytest.approx(result.min_loss_learning_rate / 10)
    assert curve.min() < 0.8 * curve[0]

    figure = result.plot()
    assert isinstance(figure, Figure)
    assert figure.axes[0].get_xscale() == "log"


def test_stops_when_the_loss_diverges(digits):
    x, y = digits
    model = _mlp(keras.optimizers.SGD(0.01))
    before = _state(model)  # builds nothing: the finder builds the optimizer
    result = LRFinder(1e-3, 1e4, num_steps=60, smoothing=0.5, verbose=1).find(
        model, x, y, batch_size=128
    )
    assert len(result.learning_rates) < 60
    last = result.smoothed_losses[-1]
    assert not np.isfinite(last) or last > 4.0 * result.smoothed_losses[:-1].min()
    np.testing.assert_array_equal(before[0][0], model.variables[0].numpy())


def test_under_mirrored_strategy_with_a_dataset(strategy, digits):
    x, y = digits
    with strategy.scope():
        model = _mlp(keras.optimizers.SGD(0.01, momentum=0.9))
    dataset = tf.data.Dataset.from_tensor_slices((x[:512], y[:512])).batch(64)
    model.fit(dataset.take(1), shuffle=False, verbose=0)
    before = _state(model)
    result = LRFinder(1e-4, 1.0, num_steps=20, verbose=0).find(model, dataset)
    assert len(result.learning_rates) == 20  # 8 batches per pass: the dataset is re-iterated
    assert np.all(np.isfinite(result.losses))
    _assert_same_state(before, _state(model))


def test_refuses_a_schedule_valued_learning_rate(digits):
    x, y = digits
    model = _mlp(keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)))
    with pytest.raises(ValueError, match="already a schedule.*Received: learning_rate='ExponentialDecay'"):
        LRFinder(verbose=0).find(model, x, y)


def test_refuses_an_unbuilt_model(digits):
    x, y = digits
    model = keras.Sequential([keras.layers.Dense(10)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="`model` must be built.*Received: model="):
        LRFinder(verbose=0).find(model, x, y)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(min_learning_rate=1.0, max_learning_rate=0.1), "max_learning_rate.*> min_learning_rate=1.0. Received: max_learning_rate=0.1"),
        (dict(min_learning_rate=0.1, max_learning_rate=0.1), "Received: max_learning_rate=0.1"),
        (dict(min_learning_rate=0.0), "min_learning_rate.*> 0. Received: min_learning_rate=0.0"),
        (dict(num_steps=1), "num_steps.*>= 2. Received: num_steps=1"),
        (dict(smoothing=1.0), r"smoothing.*\[0.0, 1.0\). Received: smoothing=1.0"),
        (dict(divergence_threshold=1.0), "divergence_threshold.*Received: divergence_threshold=1.0"),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LRFinder(**kwargs)
