"""RandomSaltAndPepper: impulse noise as a preprocessing layer."""

import keras

from keras_tricks import _checks
from keras_tricks.augment import _pixel_layer
from keras_tricks.augment._ops import ops


@keras.saving.register_keras_serializable(package="keras_tricks")
class RandomSaltAndPepper(_pixel_layer.PixelAugmentation):
    """Set a random fraction of pixels to the maximum (salt) or minimum (pepper).

    In each augmented image every pixel, independently, is replaced with
    probability `rate`: by `value_range[1]` with probability `salt_ratio`,
    otherwise by `value_range[0]`. All channels of a pixel change together.
    An image left alone (by `probability`, or because `rate=0`) comes out
    unchanged; so do the pixels not replaced (nothing is clipped).

    Labels, segmentation masks and bounding boxes pass through unchanged.

    Args:
        rate: float in `[0, 1]`, fraction of pixels replaced. Defaults to `0.02`.
        salt_ratio: float in `[0, 1]`, share of replaced pixels set to the
            maximum. Defaults to `0.5`.
        probability: float in `[0, 1]`, chance that an image is augmented.
            Defaults to `1.0`.
        value_range: `(min, max)`. Defaults to `(0, 255)`.
        data_format: `"channels_last"` or `"channels_first"`.
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
    >>> layer = keras_tricks.augment.RandomSaltAndPepper(rate=0.05, seed=0)
    >>> layer(np.full((2, 4, 4, 3), 128.0, "float32")).shape
    (2, 4, 4, 3)

    Reference:
    - [Gonzalez & Woods, Digital Image Processing, 4th ed., sec. 5.2](https://www.imageprocessingplace.com/)
    """

    def __init__(
        self, rate=0.02, salt_ratio=0.5, probability=1.0, value_range=(0, 255), **kwargs
    ):
        _checks.check_probability("rate", rate)
        _checks.check_probability("salt_ratio", salt_ratio)
        super().__init__(probability=probability, value_range=value_range, **kwargs)
        self.rate = rate
        self.salt_ratio = salt_ratio

    def _active(self):
        return self.rate > 0

    def _draw(self, batch, height, width, channels):
        return {"applied": self._coin(batch)}

    def _augment(self, images, transformation):
        shape = ops.shape(images)
        pixels = (shape[0], shape[1], shape[2], 1)
        u = ops.random.uniform(pixels, seed=self._random_seed())
        low, high = self._range
        salt = u < self.rate * self.salt_ratio
        pepper = ops.logical_and(u >= self.rate * self.salt_ratio, u < self.rate)
        return ops.where(salt, high, ops.where(pepper, low, images))

    def get_config(self):
        return {
            **super().get_config(),
            "rate": self.rate,
            "salt_ratio": self.salt_ratio,
        }
