"""InstanceNormalization: harness, NumPy reference (Ulyanov et al., 2017), config."""

import json

import keras
import numpy as np
import pytest

from keras_tricks.layers import InstanceNormalization
from tests.helpers.layer_checks import check_layer
from tests.layers import _norm_reference as ref
from tests.layers.test_group_normalization import layer_output_and_grads

_np = keras.ops.convert_to_numpy


def test_layer_checks(tmp_path, strategy):
    check_layer(InstanceNormalization, {}, (4, 5, 5, 3), tmp_path, strategy=strategy)


@pytest.mark.parametrize(
    "shape, axis",
    [
        ((3, 7, 4), -1),
        ((3, 4, 7), 1),
        ((2, 5, 6, 3), -1),
        ((2, 3, 5, 6), 1),
        ((2, 3, 4, 5, 2), -1),
        ((2, 2, 3, 4, 5), 1),
    ],
)
def test_matches_numpy_reference_and_gradient(shape, axis):
    # Instance norm: y = (x - mu_nc) / sqrt(var_nc + eps) * gamma + beta, the
    # statistics per sample n and channel c over the spatial axes.
    rng = np.random.default_rng(0)
    x = rng.normal(4.0, 3.0, size=shape).astype("float32")
    upstream = rng.normal(size=shape).astype("float32")
    channels = shape[axis]
    gamma = rng.normal(1.0, 0.5, size=channels).astype("float32")
    beta = rng.normal(size=channels).astype("float32")
    layer = InstanceNormalization(axis=axis, epsilon=1e-5)
    layer.build(shape)
    layer.set_weights([gamma, beta])

    y, grads = layer_output_and_grads(layer, x, upstream)

    moved = np.moveaxis(x.astype(np.float64), axis, -1)
    spatial = tuple(range(1, moved.ndim - 1))
    mu = moved.mean(axis=spatial, keepdims=True)
    var = moved.var(axis=spatial, keepdims=True)
    expected = np.moveaxis((moved - mu) / np.sqrt(var + 1e-5) * gamma + beta, -1, axis)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)

    wanted = ref.group_norm_grad(x, gamma, upstream, channels, axis, 1e-5)
    for got, want in zip(grads, wanted, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_center_and_scale_off_is_the_papers_layer():
    x = np.random.default_rng(1).normal(size=(2, 6, 6, 3)).astype("float32")
    layer = InstanceNormalization(center=False, scale=False, epsilon=1e-6)
    y = _np(layer(x))
    assert layer.weights == []
    np.testing.assert_allclose(y.mean(axis=(1, 2)), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.var(axis=(1, 2)), 1.0, atol=1e-3)


def test_saved_config_reloads_as_instance_normalization():
    layer = InstanceNormalization()
    layer.build((None, 8, 8, 4))
    config = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    config.pop("build_config")  # the config alone, as a model config keeps it
    revived = keras.saving.deserialize_keras_object(config)
    assert type(revived) is InstanceNormalization
    # The same config applied to another channel count is still per channel.
    x = np.random.default_rng(2).normal(size=(2, 5, 5, 6)).astype(
        "float32"
    ) * np.arange(1, 7)
    y = _np(revived(x))
    np.testing.assert_allclose(y.std(axis=(1, 2)), 1.0, atol=1e-2)


@pytest.mark.parametrize(
    "shape, kwargs, match",
    [
        (
            (2, 8),
            {},
            r"`input_shape` must have a rank between 3 and 5. "
            r"Received: input_shape=\(2, 8\)",
        ),
        ((2, 2, 2, 2, 2, 8), {}, r"Received: input_shape=\(2, 2, 2, 2, 2, 8\)"),
        (
            (2, 4, 8),
            {"axis": 3},
            r"`axis` must index a non-batch axis .*Received: axis=3",
        ),
        ((2, 4, 8), {"axis": 0}, r"Received: axis=0"),
        (
            (2, 4, None),
            {},
            r"`input_shape` must have a known size on the channel axis -1",
        ),
    ],
)
def test_bad_input_shapes(shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        InstanceNormalization(**kwargs).build(shape)


def test_bad_epsilon():
    with pytest.raises(ValueError, match=r"`epsilon` must be > 0. Received: epsilon=0"):
        InstanceNormalization(epsilon=0)


@pytest.mark.parametrize("dtype", ["int32", "uint8"])
def test_integer_input_is_normalized_in_float(dtype):
    # It used to truncate the output to integers ([0, 0, 0, 0, 1, 0, ...]).
    x = np.random.default_rng(3).integers(0, 255, size=(2, 5, 5, 3)).astype(dtype)
    y = InstanceNormalization()(x)
    assert keras.backend.standardize_dtype(y.dtype) == "float32"
    expected = ref.group_norm(x, np.ones(3), np.zeros(3), 3, -1, 1e-3)
    np.testing.assert_allclose(_np(y), expected, rtol=1e-5, atol=1e-5)


def test_zero_size_spatial_axis_gives_the_empty_tensor():
    assert tuple(InstanceNormalization()(np.zeros((2, 0, 4, 3), "float32")).shape) == (
        2,
        0,
        4,
        3,
    )


@pytest.mark.parametrize(
    "epsilon, match",
    [
        (
            1e-300,
            r"`epsilon` must be >= 1.1754944e-38, the smallest normal float32 .*"
            r"Received: epsilon=1e-300",
        ),
        (float("inf"), r"`epsilon` must be finite. Received: epsilon=inf"),
    ],
)
def test_epsilon_that_rounds_to_zero_or_is_infinite_is_refused(epsilon, match):
    # InstanceNormalization(epsilon=1e-300) used to give NaN on a constant channel.
    with pytest.raises(ValueError, match=match):
        InstanceNormalization(epsilon=epsilon)


@pytest.mark.parametrize("flag", ["center", "scale"])
def test_flags_must_be_bools(flag):
    with pytest.raises(
        ValueError,
        match=rf"`{flag}` must be a bool \(True or False\). Received: {flag}='False'",
    ):
        InstanceNormalization(**{flag: "False"})
