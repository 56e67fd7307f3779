"""InstanceNormalization: per-sample, per-channel normalization."""

import keras

from keras_tricks.layers._grouped_normalization import GroupedNormalization


@keras.saving.register_keras_serializable(package="keras_tricks")
class InstanceNormalization(GroupedNormalization):
    """Instance normalization: per-sample, per-channel statistics.

    Each channel of each sample is normalized by its own mean and variance
    over the spatial axes, then scaled by `gamma` and shifted by `beta` per
    channel: `y = (x - mean) / sqrt(var + epsilon) * gamma + beta`. It
    removes per-image contrast, which is what style transfer and image
    generation want, and it does not depend on the batch size.

    It is group normalization with one channel per group and shares its
    implementation (float32 statistics, one scale-and-shift pass, an XLA
    kernel on TensorFlow).

    Args:
        axis: int, the channel axis (`-1` for channels-last, `1` for
            channels-first). Defaults to `-1`.
        epsilon: float, finite and at least `1.1754944e-38` (the smallest
            normal float32: the variance and `epsilon` are summed in float32
            whatever the layer's dtype, so a smaller value would round to 0),
            added to the variance. Defaults to `1e-3`.
        center: bool, whether to add the learned offset `beta`. Defaults to
            `True`.
        scale: bool, whether to multiply by the learned `gamma`. Defaults to
            `True`.
        beta_initializer: initializer for `beta`. Defaults to `"zeros"`.
        gamma_initializer: initializer for `gamma`. Defaults to `"ones"`.
        beta_regularizer: optional regularizer for `beta`. Defaults to `None`.
        gamma_regularizer: optional regularizer for `gamma`. Defaults to
            `None`.
        beta_constraint: optional constraint for `beta`. Defaults to `None`.
        gamma_constraint: optional constraint for `gamma`. Defaults to `None`.
        **kwargs: base layer arguments (`name`, `dtype`, ...).

    Call arguments:
        inputs: tensor of rank 3 to 5 (1D, 2D or 3D data with a batch and a
            channel axis) whose channel axis has a known size.

    Returns:
        A tensor of the same shape, in the layer's compute dtype. Integer
        inputs (`uint8` images) are normalized as float32 values, not
        truncated back to integers; a zero-size axis gives the empty tensor.

    Example:
    >>> layer = keras_tricks.layers.InstanceNormalization(axis=1)
    >>> x = np.random.rand(2, 3, 32, 32).astype("float32")
    >>> layer(x).shape
    TensorShape([2, 3, 32, 32])

    Note:
        The paper has no `gamma`/`beta`; they are on by default here as in
        most implementations (`center=False, scale=False` gives the paper's
        layer). `keras.layers.GroupNormalization(groups=-1)` computes the
        same values but saves the channel count as `groups`, so its config
        reloads as a plain group normalization; this layer's config reloads
        as instance normalization for any channel count.

    Reference:
    - [Ulyanov et al., 2017](https://arxiv.org/abs/1607.08022)
    """

    min_rank = 3
    max_rank = 5

    def _groups_for(self, channels):
        return channels
