"""RandomGaussianNoise: additive Gaussian noise as a preprocessing layer."""

import keras

from keras_tricks import _checks
from keras_tricks.augment import _pixel_layer
from keras_tricks.augment._ops import ops


@keras.saving.register_keras_serializable(package="keras_tricks")
class RandomGaussianNoise(_pixel_layer.PixelAugmentation):
    """Add zero-mean Gaussian noise to each image and clip it to `value_range`.

    Each augmented image gets `x + n * (max - min)` with independent
    `n ~ N(0, stddev**2)` per pixel and channel. Unlike
    `keras.layers.GaussianNoise` (a regularizer with no value range), this is
    an image augmentation: it clips, takes a probability per image, and
    leaves the input unchanged at inference. An image left alone (by
    `probability`, or because `stddev=0`) comes out unchanged, unclipped.

    Labels, segmentation masks and bounding boxes pass through unchanged.

    Args:
        stddev: float `>= 0`, standard deviation as a fraction of the value
            range. Defaults to `0.05`.
        probability: float in `[0, 1]`. Defaults to `1.0`.
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
    >>> layer = keras_tricks.augment.RandomGaussianNoise(0.05, seed=0)
    >>> layer(np.full((2, 4, 4, 3), 128.0, "float32")).shape
    (2, 4, 4, 3)

    Reference:
    - [Krizhevsky et al., 2012, ImageNet classification with deep CNNs](https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks)
    """

    def __init__(self, stddev=0.05, probability=1.0, value_range=(0, 255), **kwargs):
        _checks.check_positive("stddev", stddev, allow_zero=True)
        super().__init__(probability=probability, value_range=value_range, **kwargs)
        self.stddev = stddev

    def _active(self):
        return self.stddev > 0

    def _draw(self, batch, height, width, channels):
        return {"applied": self._coin(batch)}

    def _augment(self, images, transformation):
        span = self._range[1] - self._range[0]
        noise = ops.random.normal(
            ops.shape(images), stddev=self.stddev * span, seed=self._random_seed()
        )
        return images + noise

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev}
