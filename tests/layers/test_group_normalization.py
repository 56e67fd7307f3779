"""GroupNormalization: harness, Keras equality, NumPy reference, both paths."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_tricks.layers import GroupNormalization, _group_norm_math
from tests.helpers.backend import value_and_grads
from tests.helpers.layer_checks import check_layer
from tests.layers import _norm_reference as ref

_np = keras.ops.convert_to_numpy
tf_only = pytest.mark.tf_only

# Both implementations; the TensorFlow kernel only where TensorFlow runs Keras.
PATHS = [
    pytest.param(_group_norm_math.group_norm_ops, id="group_norm_ops"),
    pytest.param(_group_norm_math.group_norm_tf, id="group_norm_tf", marks=tf_only),
]


def layer_output_and_grads(layer, x, upstream):
    """``layer(x)`` and the gradients of ``sum(layer(x) * upstream)`` with
    respect to ``x`` and the layer's trainable weights, on any backend."""
    weights = [_np(w) for w in layer.trainable_weights]

    def loss(x, *weights):
        y, _ = layer.stateless_call(list(weights), [], x)
        return keras.ops.sum(y * keras.ops.convert_to_tensor(upstream))

    _, grads = value_and_grads(loss, x, *weights)
    return _np(layer(x)), grads


def test_layer_checks(tmp_path, strategy):
    kwargs = {"groups": 2, "axis": 1, "gamma_regularizer": "l2"}
    check_layer(GroupNormalization, kwargs, (4, 4, 3, 5), tmp_path, strategy=strategy)


def _random_weights(channels, seed):
    rng = np.random.default_rng(seed)
    return (
        rng.normal(1.0, 0.5, size=channels).astype("float32"),
        rng.normal(0.0, 0.5, size=channels).astype("float32"),
    )


CASES = [
    # (input shape, groups, axis)
    ((3, 5, 5, 8), 4, -1),
    ((3, 8, 5, 5), 2, 1),
    ((2, 7, 12), 3, -1),
    ((2, 12, 7), 12, 1),
    ((2, 3, 4, 5, 6), 3, -1),
    ((2, 6, 3, 4, 5), 1, 1),
    ((4, 16), 4, -1),
]


@pytest.mark.parametrize("shape, groups, axis", CASES)
def test_equals_keras_group_normalization(shape, groups, axis):
    x = np.random.default_rng(0).normal(2.0, 3.0, size=shape).astype("float32")
    theirs = keras.layers.GroupNormalization(groups=groups, axis=axis)
    ours = GroupNormalization(groups=groups, axis=axis)
    theirs.build(shape)
    ours.build(shape)
    weights = _random_weights(shape[axis], 1)
    theirs.set_weights(weights)
    ours.set_weights(weights)
    np.testing.assert_allclose(_np(ours(x)), _np(theirs(x)), rtol=1e-5, atol=1e-5)
    assert ours.get_config() == {**theirs.get_config(), "name": ours.name}


@pytest.mark.parametrize("shape, groups, axis", CASES)
def test_matches_numpy_reference_and_gradient(shape, groups, axis):
    rng = np.random.default_rng(2)
    x = rng.normal(-1.0, 2.0, size=shape).astype("float32")
    upstream = rng.normal(size=shape).astype("float32")
    layer = GroupNormalization(groups=groups, axis=axis, epsilon=1e-3)
    layer.build(shape)
    gamma, beta = _random_weights(shape[axis], 3)
    layer.set_weights([gamma, beta])

    y, grads = layer_output_and_grads(layer, x, upstream)

    expected = ref.group_norm(x, gamma, beta, groups, axis, 1e-3)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    for got, want in zip(
        grads, ref.group_norm_grad(x, gamma, upstream, groups, axis, 1e-3), strict=True
    ):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@tf_only
@pytest.mark.parametrize(
    "shape, axis", [((2, 32, 24, 8), -1), ((2, 8, 32, 24), 1), ((2, 13, 8), -1)]
)
def test_fast_path_chunked_sums_match_numpy_reference(shape, axis):
    # The TF path sums the spatial axis in chunks (16 for 32*24 positions,
    # split along the axis before or after the channels; none for 13) before
    # reducing: values and gradients must still match Wu & He's formula.
    rng = np.random.default_rng(11)
    x = rng.normal(50.0, 2.0, size=shape).astype("float32")
    upstream = rng.normal(size=shape).astype("float32")
    gamma, beta = _random_weights(shape[axis], 12)
    x_t, gamma_t, beta_t = tf.constant(x), tf.constant(gamma), tf.constant(beta)
    positive = axis % len(shape)
    with tf.GradientTape() as tape:
        tape.watch([x_t, gamma_t, beta_t])
        y = _group_norm_math.group_norm_tf(x_t, gamma_t, beta_t, 4, positive, 1e-3)
        loss = tf.reduce_sum(y * upstream)
    grads = tape.gradient(loss, [x_t, gamma_t, beta_t])
    expected = ref.group_norm(x, gamma, beta, 4, axis, 1e-3)
    np.testing.assert_allclose(y.numpy(), expected, rtol=1e-5, atol=1e-5)
    want = ref.group_norm_grad(x, gamma, upstream, 4, axis, 1e-3)
    for got, ref_grad in zip(grads, want, strict=True):
        np.testing.assert_allclose(got.numpy(), ref_grad, rtol=1e-4, atol=1e-4)


@tf_only
def test_fast_path_second_order_gradients_equal_keras_ops_path():
    # A gradient penalty (WGAN-GP critics often use group/instance norm)
    # differentiates the backward kernel again, through the statistics too.
    rng = np.random.default_rng(13)
    x = tf.constant(rng.normal(size=(2, 4, 4, 8)).astype("float32"))
    upstream = tf.constant(rng.normal(size=(2, 4, 4, 8)).astype("float32"))
    gamma, beta = (tf.constant(w) for w in _random_weights(8, 14))
    results = []
    for path in (_group_norm_math.group_norm_ops, _group_norm_math.group_norm_tf):
        with tf.GradientTape() as outer:
            outer.watch([x, gamma])
            with tf.GradientTape() as inner:
                inner.watch(x)
                loss = tf.reduce_sum(path(x, gamma, beta, 4, 3, 1e-3) * upstream)
            penalty = tf.reduce_sum(tf.square(inner.gradient(loss, x)))
        results.append(outer.gradient(penalty, [x, gamma]))
    for ops_value, tf_value in zip(*results, strict=True):
        np.testing.assert_allclose(
            tf_value.numpy(), ops_value.numpy(), rtol=1e-4, atol=1e-4
        )


def test_numpy_gradient_matches_finite_differences():
    """The hand-derived NumPy gradient the layer is held to is itself right."""
    rng = np.random.default_rng(4)
    shape, groups, axis, eps = (2, 3, 4, 6), 3, -1, 1e-3
    x = rng.normal(size=shape)
    gamma, beta = rng.normal(size=6), rng.normal(size=6)
    upstream = rng.normal(size=shape)
    dx, d_gamma, d_beta = ref.group_norm_grad(x, gamma, upstream, groups, axis, eps)

    def loss(x=x, gamma=gamma, beta=beta):
        return np.sum(ref.group_norm(x, gamma, beta, groups, axis, eps) * upstream)

    h = 1e-6
    for index in [(0, 0, 0, 0), (1, 2, 3, 5), (0, 1, 2, 3)]:
        step = np.zeros(shape)
        step[index] = h
        numeric = (loss(x=x + step) - loss(x=x - step)) / (2 * h)
        np.testing.assert_allclose(dx[index], numeric, rtol=1e-6, atol=1e-8)
    for c in range(6):
        e = np.eye(6)[c] * h
        numeric_g = (loss(gamma=gamma + e) - loss(gamma=gamma - e)) / (2 * h)
        numeric_b = (loss(beta=beta + e) - loss(beta=beta - e)) / (2 * h)
        np.testing.assert_allclose(d_gamma[c], numeric_g, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(d_beta[c], numeric_b, rtol=1e-6, atol=1e-8)


@tf_only
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize(
    "shape, groups, axis", [CASES[0], CASES[1], CASES[2], CASES[4], CASES[6]]
)
def test_tensorflow_fast_path_equals_keras_ops_path(shape, groups, axis, dtype):
    rng = np.random.default_rng(5)
    x = tf.constant(rng.normal(3.0, 2.0, size=shape).astype(dtype))
    upstream = tf.constant(rng.normal(size=shape).astype(dtype))
    gamma, beta = (tf.constant(w) for w in _random_weights(shape[axis], 6))
    positive = axis % len(shape)
    results = []
    for path in (_group_norm_math.group_norm_ops, _group_norm_math.group_norm_tf):
        with tf.GradientTape() as tape:
            tape.watch([x, gamma, beta])
            y = path(x, gamma, beta, groups, positive, 1e-3)
            loss = tf.reduce_sum(tf.cast(y * upstream, "float32"))
        assert y.dtype == dtype
        results.append([y] + tape.gradient(loss, [x, gamma, beta]))
    tol = 1e-5 if dtype == "float32" else 1e-2
    for ops_value, tf_value in zip(*results, strict=False):
        np.testing.assert_allclose(
            tf_value.numpy().astype("float64"),
            ops_value.numpy().astype("float64"),
            rtol=tol,
            atol=tol,
        )


def test_mixed_float16_keeps_statistics_in_float32():
    # Squares of ~300 summed over 4096 values overflow float16 (max 65504).
    x = (
        np.random.default_rng(7)
        .normal(300.0, 1.0, size=(2, 32, 32, 4))
        .astype("float16")
    )
    expected = ref.group_norm(x, np.ones(4), np.zeros(4), 2, -1, 1e-3)
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = GroupNormalization(groups=2)
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    assert layer.gamma.dtype == "float32"
    np.testing.assert_allclose(_np(y).astype("float64"), expected, atol=2e-2)


@tf_only
def test_xla_inside_xla():
    layer = GroupNormalization(groups=2)
    x = tf.constant(
        np.random.default_rng(8).normal(size=(2, 4, 4, 6)).astype("float32")
    )
    layer.build(x.shape)

    @tf.function(jit_compile=True)
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y * y)
        return y, tape.gradient(loss, x)

    y, dx = step(x)
    eager_y = layer(x)
    np.testing.assert_allclose(y.numpy(), eager_y.numpy(), rtol=1e-5, atol=1e-5)
    assert np.all(np.isfinite(dx.numpy()))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"groups": 0}, r"`groups` must be an integer >= 1. Received: groups=0"),
        ({"groups": -2}, r"Received: groups=-2"),
        ({"groups": 2.5}, r"`groups` must be an integer. Received: groups=2.5"),
        ({"epsilon": 0.0}, r"`epsilon` must be > 0. Received: epsilon=0.0"),
        ({"epsilon": -1e-3}, r"Received: epsilon=-0.001"),
        ({"axis": "x"}, r"`axis` must be an integer. Received: axis='x'"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GroupNormalization(**kwargs)


@pytest.mark.parametrize(
    "kwargs, shape, match",
    [
        (
            {"groups": 3},
            (2, 4, 8),
            r"`groups` must divide the number of channels \(8\). Received: groups=3",
        ),
        ({"groups": 16}, (2, 4, 8), r"Received: groups=16"),
        (
            {"groups": 2, "axis": 3},
            (2, 4, 8),
            r"`axis` must index a non-batch axis .*Received: axis=3",
        ),
        ({"groups": 2, "axis": 0}, (2, 4, 8), r"Received: axis=0"),
        ({"groups": 2, "axis": -4}, (2, 4, 8), r"Received: axis=-4"),
        (
            {"groups": 1},
            (4,),
            r"`input_shape` must have a rank >= 2. Received: input_shape=\(4,\)",
        ),
        (
            {"groups": 2},
            (2, 4, None),
            r"`input_shape` must have a known size on the channel axis -1. "
            r"Received: input_shape=\(2, 4, None\)",
        ),
    ],
)
def test_bad_input_shapes(kwargs, shape, match):
    with pytest.raises(ValueError, match=match):
        GroupNormalization(**kwargs).build(shape)


@pytest.mark.parametrize("path", PATHS)
def test_large_offset_does_not_cancel(path):
    # mean 1e4, std 1: E[x^2] - E[x]^2 in float32 would lose the variance.
    x = np.random.default_rng(9).normal(1e4, 1.0, size=(2, 16, 16, 4)).astype("float32")
    ones, zeros = keras.ops.ones((4,)), keras.ops.zeros((4,))
    y = path(keras.ops.convert_to_tensor(x), ones, zeros, 2, 3, 1e-3)
    expected = ref.group_norm(x, np.ones(4), np.zeros(4), 2, -1, 1e-3)
    np.testing.assert_allclose(_np(y), expected, atol=1e-2)


@pytest.mark.parametrize("dtype", ["int32", "uint8"])
def test_integer_input_is_normalized_in_float(dtype):
    # Keras's own layer truncates the output to integers; this one gives
    # Wu & He's float values (the float64 NumPy reference) in float32.
    x = np.random.default_rng(20).integers(0, 200, size=(2, 3, 4, 6)).astype(dtype)
    y = GroupNormalization(groups=3)(x)
    assert keras.backend.standardize_dtype(y.dtype) == "float32"
    expected = ref.group_norm(x, np.ones(6), np.zeros(6), 3, -1, 1e-3)
    np.testing.assert_allclose(_np(y), expected, rtol=1e-5, atol=1e-5)
    # The Keras behaviour this layer does not share (whole numbers only).
    theirs = _np(keras.layers.GroupNormalization(groups=3)(x))
    assert np.all(theirs == np.round(theirs))


@pytest.mark.parametrize("shape", [(2, 0, 4, 8), (2, 3, 0, 8), (0, 3, 4, 8)])
@pytest.mark.parametrize("path", PATHS)
def test_zero_size_axis_gives_the_empty_tensor(shape, path):
    # As keras.layers.GroupNormalization does (it used to raise a raw
    # StridedSlice error); the gradients are zeros, not NaN.
    x = np.zeros(shape, "float32")
    y = path(
        keras.ops.convert_to_tensor(x),
        keras.ops.ones((8,)),
        keras.ops.zeros((8,)),
        2,
        3,
        1e-3,
    )
    assert tuple(y.shape) == shape
    _, grads = value_and_grads(
        lambda x, gamma, beta: keras.ops.sum(path(x, gamma, beta, 2, 3, 1e-3)),
        x,
        np.ones(8),
        np.zeros(8),
    )
    for grad in grads:
        np.testing.assert_array_equal(grad, 0.0)
    assert tuple(GroupNormalization(groups=2)(x).shape) == shape


@tf_only
def test_zero_size_axis_in_a_graph_with_unknown_dims():
    layer = GroupNormalization(groups=2)
    layer.build((None, None, None, 8))
    f = tf.function(layer, input_signature=[tf.TensorSpec((None, None, None, 8))])
    assert tuple(f(tf.zeros((2, 0, 4, 8))).shape) == (2, 0, 4, 8)
    x = np.random.default_rng(21).normal(size=(2, 3, 5, 8)).astype("float32")
    np.testing.assert_allclose(f(x).numpy(), layer(x).numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    "epsilon, match",
    [
        (float("inf"), r"`epsilon` must be finite. Received: epsilon=inf"),
        (float("nan"), r"`epsilon` must not be NaN. Received: epsilon=nan"),
        (
            1e-300,
            r"`epsilon` must be >= 1.1754944e-38, the smallest normal float32 .*"
            r"Received: epsilon=1e-300",
        ),
        (1e-40, r"Received: epsilon=1e-40"),
        (True, r"`epsilon` must be a real number. Received: epsilon=True"),
        ("1e-3", r"`epsilon` must be a real number. Received: epsilon='1e-3'"),
    ],
)
def test_epsilon_must_be_finite_and_representable_in_float32(epsilon, match):
    with pytest.raises(ValueError, match=match):
        GroupNormalization(groups=2, epsilon=epsilon)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("groups, value", [(2, 3.0), (3, 0.1), (1, -7.3)])
def test_constant_group_gives_beta_exactly_with_the_smallest_epsilon(
    path, groups, value
):
    # a = rsqrt(1.2e-38) ~ 9e18: x * a + (beta - mean * a) cancelled to
    # garbage (inf in float16); both paths subtract a shift first.
    x = np.full((2, 3, 4, 6), value, "float32")
    beta = np.linspace(-1.0, 1.0, 6).astype("float32")
    y = path(
        keras.ops.convert_to_tensor(x),
        keras.ops.ones((6,)),
        keras.ops.convert_to_tensor(beta),
        groups,
        3,
        1.2e-38,
    )
    np.testing.assert_array_equal(_np(y), np.broadcast_to(beta, x.shape))


@pytest.mark.parametrize(
    "policy", ["float16", "mixed_float16", "bfloat16", "mixed_bfloat16"]
)
@pytest.mark.parametrize("epsilon", [1e-8, 1.2e-38])
def test_epsilon_below_float16_resolution_stays_finite(policy, epsilon):
    # 1e-8 rounds to 0 in float16, but the variance and epsilon are summed in
    # float32 whatever the compute dtype: a constant group gives beta, not NaN.
    keras.mixed_precision.set_global_policy(policy)
    layer = GroupNormalization(groups=2, epsilon=epsilon, beta_initializer="ones")
    x = np.concatenate(
        [
            np.full((2, 4, 4, 4), 3.0),
            np.random.default_rng(22).normal(size=(2, 4, 4, 4)),
        ],
        axis=-1,
    )
    y = _np(keras.ops.cast(layer(x.astype(policy.replace("mixed_", ""))), "float32"))
    assert np.all(np.isfinite(y))
    np.testing.assert_array_equal(y[..., :4], 1.0)


@pytest.mark.parametrize("flag", ["center", "scale"])
@pytest.mark.parametrize("value", ["False", 0, None])
def test_flags_must_be_bools(flag, value):
    with pytest.raises(
        ValueError,
        match=rf"`{flag}` must be a bool \(True or False\). Received: {flag}=",
    ):
        GroupNormalization(groups=2, **{flag: value})
