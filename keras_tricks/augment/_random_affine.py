"""RandomAffine: flips, rotation, zoom, translation, shear and perspective in one
resample."""

import math

import keras

from keras_tricks import _checks
from keras_tricks.augment import _base, _kernels
from keras_tricks.augment._ops import ops

INTERPOLATIONS = ("bilinear", "nearest")
FILL_MODES = ("reflect", "wrap", "constant", "nearest")


def _matrix(rows):
    """(B,) tensors in a 3x3 nested list -> a (B, 3, 3) tensor."""
    return ops.stack([ops.stack(row, axis=-1) for row in rows], axis=-2)


@keras.saving.register_keras_serializable(package="keras_tricks")
class RandomAffine(_base.AugmentationLayer):
    """Random flips, rotation, zoom, translation, shear and perspective, fused.

    Every image in a batch gets its own random parameters. The operations are
    composed into one 3x3 projective matrix per image and the image is
    resampled once (as `keras.ops.image.affine_transform` does), so a policy that
    Keras writes as four or five layers (`RandomFlip`, `RandomRotation`,
    `RandomZoom`, `RandomTranslation`, `RandomShear`) costs one interpolation:
    faster, and the image is blurred once instead of once per layer.

    In pixel coordinates about the image centre, the map from input to output
    is `translate @ rotate @ shear @ zoom @ flip`, then the perspective
    distortion; the layer hands the inverse (output to input) to
    `affine_transform`.

    Labels pass through unchanged. Segmentation masks
    (`{"images": ..., "segmentation_masks": ...}`, `(B, H, W, 1)` or
    `(B, H, W)`) get the same transform with nearest interpolation. Bounding
    boxes are not supported: a dict with a `bounding_boxes` entry raises a
    `ValueError`.

    Args:
        horizontal_flip: bool, flip left-right with probability 0.5.
            Defaults to `False`.
        vertical_flip: bool, flip up-down with probability 0.5.
            Defaults to `False`.
        rotation: float or `(min, max)`, rotation angle in degrees, drawn
            uniformly; a float `r` means `(-r, r)`. Positive is
            counter-clockwise. Within `[-180, 180]`. Defaults to `0.0`.
        zoom: float or `(min, max)`, scale factor drawn uniformly; `1.0` leaves
            the size, `> 1` magnifies. A float `z` in `[0, 1)` means
            `(1 - z, 1 + z)`. Defaults to `0.0` (no zoom).
        translation: float in `[0, 1]`, shift drawn uniformly in
            `[-translation, translation]` times the width (and, independently,
            the height). Defaults to `0.0`.
        shear: float in `[0, 90)`, shear angles along x and y, each drawn
            uniformly in `[-shear, shear]` degrees. Defaults to `0.0`.
        perspective: float in `[0, 0.5)`, strength of a random projective
            distortion (the coefficients of the matrix's last row, in
            coordinates normalized to `[-1, 1]`). Defaults to `0.0`.
        interpolation: `"bilinear"` or `"nearest"`. Defaults to `"bilinear"`.
        fill_mode: how points outside the input are filled: `"reflect"`,
            `"wrap"`, `"constant"` or `"nearest"`, as in
            `keras.layers.RandomRotation`. Defaults to `"reflect"`.
        fill_value: float, the value used by `fill_mode="constant"`.
            Defaults to `0.0`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `keras.config.image_data_format()`.
        seed: int, random seed. Defaults to `None`.

    Call arguments:
        inputs: an image `(H, W, C)`, a batch `(B, H, W, C)` (or channels
            first), or a dict with `images` and optionally `segmentation_masks`
            and `labels`.
        training: bool; when false the layer returns its input unchanged
            (the images cast to the compute dtype). Defaults to `True`, as
            for Keras's preprocessing layers.

    Returns:
        The images in the layer's compute dtype (float32, or float16 under
        `mixed_float16`), from `uint8` or any other input dtype, in training
        and at inference alike; masks and labels keep their dtype.

    Example:
    >>> layer = keras_tricks.augment.RandomAffine(
    ...     horizontal_flip=True, rotation=10, zoom=0.2, translation=0.1, seed=0)
    >>> layer(np.zeros((2, 32, 32, 3), "float32")).shape
    (2, 32, 32, 3)

    Height and width may be unknown (`None` in a model, or a `tf.data` map
    over images of different sizes). A draw with no flip and no other
    change (all ranges zero) leaves the image exactly as it was.

    Note:
        Bilinear interpolation keeps values inside the input's range, so the
        layer takes no `value_range`; `fill_mode="constant"` writes
        `fill_value` where the image has no data. On TensorFlow the resample
        runs as one XLA-compiled kernel that samples exactly as
        `affine_transform` does (`ImageProjectiveTransformV3` computes each
        pixel's source once per channel and has no XLA kernel), so the layer
        is about twice as fast on the CPU and works in a model compiled with
        `jit_compile=True`. JAX and PyTorch sample the same points with
        `keras.ops.image.map_coordinates` (their `affine_transform` drops the
        perspective terms), and switch to TensorFlow inside `tf.data`.

    Reference:
    - [Hartley & Zisserman, Multiple View Geometry, ch. 2](https://www.robots.ox.ac.uk/~vgg/hzbook/)
    """

    _GEOMETRIC = True

    def __init__(
        self,
        horizontal_flip=False,
        vertical_flip=False,
        rotation=0.0,
        zoom=0.0,
        translation=0.0,
        shear=0.0,
        perspective=0.0,
        interpolation="bilinear",
        fill_mode="reflect",
        fill_value=0.0,
        data_format=None,
        seed=None,
        **kwargs,
    ):
        self._rotation = _symmetric_range("rotation", rotation, 180.0)
        self._zoom = _zoom_range(zoom)
        _base.check_factor("translation", translation, 1.0)
        _base.check_factor("shear", shear, 90.0, high_closed=False)
        _base.check_factor("perspective", perspective, 0.5, high_closed=False)
        _checks.check_choice("interpolation", interpolation, INTERPOLATIONS)
        _checks.check_choice("fill_mode", fill_mode, FILL_MODES)
        _checks.check_number("fill_value", fill_value)
        _checks.check_bool("horizontal_flip", horizontal_flip)
        _checks.check_bool("vertical_flip", vertical_flip)
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.horizontal_flip = horizontal_flip
        self.vertical_flip = vertical_flip
        self.rotation = rotation
        self.zoom = zoom
        self.translation = translation
        self.shear = shear
        self.perspective = perspective
        self.interpolation = interpolation
        self.fill_mode = fill_mode
        self.fill_value = fill_value

    def _draw(self, batch, height, width, channels):
        shape = (batch,)
        seed = self._random_seed()

        def uniform(low, high):
            if low == high:
                return ops.full(shape, low, "float32")
            return ops.random.uniform(shape, low, high, seed=seed)

        def coin(enabled):
            if not enabled:
                return ops.zeros(shape, "float32")
            return ops.cast(ops.random.uniform(shape, seed=seed) < 0.5, "float32")

        return {
            "flip_horizontal": coin(self.horizontal_flip),
            "flip_vertical": coin(self.vertical_flip),
            "rotation": uniform(*self._rotation),
            "zoom": uniform(*self._zoom),
            "translation_x": uniform(-self.translation, self.translation),
            "translation_y": uniform(-self.translation, self.translation),
            "shear_x": uniform(-self.shear, self.shear),
            "shear_y": uniform(-self.shear, self.shear),
            "perspective_x": uniform(-self.perspective, self.perspective),
            "perspective_y": uniform(-self.perspective, self.perspective),
        }

    def transform_matrices(self, transformation, height, width):
        """The (B, 3, 3) matrices mapping output pixel (x, y, 1) to input pixels.

        Args:
            transformation: a dict from `get_random_transformation`.
            height, width: the image size in pixels, ints or scalar tensors
                (unknown sizes, e.g. in a `tf.data` map, come as tensors).
        """
        t = {k: ops.cast(v, "float32") for k, v in transformation.items()}
        one, zero = ops.ones_like(t["zoom"]), ops.zeros_like(t["zoom"])
        height = ops.cast(height, "float32")
        width = ops.cast(width, "float32")
        cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
        # Each factor below is the inverse of a forward step, applied in reverse.
        to_centre = _matrix(
            [
                [one, zero, -cx - t["translation_x"] * width],
                [zero, one, -cy - t["translation_y"] * height],
                [zero, zero, one],
            ]
        )
        angle = t["rotation"] * (math.pi / 180.0)
        cos, sin = ops.cos(angle), ops.sin(angle)
        unrotate = _matrix([[cos, -sin, zero], [sin, cos, zero], [zero, zero, one]])
        kx = ops.tan(t["shear_x"] * (math.pi / 180.0))
        ky = ops.tan(t["shear_y"] * (math.pi / 180.0))
        unshear_x = _matrix([[one, -kx, zero], [zero, one, zero], [zero, zero, one]])
        unshear_y = _matrix([[one, zero, zero], [-ky, one, zero], [zero, zero, one]])
        fx = 1.0 - 2.0 * t["flip_horizontal"]
        fy = 1.0 - 2.0 * t["flip_vertical"]
        unzoom_unflip = _matrix(
            [
                [fx / t["zoom"], zero, cx * one],
                [zero, fy / t["zoom"], cy * one],
                [zero, zero, one],
            ]
        )
        matrix = unzoom_unflip
        for factor in (unshear_x, unshear_y, unrotate, to_centre):
            matrix = ops.matmul(matrix, factor)
        # Perspective acts on output coordinates normalized to [-1, 1]:
        # unnormalize @ project @ normalize, multiplied out so that no
        # perspective gives exactly the identity (sx * (1 / sx) need not be 1
        # in float32) and an image left alone comes out unchanged.
        sx, sy = ops.maximum(cx, 0.5), ops.maximum(cy, 0.5)
        a, b = t["perspective_x"] / sx, t["perspective_y"] / sy
        shift = a * cx + b * cy
        warp = _matrix(
            [
                [one + cx * a, cx * b, -cx * shift],
                [cy * a, one + cy * b, -cy * shift],
                [a, b, one - shift],
            ]
        )
        matrix = ops.matmul(matrix, warp)
        return matrix / matrix[:, 2:3, 2:3]

    def _resample(self, images, transformation, interpolation, fill_mode):
        shape = ops.shape(images)
        matrices = self.transform_matrices(transformation, shape[1], shape[2])
        flat = ops.reshape(matrices, (-1, 9))[:, :8]
        return _kernels.projective_resample(
            images, flat, interpolation, fill_mode, self.fill_value
        )

    def _apply(self, images, transformation):
        return self._resample(
            images, transformation, self.interpolation, self.fill_mode
        )

    def _apply_masks(self, masks, transformation):
        return self._resample(masks, transformation, "nearest", self.fill_mode)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "horizontal_flip": self.horizontal_flip,
                "vertical_flip": self.vertical_flip,
                "rotation": self.rotation,
                "zoom": self.zoom,
                "translation": self.translation,
                "shear": self.shear,
                "perspective": self.perspective,
                "interpolation": self.interpolation,
                "fill_mode": self.fill_mode,
                "fill_value": self.fill_value,
            }
        )
        return config


def _symmetric_range(name, value, bound):
    """``r`` -> ``(-r, r)``; a pair is checked as ``(min, max)`` within the bound."""
    if isinstance(value, (list, tuple)):
        return _checks.check_pair(name, value, low=-bound, high=bound)
    magnitude = _checks.check_range(name, value, 0.0, bound, high_closed=True)
    return -magnitude, magnitude


def _zoom_range(value):
    if isinstance(value, (list, tuple)):
        low, high = _checks.check_pair("zoom", value)
        if low <= 0:
            raise ValueError(f"`zoom` factors must be > 0. Received: zoom={value!r}")
        return low, high
    magnitude = _checks.check_range("zoom", value, 0.0, 1.0)
    return 1.0 - magnitude, 1.0 + magnitude
