"""The steps of the TensorFlow group-norm kernel, each against NumPy.

``_group_norm_math``'s TensorFlow fast path is built from small functions
(chunked per-channel sums, Chan et al.'s combination of channel moments into
group moments, the forward scale-and-shift, the analytic backward pass);
here each is held to a float64 NumPy version of its formula. The whole
kernel is held to Wu & He's normalization and to the ``keras.ops`` path in
``test_group_normalization.py``.
"""

import numpy as np
import pytest
import tensorflow as tf

from keras_tricks.layers import _group_norm_math as gn
from tests.layers import _norm_reference as ref

pytestmark = pytest.mark.tf_only


@pytest.mark.parametrize(
    "length, chunks",
    [
        (768, 16),
        (64, 16),
        (36, 12),
        (24, 12),
        (40, 8),
        (18, 6),
        (25, 5),
        (9, 3),
        (13, 1),
        (1, 1),
        (0, 16),
        (None, 1),
    ],
)
def test_chunk_count_is_the_first_listed_count_dividing_the_length(length, chunks):
    assert gn._chunk_count(length) == chunks


def test_chunk_counts_are_at_most_16_and_end_with_1():
    assert gn._CHUNK_COUNTS[-1] == 1
    assert max(gn._CHUNK_COUNTS) == 16
    assert list(gn._CHUNK_COUNTS) == sorted(gn._CHUNK_COUNTS, reverse=True)


@pytest.mark.parametrize(
    "shape", [(2, 48, 3, 2, 5), (2, 5, 3, 2, 48), (2, 13, 1, 4, 1), (2, 0, 2, 2, 3)]
)
def test_channel_sums_equal_plain_sums_however_the_axis_is_chunked(shape):
    rng = np.random.default_rng(0)
    a, b = (
        rng.normal(size=shape).astype("float32"),
        rng.normal(size=shape).astype("float32"),
    )
    sums = gn._tf_channel_sums(
        [lambda a, b: a, lambda a, b: a * b], [tf.constant(a), tf.constant(b)]
    )
    for got, want in zip(sums, [a, a * b], strict=True):
        assert tuple(got.shape) == (shape[0], 1, shape[2], shape[3], 1)
        np.testing.assert_allclose(
            got.numpy(), want.sum(axis=(1, 4), keepdims=True), rtol=1e-5, atol=1e-5
        )


def test_group_moments_combine_channel_moments_exactly():
    # Channels with very different offsets: Chan et al.'s combination gives
    # the moments of the whole group, as NumPy's two-pass float64 ones.
    rng = np.random.default_rng(1)
    x5 = rng.normal(size=(2, 6, 3, 4, 5)) + np.arange(4).reshape(1, 1, 1, 4, 1) * 100.0
    x5 = x5.astype("float32")
    shift = x5[:, :1, :, :, :1]
    mean, var, count = gn._tf_group_moments(tf.constant(x5), tf.constant(shift))
    wide = x5.astype(np.float64)
    np.testing.assert_allclose(
        mean.numpy(), wide.mean(axis=(1, 3, 4), keepdims=True), rtol=1e-6
    )
    np.testing.assert_allclose(
        var.numpy(), wide.var(axis=(1, 3, 4), keepdims=True), rtol=1e-4
    )
    assert float(count) == 6 * 4 * 5


def test_first_values_are_each_channels_first_value():
    x = np.random.default_rng(2).normal(size=(2, 3, 4, 6)).astype("float32")
    first = gn._tf_first_values(tf.constant(x), 3, 2)
    np.testing.assert_array_equal(first.numpy(), x[:, 0, 0, :].reshape(2, 2, 3))
    empty = gn._tf_first_values(tf.zeros((2, 0, 4, 6)), 3, 2)
    np.testing.assert_array_equal(empty.numpy(), np.zeros((2, 2, 3)))


def _inputs(shape, seed):
    rng = np.random.default_rng(seed)
    channels = shape[-1]
    return (
        rng.normal(5.0, 2.0, size=shape).astype("float32"),
        rng.normal(1.0, 0.5, size=channels).astype("float32"),
        rng.normal(0.0, 0.5, size=channels).astype("float32"),
        rng.normal(size=shape).astype("float32"),
    )


def test_forward_is_wu_and_hes_normalization():
    x, gamma, beta, _ = _inputs((2, 4, 5, 6), 3)
    shift = gn._tf_first_values(tf.constant(x), 3, 3)
    y, mean, rstd = gn._tf_forward(tf.constant(x), gamma, beta, shift, 3, 3, 1e-3)
    np.testing.assert_allclose(
        y.numpy(), ref.group_norm(x, gamma, beta, 3, -1, 1e-3), rtol=1e-5, atol=1e-5
    )
    grouped = x.reshape(2, 20, 3, 2).astype(np.float64)
    np.testing.assert_allclose(
        mean.numpy().reshape(2, 3), grouped.mean(axis=(1, 3)), rtol=1e-6
    )
    want_rstd = 1 / np.sqrt(grouped.var(axis=(1, 3)) + 1e-3)
    np.testing.assert_allclose(rstd.numpy().reshape(2, 3), want_rstd, rtol=1e-5)


def test_backward_is_the_hand_derived_gradient():
    x, gamma, beta, upstream = _inputs((2, 4, 5, 6), 4)
    shift = gn._tf_first_values(tf.constant(x), 3, 3)
    _, mean, rstd = gn._tf_forward(tf.constant(x), gamma, beta, shift, 3, 3, 1e-3)
    grads = gn._tf_backward(
        tf.constant(upstream), tf.constant(x), gamma, mean, rstd, 3, 3
    )
    want = ref.group_norm_grad(x, gamma, upstream, 3, -1, 1e-3)
    for got, expected in zip(grads, want, strict=True):
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4, atol=1e-4)
