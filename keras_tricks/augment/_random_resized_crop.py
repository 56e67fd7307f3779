"""RandomResizedCrop: Inception-style random crops and scales, one resample per
image."""

import math

import keras

from keras_tricks import _checks
from keras_tricks.augment import _base, _kernels
from keras_tricks.augment._ops import ops

_ATTEMPTS = 10


@keras.saving.register_keras_serializable(package="keras_tricks")
class RandomResizedCrop(_base.AugmentationLayer):
    """Crop a random area and aspect ratio of each image and resize it.

    For every image the layer draws a crop whose area is a fraction
    `U(scale)` of the image and whose aspect ratio (width / height) is
    log-uniform in `ratio`, at a uniform random position, and resamples it
    to `(height, width)` in one bilinear pass. As in the Inception recipe a
    draw that does not fit is redrawn (up to 10 times, in parallel); if none
    fits, the largest central crop with the ratio clamped to `ratio` is used.
    `keras.layers.RandomCrop`, by contrast, picks one location for the whole
    batch and does not scale.

    At inference the layer takes the central crop of the target aspect ratio
    and resizes it to `(height, width)` (`keras.ops.image.resize` with
    `crop_to_aspect_ratio=True`), so the output shape is the same in both
    modes.

    Labels pass through unchanged; segmentation masks (`(B, H, W, 1)` or
    `(B, H, W)`) get the same crop with nearest interpolation; bounding boxes
    are not supported (`ValueError`).

    Args:
        height: int, output height.
        width: int, output width.
        scale: `(min, max)` fraction of the image area, in `(0, 1]`.
            Defaults to `(0.08, 1.0)`.
        ratio: `(min, max)` aspect ratio (width / height), positive.
            Defaults to `(3/4, 4/3)`.
        interpolation: `"bilinear"` or `"nearest"`. Defaults to `"bilinear"`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `keras.config.image_data_format()`.
        seed: int, random seed. Defaults to `None`.

    Call arguments:
        inputs: an image, a batch, or a dict with `images` and optionally
            `segmentation_masks` and `labels`.
        training: bool; when false, the central crop. Defaults to `True`.

    Returns:
        The images in the layer's compute dtype (float32, or float16 under
        `mixed_float16`), from `uint8` or any other input dtype, in training
        and at inference alike; masks and labels keep their dtype.

    Example:
    >>> layer = keras_tricks.augment.RandomResizedCrop(8, 8, seed=0)
    >>> layer(np.zeros((2, 32, 32, 3), "float32")).shape
    (2, 8, 8, 3)

    Note:
        Crop boxes are continuous, not rounded to whole pixels. On TensorFlow
        (and in `tf.data` on any backend) the resample runs in
        `tf.raw_ops.ImageProjectiveTransformV3`; JAX and PyTorch use
        `keras.ops.image.map_coordinates` with the same sampling points (a
        test checks they agree). That op has no XLA
        kernel, so the layer sets `supports_jit = False`, as Keras's
        `RandomCrop` and `RandomRotation` do: a model holding it is
        compiled without XLA (`jit_compile="auto"` resolves to `False`,
        `jit_compile=True` falls back with a warning). Height and width of
        the input may be unknown.

    Reference:
    - [Szegedy et al., 2015, Going deeper with convolutions](https://arxiv.org/abs/1409.4842)
    """

    _GEOMETRIC = True

    def __init__(
        self,
        height,
        width,
        scale=(0.08, 1.0),
        ratio=(3 / 4, 4 / 3),
        interpolation="bilinear",
        data_format=None,
        seed=None,
        **kwargs,
    ):
        _checks.check_int("height", height, minimum=1)
        _checks.check_int("width", width, minimum=1)
        self._scale = _checks.check_pair("scale", scale, low=0.0, high=1.0)
        if self._scale[0] <= 0:
            raise ValueError(f"`scale` must be > 0. Received: scale={scale!r}")
        self._ratio = _checks.check_pair("ratio", ratio)
        if self._ratio[0] <= 0:
            raise ValueError(f"`ratio` must be > 0. Received: ratio={ratio!r}")
        _checks.check_choice("interpolation", interpolation, ("bilinear", "nearest"))
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        # ImageProjectiveTransformV3 has no XLA kernel: Keras then compiles a
        # model holding this layer without XLA, as for its own RandomCrop.
        self.supports_jit = False
        self.height = height
        self.width = width
        self.scale = tuple(scale)
        self.ratio = tuple(ratio)
        self.interpolation = interpolation

    def _draw(self, batch, height, width, channels):
        seed = self._random_seed()
        h, w = ops.cast(height, "float32"), ops.cast(width, "float32")
        shape = (batch, _ATTEMPTS)
        area = ops.random.uniform(shape, *self._scale, seed=seed) * h * w
        log_ratio = ops.random.uniform(
            shape, math.log(self._ratio[0]), math.log(self._ratio[1]), seed=seed
        )
        ratio = ops.exp(log_ratio)
        crop_w, crop_h = ops.sqrt(area * ratio), ops.sqrt(area / ratio)
        fits = ops.logical_and(crop_w <= w, crop_h <= h)
        first = ops.argmax(ops.cast(fits, "int32"), axis=-1)
        found = ops.any(fits, axis=-1)
        pick = ops.one_hot(first, _ATTEMPTS, dtype="float32")
        crop_w = ops.sum(crop_w * pick, axis=-1)
        crop_h = ops.sum(crop_h * pick, axis=-1)
        # Fallback: the largest central crop with the ratio clamped into range.
        image_ratio = w / h
        fallback_w = ops.where(image_ratio > self._ratio[1], h * self._ratio[1], w)
        fallback_h = ops.where(image_ratio < self._ratio[0], w / self._ratio[0], h)
        crop_w = ops.where(found, crop_w, fallback_w)
        crop_h = ops.where(found, crop_h, fallback_h)
        u = ops.random.uniform((batch, 2), seed=seed)
        left = ops.where(found, u[:, 0] * (w - crop_w), (w - crop_w) / 2)
        top = ops.where(found, u[:, 1] * (h - crop_h), (h - crop_h) / 2)
        return {"top": top, "left": left, "crop_height": crop_h, "crop_width": crop_w}

    def transform_matrices(self, transformation):
        """(B, 8) transforms mapping output pixels to input pixels (pixel centres)."""
        t = {k: ops.cast(v, "float32") for k, v in transformation.items()}
        sx = t["crop_width"] / self.width
        sy = t["crop_height"] / self.height
        zero = ops.zeros_like(sx)
        return ops.stack(
            [
                sx, zero, t["left"] + 0.5 * sx - 0.5,
                zero, sy, t["top"] + 0.5 * sy - 0.5,
                zero, zero,
            ],
            axis=-1,
        )  # fmt: skip

    def _resample(self, images, transformation, interpolation):
        transforms = self.transform_matrices(transformation)
        return _kernels.crop_resample(
            images, transforms, self.height, self.width, interpolation
        )

    def _apply(self, images, transformation):
        return self._resample(images, transformation, self.interpolation)

    def _apply_masks(self, masks, transformation):
        return self._resample(masks, transformation, "nearest")

    def _inference(self, images, masks):
        """The central crop of the target aspect ratio, resized (both modes give one
        shape)."""

        def center(x, interpolation):
            return ops.image.resize(
                x,
                (self.height, self.width),
                interpolation=interpolation,
                crop_to_aspect_ratio=True,
                data_format=self.data_format,
            )

        out = ops.cast(center(images, self.interpolation), self.compute_dtype)
        if masks is not None:
            masks = self._with_mask_channel(
                masks, images, lambda m: ops.cast(center(m, "nearest"), m.dtype)
            )
        return out, masks

    def compute_output_shape(self, input_shape):
        def resize(shape, channels=True):
            shape = list(shape)
            if self.data_format == "channels_first" or not channels:
                shape[-2:] = [self.height, self.width]
            else:
                shape[-3:-1] = [self.height, self.width]
            return tuple(shape)

        if isinstance(input_shape, dict):
            rank = len(input_shape[_base.IMAGES])
            return {
                k: resize(v, channels=k == _base.IMAGES or len(v) == rank)
                if k in (_base.IMAGES, _base.MASKS)
                else v
                for k, v in input_shape.items()
            }
        return resize(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "height": self.height,
                "width": self.width,
                "scale": list(self.scale),
                "ratio": list(self.ratio),
                "interpolation": self.interpolation,
            }
        )
        return config
