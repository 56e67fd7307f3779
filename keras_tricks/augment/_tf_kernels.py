"""XLA-compiled pixel kernels for the TensorFlow backend.

In a ``tf.data`` map (or any TF graph) every TensorFlow op is its own pass
over the batch: a colour pass written as ``x * a + b`` then a clip costs four
passes, and ``ImageProjectiveTransformV3`` recomputes the projection of every
output pixel once per channel. Compiled with XLA, each kernel below is one
loop over the pixels. They are used only when ``keras.backend.backend()`` is
``"tensorflow"``; the layers keep a ``keras.ops`` path for the other backends,
and the tests check that both give the same numbers.

``projective_resample`` follows ``ImageProjectiveTransformV3`` (what
``keras.ops.image.affine_transform`` runs on TensorFlow) point for point: the
same map of output pixels to input pixels, the same treatment of points
outside the image per fill mode, the same bilinear weights and the same
rounding for nearest interpolation.
"""

from keras_tricks.augment import _ops, _sampling

_KERNELS = {}


def _tf():
    import tensorflow as tf

    return tf


def _compiled(name, function):
    """One ``tf.function(jit_compile=True)`` per kernel, shared by every layer."""
    if name not in _KERNELS:
        _KERNELS[name] = _tf().function(function, jit_compile=True)
    return _KERNELS[name]


def _resample(images, transforms, interpolation, fill_mode, fill_value):
    tf = _tf()
    shape = tf.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], shape[3]
    h, w = tf.cast(height, tf.float32), tf.cast(width, tf.float32)
    cols = tf.range(w)[None, None, :]
    rows = tf.range(h)[:, None][None]
    t = transforms[:, :, None, None]
    projection = t[:, 6] * cols + t[:, 7] * rows + 1.0
    x = (t[:, 0] * cols + t[:, 1] * rows + t[:, 2]) / projection
    y = (t[:, 3] * cols + t[:, 4] * rows + t[:, 5]) / projection
    o = _ops.tensorflow_ops()
    x = _sampling.map_coordinate(o, x, w, fill_mode)
    y = _sampling.map_coordinate(o, y, h, fill_mode)
    flat = tf.reshape(images, (-1, channels))
    first = tf.range(batch)[:, None, None] * (height * width)
    fill = tf.cast(fill_value, images.dtype)

    def read(yy, xx):
        """Pixels at integer-valued float coordinates; the fill value outside."""
        inside = (yy >= 0.0) & (yy <= h - 1.0) & (xx >= 0.0) & (xx <= w - 1.0)
        yi = tf.cast(tf.clip_by_value(yy, 0.0, h - 1.0), tf.int32)
        xi = tf.cast(tf.clip_by_value(xx, 0.0, w - 1.0), tf.int32)
        return tf.where(
            inside[..., None], tf.gather(flat, first + yi * width + xi), fill
        )

    if interpolation == "nearest":  # std::round: halves away from zero
        out = read(
            tf.sign(y) * tf.floor(tf.abs(y) + 0.5),
            tf.sign(x) * tf.floor(tf.abs(x) + 0.5),
        )
    else:
        y0, x0 = tf.floor(y), tf.floor(x)
        y1, x1 = y0 + 1.0, x0 + 1.0
        wx0, wx1 = (x1 - x)[..., None], (x - x0)[..., None]
        wy0, wy1 = (y1 - y)[..., None], (y - y0)[..., None]
        top = wx0 * read(y0, x0) + wx1 * read(y0, x1)
        bottom = wx0 * read(y1, x0) + wx1 * read(y1, x1)
        out = wy0 * top + wy1 * bottom
    return tf.where((projection == 0.0)[..., None], fill, out)


def projective_resample(images, transforms, interpolation, fill_mode, fill_value):
    """``ImageProjectiveTransformV3`` on an NHWC float batch, as one XLA loop.

    Args:
        images: `(B, H, W, C)` float tensor.
        transforms: `(B, 8)` float32, output pixel to input pixel, as
            `keras.ops.image.affine_transform` takes them.
        interpolation: `"bilinear"` or `"nearest"`.
        fill_mode: `"reflect"`, `"wrap"`, `"constant"` or `"nearest"`.
        fill_value: float, for `fill_mode="constant"`.
    """
    kernel = _compiled("resample", _resample)
    return kernel(images, transforms, interpolation, fill_mode, float(fill_value))


def _colour(images, linear, offset, low, high, diagonal, clip, keep):
    tf = _tf()
    if diagonal:
        out = images * linear[:, None, None, :] + offset[:, None, None, :]
    else:
        out = tf.einsum("bhwc,bdc->bhwd", images, linear) + offset[:, None, None, :]
    out = tf.clip_by_value(out, low, high) if clip else out
    return out if keep is None else tf.where(keep[:, None, None, None], out, images)


def colour_transform(images, linear, offset, low, high, diagonal, clip, keep=None):
    """``linear @ x + offset`` per pixel, then optionally clipped, as one XLA loop.

    Args:
        images: `(B, H, W, C)` float32.
        linear: `(B, C)` per-channel scales when `diagonal`, else `(B, C, C)`.
        offset: `(B, C)`.
        low, high: floats, the clip range.
        diagonal, clip: bools, static.
        keep: `(B,)` bool, or `None` for all: the images left out come back
            unchanged (not clipped).
    """
    kernel = _compiled("colour", _colour)
    return kernel(
        images,
        linear,
        offset,
        float(low),
        float(high),
        bool(diagonal),
        bool(clip),
        keep,
    )


def crop_resample(images, transforms, height, width, interpolation):
    """``ImageProjectiveTransformV3`` to a ``(height, width)`` output, nearest fill.

    Not compiled: the op has no XLA kernel (so ``RandomResizedCrop`` sets
    ``supports_jit = False``), and as one op it already makes one pass.
    """
    return _tf().raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=[height, width],
        fill_value=0.0,
        interpolation=interpolation.upper(),
        fill_mode="NEAREST",
    )
