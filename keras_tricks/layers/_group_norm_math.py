"""The maths shared by GroupNormalization and InstanceNormalization.

Both layers normalize each sample over groups of channels and the spatial
axes (instance normalization is the case of one channel per group). The
normalization is written as a scale and shift, ``y = x * a + b`` with ``a``
and ``b`` per sample and channel:

    a = gamma * rsqrt(var + epsilon),   b = beta - mean * a,

where ``mean`` and ``var`` are the per-(sample, group) statistics, always
computed in float32. That is one pass over ``x`` for the statistics and one
for the output, instead of the several elementwise passes of
``(x - mean) / sqrt(var + epsilon) * gamma + beta``.

Both paths apply it about a shift taken from the data (each group's first
value in ``group_norm_ops``, each channel's in the TensorFlow kernel), the
same shift their statistics use: ``y = (x - s) * a + (beta - (mean - s) * a)``.
The subtraction costs nothing in the fused pass and keeps ``mean * a`` from
cancelling against ``x * a``: a constant group gives exactly ``beta``, even
when a tiny ``epsilon`` makes ``a`` huge.

Two implementations give the same numbers:

- ``group_norm_ops``: ``keras.ops`` only, for every backend;
- ``group_norm_tf``: the TensorFlow fast path, the same maths as one
  ``tf.function(jit_compile=True)`` kernel with an analytic gradient that also
  reduces to per-(sample, channel) sums, so the backward pass reads ``x`` and
  the upstream gradient twice.

``group_norm`` picks between them with ``keras.backend.backend()``.
"""

import functools

import keras
from keras import ops


def _grouped_shape(shape, axis, groups):
    """Shape ``(N, before, groups, channels // groups, after)`` of the input.

    ``before`` and ``after`` are the products of the axes before and after the
    channel axis (the batch axis excluded); dynamic sizes come in as tensors.
    """
    channels = shape[axis]
    before = functools.reduce(lambda p, d: p * d, shape[1:axis], 1)
    after = functools.reduce(lambda p, d: p * d, shape[axis + 1 :], 1)
    return (shape[0], before, groups, channels // groups, after)


def _scale(var, gamma, epsilon, grouped):
    """``a = gamma * rsqrt(var + epsilon)``, shape ``(N, 1, groups, channels // groups,
    1)``."""
    _, _, groups, per_group, _ = grouped
    return ops.rsqrt(var + epsilon) * ops.reshape(gamma, (1, 1, groups, per_group, 1))


def group_norm_ops(x, gamma, beta, groups, axis, epsilon):
    """Group normalization of ``x`` with ``keras.ops`` only.

    Args:
        x: tensor of rank >= 2; ``axis`` (non-negative) holds the channels.
        gamma: float32 tensor of shape ``(channels,)``.
        beta: float32 tensor of shape ``(channels,)``.
        groups: int, number of groups dividing the channel count.
        axis: int, the channel axis, in ``[1, rank)``.
        epsilon: float, added to the variance.

    Returns:
        A tensor of the shape and dtype of ``x``.
    """
    shape = ops.shape(x)
    grouped = _grouped_shape(list(shape), axis, groups)
    x5 = ops.cast(ops.reshape(x, grouped), "float32")
    # Sums over the count (0 for an empty spatial axis: then the statistics
    # are 0, not NaN, and the output is the empty tensor, as in Keras).
    count = ops.cast(ops.size(x5), "float32") / ops.cast(
        grouped[0] * grouped[2], "float32"
    )
    # Everything about each group's first value (0 when a spatial axis is
    # empty): a constant group is then exactly 0 before scaling, and its
    # output exactly beta, however large ``a`` a tiny epsilon makes.
    x5 = x5 - ops.sum(x5[:, :1, :, :1, :1], axis=(1, 3, 4), keepdims=True)
    mean = ops.divide_no_nan(ops.sum(x5, axis=(1, 3, 4), keepdims=True), count)
    # Two-pass variance, as numerically safe as Keras's own layer.
    centered = x5 - mean
    var = ops.divide_no_nan(
        ops.sum(ops.square(centered), axis=(1, 3, 4), keepdims=True), count
    )
    a = _scale(var, gamma, epsilon, grouped)
    y = centered * a + ops.reshape(beta, (1, 1, groups, grouped[3], 1))
    return ops.cast(ops.reshape(y, shape), x.dtype)


# How many equal chunks ``tf.split`` may cut a long reduced axis into, most
# first: the first count that divides the axis length is used. Cutting into
# ``k`` chunks makes the partial sums ``k`` times smaller than the data (see
# ``_tf_channel_sums``); past 16 they are already negligible next to the read
# of the data, while each chunk adds a slice and an add to the compiled
# kernel. The counts are those that divide the spatial sizes of common images
# and sequences (powers of two, multiples of 3, 5 and 6); a length that none
# but 1 divides (a prime such as 13) is not cut.
_CHUNK_COUNTS = (16, 12, 8, 6, 5, 4, 3, 2, 1)


def _chunk_count(length):
    """How many chunks to cut a reduced axis of static ``length`` into (1: none).

    An unknown (dynamic) length is not cut.
    """
    if not isinstance(length, int):
        return 1
    return next(k for k in _CHUNK_COUNTS if length % k == 0)


def _tf_channel_sums(terms, tensors):
    """Per-(sample, channel) sums over axes 1 and 4 of each ``term(*tensors)``.

    ``tensors`` have the grouped shape ``(N, before, groups, per_group,
    after)``. XLA on the CPU does not fuse elementwise work into a
    reduction: a reduced ``square(x - shift)`` is first written out whole.
    So the longer of axes 1 and 4 is cut into ``_chunk_count`` chunks and
    each term is summed over the chunks elementwise (one fused pass that
    reads the inputs once and writes a ``k`` times smaller tensor), and only
    that is reduced.
    """
    import tensorflow as tf

    before, after = tensors[0].shape[1], tensors[0].shape[4]
    split_axis = 1 if (before or 0) >= (after or 0) else 4
    chunks = _chunk_count(tensors[0].shape[split_axis])
    if chunks > 1:
        pieces = list(
            zip(*[tf.split(t, chunks, axis=split_axis) for t in tensors], strict=True)
        )
    else:
        pieces = [tensors]
    partial = [tf.add_n([term(*piece) for piece in pieces]) for term in terms]
    return [tf.reduce_sum(p, axis=(1, 4), keepdims=True) for p in partial]


def _tf_group_moments(x5, shift):
    """Per-(sample, group) mean, variance and count of the grouped ``x5``.

    One pass over ``x5``: per-(sample, channel) sums of the data shifted by
    ``shift`` (one of its values per channel: exact when channels hold a
    large offset), then Chan et al.'s combination of per-channel moments
    into group moments: ``M2 = sum_c (M2_c + n_c (mean_c - mean)^2)``.
    The mean and variance have shape ``(N, 1, groups, 1, 1)``.

    Reference:
    - [Chan, Golub & LeVeque, 1979](https://doi.org/10.1007/978-3-642-51461-6_3)
    """
    import tensorflow as tf

    per_channel = tf.cast(tf.shape(x5)[1] * tf.shape(x5)[4], tf.float32)
    sum_c, sumsq_c = _tf_channel_sums(
        [lambda x: x - shift, lambda x: tf.square(x - shift)], [x5]
    )
    # divide_no_nan: an empty spatial axis gives statistics 0, not NaN
    # (whose gradients would reach gamma through sums over nothing).
    mean_c = shift + tf.math.divide_no_nan(sum_c, per_channel)
    m2_c = sumsq_c - sum_c * tf.math.divide_no_nan(sum_c, per_channel)
    count = per_channel * tf.cast(tf.shape(x5)[3], tf.float32)
    # The group mean about its first channel's mean: exactly that mean
    # when every channel agrees (a constant group), where a plain sum of
    # the channel means times 1/channels could be off by a rounding.
    base = mean_c[:, :, :, :1, :]
    mean = base + tf.reduce_sum(
        mean_c - base, axis=3, keepdims=True
    ) * tf.math.divide_no_nan(per_channel, count)
    m2 = tf.reduce_sum(
        m2_c + per_channel * tf.square(mean_c - mean), axis=3, keepdims=True
    )
    # One-pass sums can round a near-zero variance below zero.
    return mean, tf.maximum(tf.math.divide_no_nan(m2, count), 0.0), count


def _tf_grouped_shape(x, axis, groups):
    """``x``'s shape and its grouped shape, dynamic sizes as tensors."""
    import tensorflow as tf

    shape = tf.shape(x)
    dims = [s if s is not None else shape[i] for i, s in enumerate(x.shape)]
    return shape, _grouped_shape(dims, axis, groups)


def _tf_first_values(x, axis, groups):
    """Each (sample, channel)'s first value, float32, shape ``(N, groups, channels //
    groups)``.

    The sum over the first element (at most one) is that element, or 0 when
    a spatial axis is empty.
    """
    import tensorflow as tf

    _, grouped = _tf_grouped_shape(x, axis, groups)
    first = tf.reduce_sum(tf.reshape(x, grouped)[:, :1, :, :, :1], axis=(1, 4))
    return tf.cast(first, tf.float32)


def _tf_forward(x, gamma, beta, shift, groups, axis, epsilon):
    """``y = (x - shift) * a + (beta - (mean - shift) * a)``, with ``mean`` and
    ``rstd = rsqrt(var + epsilon)`` kept for the backward pass.

    The subtraction of the same per-channel shift as the statistics fuses
    into the same pass; it keeps ``mean * a`` from cancelling against
    ``x * a`` (exactly ``beta`` on a constant group, even when a tiny
    ``epsilon`` makes ``a`` huge, where ``x * a + b`` gave garbage up to inf
    in float16).
    """
    import tensorflow as tf

    shape, grouped = _tf_grouped_shape(x, axis, groups)
    x5 = tf.cast(tf.reshape(x, grouped), tf.float32)
    shift5 = tf.reshape(shift, (-1, 1, groups, grouped[3], 1))
    mean, var, _ = _tf_group_moments(x5, shift5)
    rstd = tf.math.rsqrt(var + epsilon)
    a = rstd * tf.reshape(gamma, (1, 1, groups, -1, 1))
    b = tf.reshape(beta, (1, 1, groups, -1, 1)) - (mean - shift5) * a
    y = tf.reshape(tf.cast((x5 - shift5) * a + b, x.dtype), shape)
    return y, mean, rstd


def _tf_backward(dy, x, gamma, mean, rstd, groups, axis):
    """Gradients of group norm with respect to ``x``, ``gamma`` and ``beta``.

    With ``xhat = (x - mean) * rstd`` and ``g = gamma * dy``:
    ``dx = rstd * (g - mean_G(g) - xhat * mean_G(g * xhat))`` (means over
    each sample's group), written as ``dx = dy * a + x * c + d`` with ``c``,
    ``d`` per (sample, group), so that the only reductions over the data are
    the per-(sample, channel) sums of ``dy`` and ``dy * (x - mean)``, in one
    pass; ``d_gamma = sum(dy * xhat)``, ``d_beta = sum(dy)`` per channel.
    """
    import tensorflow as tf

    shape, grouped = _tf_grouped_shape(x, axis, groups)
    x5 = tf.cast(tf.reshape(x, grouped), tf.float32)
    dy5 = tf.cast(tf.reshape(dy, grouped), tf.float32)
    gamma5 = tf.reshape(gamma, (1, 1, groups, -1, 1))
    count = tf.cast(grouped[1] * grouped[3] * grouped[4], tf.float32)
    sum_dy, sum_dy_xc = _tf_channel_sums(
        [lambda dy, x: dy, lambda dy, x: dy * (x - mean)], [dy5, x5]
    )
    d_beta = tf.reshape(tf.reduce_sum(sum_dy, axis=0), [-1])
    d_gamma = tf.reshape(tf.reduce_sum(sum_dy_xc * rstd, axis=0), [-1])
    k1 = tf.math.divide_no_nan(
        tf.reduce_sum(gamma5 * sum_dy, axis=3, keepdims=True), count
    )
    k2 = tf.math.divide_no_nan(
        tf.reduce_sum(gamma5 * sum_dy_xc, axis=3, keepdims=True), count
    )
    c = -k2 * rstd * rstd * rstd
    d = -rstd * k1 - mean * c
    dx = tf.cast(dy5 * (rstd * gamma5) + x5 * c + d, x.dtype)
    return tf.reshape(dx, shape), d_gamma, d_beta


@functools.cache
def _tf_kernel(groups, axis, epsilon):
    """Group norm as one XLA-compiled kernel, its analytic gradient as another."""
    import tensorflow as tf

    @tf.function(jit_compile=True, autograph=False)
    def forward(x, gamma, beta, shift):
        return _tf_forward(x, gamma, beta, shift, groups, axis, epsilon)

    @tf.function(jit_compile=True, autograph=False)
    def backward(dy, x, gamma, mean, rstd):
        return _tf_backward(dy, x, gamma, mean, rstd, groups, axis)

    @tf.custom_gradient
    def normalize(x, gamma, beta):
        # The shift is sliced outside the kernel: a slice inside it keeps XLA
        # from fusing the statistics into one pass.
        shift = tf.stop_gradient(_tf_first_values(x, axis, groups))
        y, mean, rstd = forward(x, gamma, beta, shift)

        def grad(dy):
            return backward(dy, x, gamma, mean, rstd)

        return y, grad

    return normalize


def group_norm_tf(x, gamma, beta, groups, axis, epsilon):
    """Group normalization of ``x`` as one XLA kernel (TensorFlow backend only).

    Same arguments and numbers as ``group_norm_ops``.
    """
    kernel = _tf_kernel(int(groups), int(axis), float(epsilon))
    return kernel(x, gamma, beta)


def group_norm(x, gamma, beta, groups, axis, epsilon):
    """Group normalization, on the fastest path the backend offers.

    ``gamma`` or ``beta`` may be ``None`` (no scale, no centre).
    """
    channels = x.shape[axis]
    if gamma is None:
        gamma = ops.ones((channels,), dtype="float32")
    if beta is None:
        beta = ops.zeros((channels,), dtype="float32")
    gamma = ops.cast(ops.convert_to_tensor(gamma), "float32")
    beta = ops.cast(ops.convert_to_tensor(beta), "float32")
    if keras.backend.backend() == "tensorflow":
        return group_norm_tf(x, gamma, beta, groups, axis, epsilon)
    return group_norm_ops(x, gamma, beta, groups, axis, epsilon)


def normalize_axis(axis, rank):
    """``axis`` as a non-negative index, or ``None`` when out of range or batch."""
    positive = axis + rank if axis < 0 else axis
    if positive < 1 or positive >= rank:
        return None
    return positive
