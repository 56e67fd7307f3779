"""RandomPhotometric: brightness, contrast, saturation, hue, colour cast and gamma in
one pass."""

import math

import keras

from keras_tricks import _checks
from keras_tricks.augment import _base, _kernels
from keras_tricks.augment._ops import ops

OPS = ("brightness", "contrast", "saturation", "hue", "color_cast", "gamma")
_AFFINE_OPS = ("brightness", "contrast", "saturation", "hue", "color_cast")
# ITU-R BT.601 luma and the YIQ basis (rows: Y, I, Q).
_LUMA = (0.299, 0.587, 0.114)
_RGB_TO_YIQ = (
    (0.299, 0.587, 0.114),
    (0.595716, -0.274453, -0.321263),
    (0.211456, -0.522591, 0.311135),
)


@keras.saving.register_keras_serializable(package="keras_tricks")
class RandomPhotometric(_base.AugmentationLayer):
    """Random brightness, contrast, saturation, hue, colour cast and gamma, fused.

    Each image draws its own parameters, and each operation is applied with its
    own probability. Brightness, contrast, saturation, hue (a rotation about
    the gray axis in YIQ space) and the per-channel colour cast are all affine
    maps of a pixel's colour, so the layer composes them into one
    `C x (C + 1)` matrix per image and rewrites the image once; gamma, the one
    nonlinear step, splits the chain in two. With `random_order=True` every
    image applies the operations in its own random order, as in the
    photometric distortion of SSD.

    Per operation (`r = value_range[1] - value_range[0]`):
    - brightness: `x + d * r`, `d ~ U(-brightness, brightness)`;
    - contrast: `(x - mean) * f + mean`, mean per image and channel,
      `f ~ U(1 - contrast, 1 + contrast)` (as `keras.layers.RandomContrast`);
    - saturation: `gray + f * (x - gray)`, BT.601 luma,
      `f ~ U(1 - saturation, 1 + saturation)`;
    - hue: rotation of (I, Q) by `h * 360` degrees, `h ~ U(-hue, hue)`;
    - color_cast: `x_c + d_c * r` with `d_c ~ U(-color_cast, color_cast)` per
      channel;
    - gamma: `low + r * ((x - low) / r) ** g`, `g ~ U(1 - gamma, 1 + gamma)`.
    An image that gets at least one operation is clipped to `value_range`;
    an image that gets none (its probabilities said no, or every strength is
    zero) comes out unchanged.

    Labels, segmentation masks and bounding boxes pass through unchanged (the
    layer moves no pixels).

    Args:
        brightness: float in `[0, 1]`. Defaults to `0.0` (off).
        contrast: float in `[0, 1]`. Defaults to `0.0`.
        saturation: float in `[0, 1]`; needs 3 channels. Defaults to `0.0`.
        hue: float in `[0, 0.5]`, fraction of a full turn; needs 3 channels.
            Defaults to `0.0`.
        color_cast: float in `[0, 1]`. Defaults to `0.0`.
        gamma: float in `[0, 1)`. Defaults to `0.0`.
        probability: float in `[0, 1]`, or a dict from operation name to
            probability, the chance that an image gets each enabled
            operation. Defaults to `1.0`.
        random_order: bool, a random order of the operations per image.
            Defaults to `False` (the order listed above).
        value_range: `(min, max)` of the pixel values. Defaults to `(0, 255)`.
        data_format: `"channels_last"` or `"channels_first"`. Defaults to
            `keras.config.image_data_format()`.
        seed: int, random seed. Defaults to `None`.

    Call arguments:
        inputs: an image, a batch, or a dict with an `images` entry.
        training: bool; when false the layer returns its input unchanged
            (in the compute dtype). Defaults to `True`.

    Returns:
        The images in the layer's compute dtype (float32, or float16 under
        `mixed_float16`), from `uint8` or any other input dtype, in training
        and at inference alike; masks and labels keep their dtype.

    Example:
    >>> layer = keras_tricks.augment.RandomPhotometric(
    ...     brightness=0.2, contrast=0.2, saturation=0.3, hue=0.05, seed=0)
    >>> layer(np.full((2, 8, 8, 3), 128.0, "float32")).shape
    (2, 8, 8, 3)

    Note:
        Keras's single-purpose layers clip after every operation; this layer
        clips once, at the end (and before gamma, whose power needs inputs in
        range), so a chain of them and this layer agree unless an intermediate
        value leaves `value_range`. SSD draws brightness as an absolute shift
        of up to 32 in `[0, 255]` (`brightness=0.125`) and contrast and
        saturation in `[0.5, 1.5]` (`contrast=0.5`, `saturation=0.5`), each
        with probability 0.5.

    Reference:
    - [Liu et al., 2016, SSD: Single Shot MultiBox Detector](https://arxiv.org/abs/1512.02325)
    - [Howard, 2013, Some improvements on deep CNN based image classification](https://arxiv.org/abs/1312.5402)
    """

    def __init__(
        self,
        brightness=0.0,
        contrast=0.0,
        saturation=0.0,
        hue=0.0,
        color_cast=0.0,
        gamma=0.0,
        probability=1.0,
        random_order=False,
        value_range=(0, 255),
        data_format=None,
        seed=None,
        **kwargs,
    ):
        _base.check_factor("brightness", brightness, 1.0)
        _base.check_factor("contrast", contrast, 1.0)
        _base.check_factor("saturation", saturation, 1.0)
        _base.check_factor("hue", hue, 0.5)
        _base.check_factor("color_cast", color_cast, 1.0)
        _base.check_factor("gamma", gamma, 1.0, high_closed=False)
        self._probability = _probabilities(probability)
        _checks.check_bool("random_order", random_order)
        self._range = _base.check_value_range(value_range)
        super().__init__(data_format=data_format, seed=seed, **kwargs)
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
        self.color_cast = color_cast
        self.gamma = gamma
        self.probability = probability
        self.random_order = random_order
        self.value_range = tuple(value_range)

    def _enabled(self, name):
        return getattr(self, name) > 0 and self._probability[name] > 0

    def _check_channels(self, channels):
        if channels != 3 and (self._enabled("saturation") or self._enabled("hue")):
            raise ValueError(
                "`inputs` must have 3 channels (RGB) when `saturation` or `hue` "
                f"is set. Received: inputs.shape[channel_axis]={channels}"
            )

    def _draw(self, batch, height, width, channels):
        seed = self._random_seed()
        span = self._range[1] - self._range[0]

        applied = []  # per enabled operation, (B,): whether the image gets it

        def draw(name, shape, low, high, identity):
            if not self._enabled(name):
                return ops.full(shape, identity, "float32")
            value = ops.random.uniform(shape, low, high, seed=seed)
            keep = ops.random.uniform(shape[:1], seed=seed) < self._probability[name]
            applied.append(keep)
            keep = ops.reshape(keep, (-1,) + (1,) * (len(shape) - 1))
            return ops.where(keep, value, identity)

        b = (batch,)
        transformation = {
            "brightness": draw("brightness", b, -self.brightness, self.brightness, 0.0)
            * span,
            "contrast": draw("contrast", b, 1 - self.contrast, 1 + self.contrast, 1.0),
            "saturation": draw(
                "saturation", b, 1 - self.saturation, 1 + self.saturation, 1.0
            ),
            "hue": draw("hue", b, -self.hue, self.hue, 0.0),
            "color_cast": draw(
                "color_cast", (batch, channels), -self.color_cast, self.color_cast, 0.0
            )
            * span,
            "gamma": draw("gamma", b, 1 - self.gamma, 1 + self.gamma, 1.0),
        }
        if self.random_order:
            keys = ops.random.uniform((batch, len(OPS)), seed=seed)
            # The rank of each operation's key is its position in the order.
            order = ops.argsort(ops.argsort(keys, axis=-1), axis=-1)
        else:
            order = ops.broadcast_to(
                ops.arange(len(OPS), dtype="int32"), (batch, len(OPS))
            )
        transformation["order"] = ops.cast(order, "int32")
        # An image that gets no operation is left alone (not even clipped).
        any_applied = ops.zeros((batch,), "bool")
        for keep in applied:
            any_applied = ops.logical_or(any_applied, keep)
        transformation["applied"] = ops.cast(any_applied, "float32")
        return transformation

    # -- the colour maths -----------------------------------------------------
    def _op_matrices(self, t, channels):
        """Homogeneous (B, C+1, C+1) matrices of the operations that do not need a
        mean."""
        batch = ops.shape(t["brightness"])[0]
        eye = ops.eye(channels + 1, dtype="float32")

        def homogeneous(linear, offset):
            top = ops.concatenate([linear, offset[:, :, None]], axis=-1)
            bottom = ops.broadcast_to(eye[-1:], (batch, 1, channels + 1))
            return ops.concatenate([top, bottom], axis=1)

        identity = ops.broadcast_to(
            eye[:channels, :channels], (batch, channels, channels)
        )
        zeros = ops.zeros((batch, channels), "float32")
        matrices = {
            "brightness": homogeneous(
                identity, ops.broadcast_to(t["brightness"][:, None], (batch, channels))
            ),
            "color_cast": homogeneous(identity, t["color_cast"]),
        }
        if channels == 3:
            luma = ops.convert_to_tensor(_LUMA, "float32")
            gray = ops.broadcast_to(luma[None, :], (3, 3))  # every row: gray = luma . x
            s = t["saturation"][:, None, None]
            matrices["saturation"] = homogeneous(s * identity + (1 - s) * gray, zeros)
            to_yiq = ops.convert_to_tensor(_RGB_TO_YIQ, "float32")
            from_yiq = ops.inv(to_yiq)
            angle = t["hue"] * (2 * math.pi)
            cos, sin = ops.cos(angle), ops.sin(angle)
            one, zero = ops.ones_like(cos), ops.zeros_like(cos)
            rotate = ops.stack(
                [
                    ops.stack([one, zero, zero], -1),
                    ops.stack([zero, cos, -sin], -1),
                    ops.stack([zero, sin, cos], -1),
                ],
                axis=-2,
            )
            hue = ops.matmul(ops.matmul(from_yiq, rotate), to_yiq)
            matrices["hue"] = homogeneous(hue, zeros)
        return matrices

    def _compose(self, t, matrices, mean, first, last):
        """Compose the affine operations whose position lies in [first, last)."""
        batch = ops.shape(mean)[0]
        channels = mean.shape[-1]
        eye = ops.eye(channels + 1, dtype="float32")
        total = ops.broadcast_to(eye, (batch, channels + 1, channels + 1))
        order = t["order"]
        names = [n for n in _AFFINE_OPS if self._enabled(n)]
        for slot in range(len(OPS)):
            in_part = ops.logical_and(
                ops.greater_equal(slot, first), ops.less(slot, last)
            )
            step = ops.broadcast_to(eye, (batch, channels + 1, channels + 1))
            for name in names:
                if name == "contrast":
                    # (x - m) * f + m, with m the mean of the image at this point.
                    current = ops.einsum(
                        "bij,bj->bi", total[:, :channels], _affine(mean)
                    )
                    f = t["contrast"][:, None]
                    linear = f[:, :, None] * eye[None, :channels, :channels]
                    top = ops.concatenate([linear, ((1 - f) * current)[:, :, None]], -1)
                    bottom = ops.broadcast_to(eye[-1:], (batch, 1, channels + 1))
                    matrix = ops.concatenate([top, bottom], axis=1)
                else:
                    matrix = matrices[name]
                here = ops.logical_and(order[:, OPS.index(name)] == slot, in_part)
                step = ops.where(here[:, None, None], matrix, step)
            total = ops.matmul(step, total)
        return total

    def _apply(self, images, transformation):
        t = {k: ops.convert_to_tensor(v) for k, v in transformation.items()}
        t = {k: (v if k == "order" else ops.cast(v, "float32")) for k, v in t.items()}
        channels = images.shape[-1]
        low, high = self._range
        if "applied" in t:
            keep = t["applied"] > 0.5
        else:  # a transformation written by hand: every image is transformed
            keep = ops.ones((ops.shape(images)[0],), "bool")
        matrices = self._op_matrices(t, channels)
        gamma_at = t["order"][:, OPS.index("gamma")]
        length = len(OPS)
        needs_mean = self._enabled("contrast")
        # Without channel mixing the matrix is diagonal: one x * a + b.
        diagonal = not (self._enabled("saturation") or self._enabled("hue"))

        def affine_pass(x, first, last, clip, keep=None):
            mean = (
                ops.mean(x, axis=(1, 2))
                if needs_mean
                else ops.zeros((ops.shape(x)[0], channels), "float32")
            )
            total = self._compose(t, matrices, mean, first, last)
            linear, offset = total[:, :channels, :channels], total[:, :channels, -1]
            if diagonal:
                linear = ops.diagonal(linear, axis1=1, axis2=2)
            return _kernels.colour_transform(
                x, linear, offset, low, high, diagonal, clip, keep
            )

        if not self._enabled("gamma"):
            return affine_pass(images, 0, length, clip=True, keep=keep)
        x = affine_pass(images, 0, gamma_at, clip=False)
        x = ops.clip((x - low) / (high - low), 0.0, 1.0)
        x = low + (high - low) * ops.power(x, t["gamma"][:, None, None, None])
        if self.random_order:
            x = affine_pass(x, gamma_at + 1, length, clip=False)
        return ops.where(keep[:, None, None, None], ops.clip(x, low, high), images)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "brightness": self.brightness,
                "contrast": self.contrast,
                "saturation": self.saturation,
                "hue": self.hue,
                "color_cast": self.color_cast,
                "gamma": self.gamma,
                "probability": self.probability,
                "random_order": self.random_order,
                "value_range": list(self.value_range),
            }
        )
        return config


def _affine(mean):
    """(B, C) -> (B, C + 1) homogeneous colours."""
    return ops.concatenate([mean, ops.ones_like(mean[:, :1])], axis=-1)


def _probabilities(probability):
    if isinstance(probability, dict):
        unknown = sorted(set(probability) - set(OPS))
        if unknown:
            raise ValueError(
                f"`probability` keys must be among {OPS}. "
                f"Received: probability={probability!r}"
            )
        result = {name: 1.0 for name in OPS}
        for name, value in probability.items():
            result[name] = _checks.check_probability(f"probability[{name!r}]", value)
        return result
    value = _checks.check_probability("probability", probability)
    return {name: value for name in OPS}
