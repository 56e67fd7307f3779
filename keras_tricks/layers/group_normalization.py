"""GroupNormalization: Keras's group normalization, computed faster."""

import keras

from keras_tricks import _checks
from keras_tricks.layers._grouped_normalization import GroupedNormalization


@keras.saving.register_keras_serializable(package="keras_tricks")
class GroupNormalization(GroupedNormalization):
    """Group normalization: per-sample statistics over groups of channels.

    The channels are split into `groups` groups; each sample is normalized by
    the mean and variance of each group taken over its channels and the
    spatial axes, then scaled by `gamma` and shifted by `beta` per channel:
    `y = (x - mean) / sqrt(var + epsilon) * gamma + beta`. Unlike batch
    normalization it does not depend on the batch size, so it suits small
    batches (detection, segmentation, video) and `MirroredStrategy` with few
    samples per replica. `groups=1` is layer normalization over all non-batch
    axes; one channel per group is instance normalization.

    Same arguments and same numbers as `keras.layers.GroupNormalization`, and
    a drop-in replacement for it. The statistics are always computed in
    float32 and the normalization runs as one scale-and-shift pass
    (`x * a + b`, `a` and `b` per sample and channel); on the TensorFlow
    backend that pass and its analytic gradient are one XLA-compiled kernel.

    Args:
        groups: int, number of groups; must divide the channel count, or `-1`
            for one channel per group (instance normalization). Defaults to
            `32`.
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
        inputs: tensor of rank >= 2 whose channel axis has a known size.

    Returns:
        A tensor of the same shape, in the layer's compute dtype. Integer
        inputs (`uint8` images) are normalized as float32 values, not
        truncated back to integers; a zero-size axis gives the empty tensor.

    Example:
    >>> layer = keras_tricks.layers.GroupNormalization(groups=8)
    >>> x = np.random.rand(2, 16, 16, 32).astype("float32")
    >>> layer(x).shape
    TensorShape([2, 16, 16, 32])

    Note:
        `keras.layers.GroupNormalization(groups=-1)` overwrites `groups` with
        the channel count at build, so its saved config no longer means
        "instance normalization"; this layer keeps `groups` as given. Use
        `InstanceNormalization` to say so explicitly. On integer input
        (`uint8` images) Keras's layer truncates its output to integers;
        this one returns the normalized float values.

    Reference:
    - [Wu & He, 2018](https://arxiv.org/abs/1803.08494)
    """

    def __init__(self, groups=32, axis=-1, epsilon=1e-3, **kwargs):
        if isinstance(groups, bool) or groups != -1:
            _checks.check_int("groups", groups, minimum=1)
        super().__init__(axis=axis, epsilon=epsilon, **kwargs)
        self.groups = groups

    def _groups_for(self, channels):
        if self.groups == -1:
            return channels
        if channels % self.groups != 0:
            _checks.fail(
                "groups",
                self.groups,
                f"must divide the number of channels ({channels})",
            )
        return self.groups

    def get_config(self):
        config = {"groups": self.groups}
        base_config = super().get_config()
        return {**base_config, **config}
