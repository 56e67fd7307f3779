"""WeightNormalization (Salimans & Kingma, 2016, https://arxiv.org/abs/1602.07868)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_tricks.layers import WeightNormalization
from tests.helpers.layer_checks import check_layer, replica_values


@pytest.mark.parametrize(
    "layer, data_init, input_shape",
    [
        (keras.layers.Dense(3, activation="tanh"), True, (4, 5)),
        (
            keras.layers.Conv2D(4, 3, padding="same"),
            False,
            (4, 5, 5, 2),
        ),
    ],
)
def test_layer_checks(layer, data_init, input_shape, tmp_path, strategy):
    kwargs = {"layer": layer, "data_init": data_init}
    check_layer(WeightNormalization, kwargs, input_shape, tmp_path, strategy=strategy)


LAYERS = [
    (lambda: keras.layers.Dense(6, activation="relu"), (5, 7)),
    (lambda: keras.layers.Conv1D(4, 3, padding="causal", dilation_rate=2), (3, 9, 2)),
    (lambda: keras.layers.Conv2D(6, 3, strides=2, groups=2), (3, 7, 7, 4)),
    (lambda: keras.layers.Conv2D(3, 2, dilation_rate=2), (3, 5, 5, 2)),
    (lambda: keras.layers.Conv3D(2, 2, padding="same", use_bias=False), (2, 3, 4, 4, 2)),
]


@pytest.mark.parametrize("factory, shape", LAYERS)
def test_without_data_init_equals_the_unwrapped_layer(factory, shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    inner = factory()
    wrapper = WeightNormalization(inner)
    y = wrapper(x, training=True)
    np.testing.assert_allclose(y, inner(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("factory, shape", LAYERS)
def test_matches_numpy_reparametrization(factory, shape):
    # w = g * v / ||v||, the norm per output unit over all other kernel axes.
    rng = np.random.default_rng(1)
    x = rng.normal(size=shape).astype("float32")
    inner = factory()
    wrapper = WeightNormalization(inner)
    wrapper.build(shape)
    g = rng.uniform(0.5, 2.0, size=wrapper.g.shape).astype("float32")
    wrapper.g.assign(g)
    v = keras.ops.convert_to_numpy(inner.kernel).astype(np.float64)
    axes = tuple(range(v.ndim - 1))
    w = g * v / np.sqrt((v**2).sum(axis=axes, keepdims=True))
    # The unwrapped layer's maths with the NumPy kernel gives the reference.
    reference = type(inner).from_config(inner.get_config())
    reference.build(shape)
    reference.set_weights([w.astype("float32")] + inner.get_weights()[1:])
    np.testing.assert_allclose(wrapper(x), reference(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "factory, shape",
    [
        (lambda: keras.layers.Dense(5), (64, 7)),
        (lambda: keras.layers.Conv2D(3, 3), (16, 6, 6, 2)),
    ],
)
def test_data_init_gives_zero_mean_unit_variance(factory, shape):
    x = np.random.default_rng(2).normal(3.0, 2.0, size=shape).astype("float32")
    inner = factory()
    wrapper = WeightNormalization(inner, data_init=True)
    wrapper.build(shape)
    v = keras.ops.convert_to_numpy(inner.kernel)
    y = keras.ops.convert_to_numpy(wrapper(x, training=True))
    axes = tuple(range(y.ndim - 1))
    np.testing.assert_allclose(y.mean(axis=axes), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=axes), 1.0, atol=1e-4)
    # The kernel is not assigned to; later calls keep g and bias.
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(inner.kernel), v)
    assert float(wrapper.initialized.value) == 1.0
    again = keras.ops.convert_to_numpy(wrapper(2.0 * x, training=True))
    np.testing.assert_allclose(again.std(axis=axes), 2.0, rtol=1e-3)


def test_data_init_uses_global_batch_under_mirrored_strategy(strategy):
    # Replica 0 gets the first half; the halves differ, the global batch does not.
    x = np.concatenate(
        [np.random.default_rng(3).normal(m, 1.0, size=(8, 4)) for m in (-2.0, 2.0)]
    ).astype("float32")
    with strategy.scope():
        wrapper = WeightNormalization(keras.layers.Dense(3), data_init=True)
        wrapper.build((None, 4))
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(x).batch(16)
    )

    @tf.function
    def step(batch):
        return strategy.run(lambda b: wrapper(b, training=True), args=(batch,))

    step(next(iter(dataset)))
    for variable in (wrapper.g, wrapper.layer.bias):
        first, second = replica_values(strategy, variable)
        np.testing.assert_array_equal(first, second)
    # The statistics are those of the whole 16-sample batch.
    y = keras.ops.convert_to_numpy(wrapper(x))
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=0), 1.0, atol=1e-4)


@pytest.mark.parametrize(
    "layer",
    [keras.layers.Dropout(0.5), keras.layers.DepthwiseConv2D(3), keras.layers.Dense],
)
def test_layer_without_kernel_is_refused(layer):
    with pytest.raises(ValueError, match=r"`layer` must be a Dense, Conv1D, Conv2D or Conv3D layer .*Received: layer="):
        WeightNormalization(layer)
