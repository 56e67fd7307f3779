"""DropConnect (Wan et al., 2013, https://proceedings.mlr.press/v28/wan13.html)."""

import keras
import numpy as np
import pytest

from keras_tricks.layers import DropConnect
from tests.helpers.layer_checks import check_layer

_np = keras.ops.convert_to_numpy


def test_layer_checks(tmp_path, strategy):
    kwargs = {"layer": keras.layers.Conv1D(3, 2), "rate": 0.3, "seed": 5}
    check_layer(
        DropConnect, kwargs, (4, 6, 2), tmp_path, strategy=strategy, random=True
    )


def _dense(units=200, inputs=50):
    layer = keras.layers.Dense(units, use_bias=True, bias_initializer="ones")
    layer.build((None, inputs))
    return layer


def test_dropped_fraction_is_rate():
    # With x one-hot on input i, output j is kernel[i, j] * mask / (1 - rate):
    # every weight appears once, so the zeros count the dropped weights.
    rate = 0.3
    inner = keras.layers.Dense(64, use_bias=False, kernel_initializer="ones")
    layer = DropConnect(inner, rate=rate, seed=1)
    x = np.eye(32, dtype="float32")
    outputs = np.stack(
        [keras.ops.convert_to_numpy(layer(x, training=True)) for _ in range(20)]
    )
    n = outputs.size
    dropped = np.mean(outputs == 0.0)
    assert abs(dropped - rate) < 4 * np.sqrt(rate * (1 - rate) / n)  # 4 sigma
    kept = outputs[outputs != 0.0]
    np.testing.assert_allclose(kept, 1.0 / (1.0 - rate), rtol=1e-6)
    # A fresh mask at every call.
    assert not np.array_equal(outputs[0], outputs[1])


def test_expected_output_over_masks_equals_the_unwrapped_layer():
    # E[kernel * mask / (1 - rate)] = kernel, so E[y] = x @ kernel + bias.
    inner = _dense(units=8, inputs=10)
    layer = DropConnect(inner, rate=0.5, seed=2)
    x = np.random.default_rng(0).normal(size=(4, 10)).astype("float32")
    draws = 4000
    batch = np.tile(x, (draws, 1))  # one mask per call: average many calls
    total = np.zeros((4, 8))
    for _ in range(40):
        y = keras.ops.convert_to_numpy(layer(batch[: 4 * 100], training=True))
        total += y.reshape(100, 4, 8).sum(axis=0) / 100
    mean = total / 40
    expected = keras.ops.convert_to_numpy(inner(x))
    # Per weight the variance is k^2 (rate / (1 - rate)); the sum over 10
    # inputs, averaged over 40 masks, has a standard error below 0.3 here.
    kernel = keras.ops.convert_to_numpy(inner.kernel)
    std_err = np.sqrt((x[:, :, None] ** 2 * kernel[None] ** 2).sum(axis=1) / 40)
    assert np.all(np.abs(mean - expected) < 4 * std_err + 1e-6)


def test_identity_at_inference_and_deterministic_given_seed():
    x = np.random.default_rng(1).normal(size=(3, 50)).astype("float32")
    inner = _dense()
    layer = DropConnect(inner, rate=0.4, seed=7)
    np.testing.assert_array_equal(_np(layer(x)), _np(inner(x)))
    np.testing.assert_array_equal(_np(layer(x, training=False)), _np(inner(x)))
    twin = DropConnect(type(inner).from_config(inner.get_config()), rate=0.4, seed=7)
    twin.build((None, 50))
    twin.layer.set_weights(inner.get_weights())
    first = [keras.ops.convert_to_numpy(layer(x, training=True)) for _ in range(2)]
    second = [keras.ops.convert_to_numpy(twin(x, training=True)) for _ in range(2)]
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], _np(inner(x)))


def test_rate_zero_is_the_unwrapped_layer_in_training():
    x = np.random.default_rng(2).normal(size=(3, 50)).astype("float32")
    inner = _dense()
    np.testing.assert_array_equal(
        _np(DropConnect(inner, rate=0.0)(x, training=True)), _np(inner(x))
    )


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5])
def test_rate_outside_zero_one_is_refused(rate):
    with pytest.raises(
        ValueError, match=rf"`rate` must be in \[0.0, 1.0\). Received: rate={rate}"
    ):
        DropConnect(keras.layers.Dense(2), rate=rate)


@pytest.mark.parametrize(
    "layer", [keras.layers.Dropout(0.5), keras.layers.BatchNormalization()]
)
def test_layer_without_kernel_is_refused(layer):
    with pytest.raises(
        ValueError,
        match=r"`layer` must be a Dense, Conv1D, Conv2D or Conv3D layer .*"
        r"Received: layer=",
    ):
        DropConnect(layer)


def test_bad_seed_is_refused():
    with pytest.raises(
        ValueError, match=r"`seed` must be an integer. Received: seed='a'"
    ):
        DropConnect(keras.layers.Dense(2), seed="a")


@pytest.mark.parametrize(
    "rate, match",
    [
        (float("inf"), r"`rate` must be in \[0.0, 1.0\). Received: rate=inf"),
        (float("-inf"), r"`rate` must be in \[0.0, 1.0\). Received: rate=-inf"),
        (float("nan"), r"`rate` must not be NaN. Received: rate=nan"),
        (True, r"`rate` must be a real number. Received: rate=True"),
        ("0.5", r"`rate` must be a real number. Received: rate='0.5'"),
        (None, r"`rate` must be a real number. Received: rate=None"),
    ],
)
def test_rate_must_be_a_finite_number(rate, match):
    with pytest.raises(ValueError, match=match):
        DropConnect(keras.layers.Dense(2), rate=rate)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("dtype", ["int32", "uint8"])
@pytest.mark.parametrize(
    "factory, shape",
    [
        (lambda: keras.layers.Dense(3), (4, 5)),
        (lambda: keras.layers.Conv2D(3, 2), (2, 4, 4, 2)),
    ],
)
def test_integer_input_is_computed_in_float(factory, shape, dtype, training):
    # As a Keras Dense does (int in, float32 out); Keras's Conv2D refuses
    # uint8 with a raw error, the wrapper casts it the same way.
    x = np.random.default_rng(3).integers(0, 255, size=shape)
    layer = DropConnect(factory(), rate=0.5, seed=3)
    y = layer(x.astype(dtype), training=training)
    assert keras.backend.standardize_dtype(y.dtype) == "float32"
    if not training:
        np.testing.assert_array_equal(_np(y), _np(layer(x.astype("float32"))))


def test_input_of_another_width_is_refused_clearly():
    layer = DropConnect(keras.layers.Dense(3), rate=0.5)
    layer.build((None, 4))
    for training in (False, True):
        with pytest.raises(
            ValueError,
            match=r"`input_shape` must have 4 features on axis -1.*"
            r"Received: input_shape=\(2, 5\)",
        ):
            layer(np.ones((2, 5), "float32"), training=training)
