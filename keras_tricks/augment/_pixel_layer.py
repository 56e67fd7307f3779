"""Shared base for the per-pixel layers that take `value_range` and `probability`."""

from keras_tricks import _checks
from keras_tricks.augment import _base
from keras_tricks.augment._ops import ops


class PixelAugmentation(_base.AugmentationLayer):
    """Draws an apply/skip coin per image and clips the augmented images to
    `value_range`.

    An image the coin skips, and every image when the layer's strength is zero
    (``_active()`` false), comes out unchanged: it is not clipped.
    """

    def __init__(
        self,
        probability=1.0,
        value_range=(0, 255),
        data_format=None,
        seed=None,
        **kwargs,
    ):
        _checks.check_probability("probability", probability)
        self._range = _base.check_value_range(value_range)
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.probability = probability
        self.value_range = tuple(value_range)

    def _active(self):
        """False when the layer's strength is zero, so that it changes nothing."""
        return True

    def _coin(self, batch):
        """(B,) float: 1 where the image is augmented."""
        if not self._active() or self.probability == 0:
            return ops.zeros((batch,), "float32")
        u = ops.random.uniform((batch,), seed=self._random_seed())
        return ops.cast(u < self.probability, "float32")

    def _apply(self, images, transformation):
        out = ops.clip(self._augment(images, transformation), *self._range)
        keep = ops.cast(transformation["applied"], "bool")[:, None, None, None]
        return ops.where(keep, out, images)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"probability": self.probability, "value_range": list(self.value_range)}
        )
        return config
