"""WeightNormalization (Salimans & Kingma, 2016, https://arxiv.org/abs/1602.07868)."""

import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_tricks.layers import WeightNormalization
from tests.helpers.backend import value_and_grads
from tests.helpers.layer_checks import check_layer, replica_values

_np = keras.ops.convert_to_numpy


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
    (
        lambda: keras.layers.Conv3D(2, 2, padding="same", use_bias=False),
        (2, 3, 4, 4, 2),
    ),
]


@pytest.mark.parametrize("factory, shape", LAYERS)
def test_without_data_init_equals_the_unwrapped_layer(factory, shape):
    x = np.random.default_rng(0).normal(size=shape).astype("float32")
    inner = factory()
    wrapper = WeightNormalization(inner)
    y = wrapper(x, training=True)
    np.testing.assert_allclose(_np(y), _np(inner(x)), rtol=1e-5, atol=1e-6)


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
    np.testing.assert_allclose(_np(wrapper(x)), _np(reference(x)), rtol=1e-5, atol=1e-5)


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
    with pytest.raises(
        ValueError,
        match=r"`layer` must be a Dense, Conv1D, Conv2D or Conv3D layer .*"
        r"Received: layer=",
    ):
        WeightNormalization(layer)


def _dense_wrapper(units=3, features=4, data_init=True, seed=0):
    inner = keras.layers.Dense(
        units,
        kernel_initializer=keras.initializers.GlorotUniform(seed),
        bias_initializer="zeros",
    )
    wrapper = WeightNormalization(inner, data_init=data_init)
    wrapper.build((None, features))
    return wrapper


def _numpy(variable):
    return keras.ops.convert_to_numpy(variable).copy()


def test_data_init_on_a_batch_of_one_keeps_the_plain_reparametrization():
    # One sample: every unit's variance is 0, the scale unknowable. Each unit
    # keeps g = ||v|| and its bias (the unwrapped layer), not g = 1e6.
    wrapper = _dense_wrapper()
    g, bias = _numpy(wrapper.g), _numpy(wrapper.layer.bias)
    x = np.random.default_rng(0).normal(size=(1, 4)).astype("float32")
    y = wrapper(x, training=True)
    np.testing.assert_allclose(_numpy(wrapper.g), g, rtol=1e-6)
    np.testing.assert_array_equal(_numpy(wrapper.layer.bias), bias)
    np.testing.assert_allclose(
        _np(y), x @ _numpy(wrapper.layer.kernel) + bias, rtol=1e-5, atol=1e-6
    )
    assert float(wrapper.initialized.value) == 1.0


def test_data_init_unit_constant_on_the_batch_keeps_its_g_the_others_normalize():
    # Unit 0 reads only feature 0, constant (5.0) on the batch; unit 1 reads
    # feature 1, which varies. Salimans & Kingma's init would set g_0 = 1/0.
    wrapper = _dense_wrapper(units=2, features=2)
    wrapper.layer.kernel.assign(np.array([[2.0, 0.0], [0.0, 3.0]], "float32"))
    wrapper.g.assign(np.array([2.0, 3.0], "float32"))
    x = np.stack(
        [np.full(16, 5.0), np.random.default_rng(1).normal(1.0, 2.0, size=16)], axis=1
    ).astype("float32")
    y = keras.ops.convert_to_numpy(wrapper(x, training=True))
    g, bias = _numpy(wrapper.g), _numpy(wrapper.layer.bias)
    assert g[0] == 2.0 and bias[0] == 0.0
    np.testing.assert_allclose(g[1], 1.0 / x[:, 1].std(), rtol=1e-4)
    np.testing.assert_allclose(y[:, 0], 10.0, rtol=1e-6)  # the unwrapped unit
    np.testing.assert_allclose(y[:, 1].mean(), 0.0, atol=1e-5)
    np.testing.assert_allclose(y[:, 1].std(), 1.0, rtol=1e-4)


@pytest.mark.parametrize(
    "bad_batch",
    [
        np.zeros((0, 4), "float32"),
        np.array([[1.0, np.nan, 0.0, 2.0], [0.5, 1.0, 2.0, 3.0]], "float32"),
        np.array([[1.0, np.inf, 0.0, 2.0], [0.5, 1.0, 2.0, 3.0]], "float32"),
    ],
    ids=["empty", "nan", "inf"],
)
def test_data_init_waits_for_a_usable_batch(bad_batch):
    # An empty batch or one with a non-finite value sets nothing (it used to
    # set g = NaN for good); the next good batch initializes.
    wrapper = _dense_wrapper()
    g, bias = _numpy(wrapper.g), _numpy(wrapper.layer.bias)
    wrapper(bad_batch, training=True)
    np.testing.assert_array_equal(_numpy(wrapper.g), g)
    np.testing.assert_array_equal(_numpy(wrapper.layer.bias), bias)
    assert float(wrapper.initialized.value) == 0.0
    x = np.random.default_rng(2).normal(3.0, 2.0, size=(32, 4)).astype("float32")
    y = keras.ops.convert_to_numpy(wrapper(x, training=True))
    assert float(wrapper.initialized.value) == 1.0
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=0), 1.0, atol=1e-4)


def test_data_init_assigns_nothing_after_the_first_batch(monkeypatch):
    # The init runs once: later training calls do not write g, the bias or
    # `initialized` at all (they used to rewrite all three on every step).
    wrapper = _dense_wrapper()
    rng = np.random.default_rng(3)
    wrapper(rng.normal(size=(8, 4)).astype("float32"), training=True)

    def refuse(*args, **kwargs):
        raise AssertionError("a variable was assigned after the data init")

    for variable in (wrapper.g, wrapper.layer.bias, wrapper.initialized):
        monkeypatch.setattr(variable, "assign", refuse)
    wrapper(rng.normal(10.0, 5.0, size=(8, 4)).astype("float32"), training=True)


def test_data_init_under_mixed_float16_leaves_g_and_bias_to_the_optimizer():
    # After the init step g and the bias move only by optimizer steps: with
    # learning_rate=0 they stay exactly as the init set them (they used to be
    # rounded to float16 on every step, through the autocast read).
    keras.mixed_precision.set_global_policy("mixed_float16")
    inputs = keras.Input((4,))
    wrapper = WeightNormalization(keras.layers.Dense(3), data_init=True)
    model = keras.Model(inputs, wrapper(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    rng = np.random.default_rng(4)
    x = rng.normal(size=(32, 4)).astype("float32")
    y = rng.normal(size=(32, 3)).astype("float32")
    if keras.backend.backend() == "jax":
        model(x[:8], training=True)  # the data init runs eagerly on JAX (docstring)
    else:
        model.fit(x[:8], y[:8], batch_size=8, epochs=1, verbose=0)
    assert float(wrapper.initialized.value) == 1.0
    # Values a float16 rounding would change.
    wrapper.g.assign(np.array([1.0001, 0.33333, 2.71828], "float32"))
    wrapper.layer.bias.assign(np.array([0.1, -0.2, 0.30001], "float32"))
    g, bias = _numpy(wrapper.g), _numpy(wrapper.layer.bias)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    np.testing.assert_array_equal(_numpy(wrapper.g), g)
    np.testing.assert_array_equal(_numpy(wrapper.layer.bias), bias)


def test_data_init_then_g_moves_by_the_optimizer_step_only():
    # One SGD step after the init: g_new = g - lr * dL/dg exactly (no re-init).
    wrapper = _dense_wrapper()
    rng = np.random.default_rng(5)
    wrapper(rng.normal(size=(16, 4)).astype("float32"), training=True)
    x = rng.normal(4.0, 3.0, size=(16, 4)).astype("float32")
    g = _numpy(wrapper.g)
    others = [_numpy(w) for w in wrapper.trainable_weights]
    position = [w is wrapper.g for w in wrapper.trainable_weights].index(True)
    non_trainable = [v.value for v in wrapper.non_trainable_variables]

    def loss(g):
        weights = others[:position] + [g] + others[position + 1 :]
        y, _ = wrapper.stateless_call(weights, non_trainable, x, training=True)
        return keras.ops.sum(keras.ops.square(y))

    _, (grad,) = value_and_grads(loss, g)
    optimizer = keras.optimizers.SGD(0.01)
    optimizer.apply_gradients([(keras.ops.convert_to_tensor(grad), wrapper.g)])
    np.testing.assert_allclose(_numpy(wrapper.g), g - 0.01 * grad, rtol=1e-6)


@pytest.mark.parametrize(
    "factory, built, called",
    [
        (lambda: keras.layers.Dense(3), (None, 4), (2, 5)),
        (lambda: keras.layers.Conv2D(3, 3), (None, 6, 6, 2), (2, 6, 6, 3)),
        (lambda: keras.layers.Conv2D(3, 3), (None, 6, 6, 2), (2, 6, 2)),
    ],
)
def test_input_of_another_width_is_refused_clearly(factory, built, called):
    wrapper = WeightNormalization(factory())
    wrapper.build(built)
    shape = re.escape(str(called))
    with pytest.raises(
        ValueError, match=rf"`input_shape` must have .*Received: input_shape={shape}"
    ):
        wrapper(np.ones(called, "float32"))


def test_build_on_a_width_the_wrapped_layer_was_not_built_for_is_refused():
    inner = keras.layers.Dense(3)
    inner.build((None, 4))
    with pytest.raises(
        ValueError,
        match=r"must have 4 features on axis -1.*Received: input_shape=\(None, 5\)",
    ):
        WeightNormalization(inner).build((None, 5))


@pytest.mark.parametrize("data_init", ["False", 1, None])
def test_data_init_must_be_a_bool(data_init):
    with pytest.raises(
        ValueError,
        match=r"`data_init` must be a bool \(True or False\). "
        rf"Received: data_init={re.escape(repr(data_init))}",
    ):
        WeightNormalization(keras.layers.Dense(2), data_init=data_init)


@pytest.mark.parametrize("dtype", ["int32", "uint8"])
@pytest.mark.parametrize(
    "factory, shape",
    [
        (lambda: keras.layers.Dense(3), (4, 5)),
        (lambda: keras.layers.Conv2D(3, 2), (2, 4, 4, 2)),
    ],
)
def test_integer_input_is_computed_in_float(factory, shape, dtype):
    # As a Keras Dense does: integer input, float output (Keras's Conv2D
    # refuses uint8 with a raw error; the wrapper accepts it the same way).
    x = np.random.default_rng(6).integers(0, 255, size=shape)
    wrapper = WeightNormalization(factory())
    y = wrapper(x.astype(dtype))
    assert keras.backend.standardize_dtype(y.dtype) == "float32"
    np.testing.assert_allclose(_np(y), _np(wrapper(x.astype("float32"))), rtol=1e-6)


def _init_under_strategy(strategy, x):
    with strategy.scope():
        wrapper = WeightNormalization(keras.layers.Dense(3), data_init=True)
        wrapper.build((None, 4))
    g = _numpy(wrapper.g)
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(x).batch(len(x))
    )

    @tf.function
    def step(batch):
        return strategy.run(lambda b: wrapper(b, training=True), args=(batch,))

    step(next(iter(dataset)))
    for variable in (wrapper.g, wrapper.layer.bias, wrapper.initialized):
        first, second = replica_values(strategy, variable)
        np.testing.assert_array_equal(first, second)
    return wrapper, g


def test_data_init_weighs_uneven_replica_batches_by_their_samples(strategy):
    # A global batch of 3 splits 2 + 1: the statistics are those of the 3
    # samples (a mean of the replicas' means would weigh the lone one double).
    x = np.array([[0.0, 1, 2, 3], [1, -1, 0, 2], [9, 5, -4, 1]], "float32")
    wrapper, _ = _init_under_strategy(strategy, x)
    y = keras.ops.convert_to_numpy(wrapper(x))
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=0), 1.0, atol=1e-5)


def test_data_init_on_one_sample_over_two_replicas_stays_finite(strategy):
    # One replica gets the sample, the other none: no NaN from the empty one,
    # and a batch of one keeps the plain reparametrization.
    x = np.array([[0.5, 1.0, -2.0, 3.0]], "float32")
    wrapper, g = _init_under_strategy(strategy, x)
    np.testing.assert_allclose(_numpy(wrapper.g), g, rtol=1e-6)
    np.testing.assert_array_equal(_numpy(wrapper.layer.bias), 0.0)


@pytest.mark.tf_only  # the init inside a traced step (JAX refuses: test_backends.py)
def test_init_step_takes_the_gradient_at_the_initialized_values():
    # The docstring's Note: the first training step initializes, then its
    # gradients are those of a plain layer holding the initialized g and bias.
    x = tf.constant(
        np.random.default_rng(7).normal(2.0, 3.0, size=(16, 4)).astype("float32")
    )
    wrapper = _dense_wrapper()

    @tf.function
    def init_step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(wrapper(x, training=True) - 1.0))
        return tape.gradient(loss, [wrapper.g.value, wrapper.layer.bias.value])

    got = init_step()
    plain = _dense_wrapper(data_init=False)
    plain.layer.kernel.assign(wrapper.layer.kernel)
    plain.layer.bias.assign(wrapper.layer.bias)
    plain.g.assign(wrapper.g)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(tf.square(plain(x, training=True) - 1.0))
    want = tape.gradient(loss, [plain.g.value, plain.layer.bias.value])
    for a, b in zip(got, want, strict=True):
        assert np.any(b.numpy() != 0.0)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)
