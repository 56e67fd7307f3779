"""RandomColorCast: a random shift per colour channel."""

import keras

from keras_tricks.augment import _base, _pixel_layer
from keras_tricks.augment._ops import ops


@keras.saving.register_keras_serializable(package="keras_tricks")
class RandomColorCast(_pixel_layer.PixelAugmentation):
    """Shift each colour channel of each image by its own random amount.

    "Color casting" in the augmentation of Baidu's Deep Image: every channel
    `c` of an image gets `x_c + d_c * (max - min)` with
    `d_c ~ U(-factor, factor)`, drawn per image and channel; the cast
    images are clipped to `value_range`. An image left alone (by
    `probability`, or because `factor=0`) comes out unchanged, unclipped. Works
    with any number of channels.

    Labels, segmentation masks and bounding boxes pass through unchanged.

    Args:
        factor: float in `[0, 1]`, the largest shift as a fraction of the value
            range. Defaults to `0.1`.
        probability: float in `[0, 1]`, the chance that an image is cast.
            Defaults to `1.0`.
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `keras.config.image_data_format()`.
        seed: int, random seed. Defaults to `None`.

    Call arguments:
        inputs: an image, a batch, or a dict with an `images` entry.
        training: bool; when false the input is returned unchanged (in the
            compute dtype). Defaults to `True`.

    Returns:
        The images in the layer's compute dtype (float32, or float16 under
        `mixed_float16`), from `uint8` or any other input dtype, in training
        and at inference alike; masks and labels keep their dtype.

    Example:
    >>> layer = keras_tricks.augment.RandomColorCast(0.1, seed=0)
    >>> layer(np.full((2, 4, 4, 3), 128.0, "float32")).shape
    (2, 4, 4, 3)

    Note:
        Deep Image draws integer shifts in `[-20, 20]` for `[0, 255]` images,
        about `factor=0.08`, and casts one to three channels; here every
        channel is shifted.

    Reference:
    - [Wu et al., 2015, Deep Image: Scaling up Image Recognition](https://arxiv.org/abs/1501.02876)
    """

    def __init__(self, factor=0.1, probability=1.0, value_range=(0, 255), **kwargs):
        _base.check_factor("factor", factor, 1.0)
        super().__init__(probability=probability, value_range=value_range, **kwargs)
        self.factor = factor

    def _active(self):
        return self.factor > 0

    def _draw(self, batch, height, width, channels):
        span = self._range[1] - self._range[0]
        shift = ops.random.uniform(
            (batch, channels), -self.factor, self.factor, seed=self._random_seed()
        )
        return {"applied": self._coin(batch), "shift": shift * span}

    def _augment(self, images, transformation):
        return images + ops.cast(transformation["shift"], "float32")[:, None, None, :]

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
