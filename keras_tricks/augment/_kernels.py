"""The pixel kernels of the augmentation layers: a ``keras.ops`` reference and a
TensorFlow fast path each.

A layer computes its random parameters and matrices, then hands the pixel
work to one of the kernels below. Each kernel comes as two named functions
with the same arguments and the same numbers (the tests compare them
directly):

- ``*_reference``: written with ``keras.ops``, runs on every backend;
- ``*_tensorflow``: TensorFlow (``_tf_kernels``), one XLA loop where that is
  faster, for the TensorFlow backend and for ``tf.data`` on any backend.

The layers call the name without a suffix, which picks one in one place,
:func:`use_tensorflow`.
"""

from keras_tricks.augment import _ops, _sampling, _tf_kernels
from keras_tricks.augment._ops import ops


def use_tensorflow():
    """Whether the layers run the TensorFlow kernels now (TF backend, or inside
    ``tf.data``)."""
    return _ops.uses_tensorflow()


# -- projective resample (RandomAffine) ---------------------------------------
def projective_resample_reference(
    images, transforms, interpolation, fill_mode, fill_value
):
    """The sampling of ``ImageProjectiveTransformV3``, with
    ``keras.ops.image.map_coordinates``.

    Not ``keras.ops.image.affine_transform``: on JAX and PyTorch it reads only
    the affine part of each transform and drops the projective terms
    (``transforms[:, 6:8]``), so ``RandomAffine(perspective=...)`` did
    nothing there. Each output pixel ``(x, y)`` reads the input at
    ``((a0 x + a1 y + a2) / k, (b0 x + b1 y + b2) / k)``, ``k = c0 x + c1 y + 1``;
    where ``k = 0`` the output is ``fill_value``, as in TensorFlow.
    """
    shape = ops.shape(images)
    batch, height, width, channels = shape[0], shape[1], shape[2], images.shape[-1]
    rows = ops.cast(ops.arange(height), "float32")[:, None]
    cols = ops.cast(ops.arange(width), "float32")[None, :]
    t = ops.cast(transforms, "float32")[:, :, None, None]
    projection = t[:, 6] * cols + t[:, 7] * rows + 1.0  # (B, H, W)
    safe = ops.where(projection == 0.0, 1.0, projection)
    x = (t[:, 0] * cols + t[:, 1] * rows + t[:, 2]) / safe
    y = (t[:, 3] * cols + t[:, 4] * rows + t[:, 5]) / safe
    x = _sampling.map_coordinate(ops, x, ops.cast(width, "float32"), fill_mode)
    y = _sampling.map_coordinate(ops, y, ops.cast(height, "float32"), fill_mode)
    full = (batch, height, width, channels)
    b = ops.broadcast_to(
        ops.cast(ops.arange(batch), "float32")[:, None, None, None], full
    )
    c = ops.broadcast_to(ops.cast(ops.arange(channels), "float32"), full)
    coordinates = ops.stack(
        [
            b,
            ops.broadcast_to(y[..., None], full),
            ops.broadcast_to(x[..., None], full),
            c,
        ]
    )
    order = 1 if interpolation == "bilinear" else 0
    # Mapped into the image above, except for "constant": no other mode is
    # left for map_coordinates but its own "nearest" at the last pixel.
    mode = "constant" if fill_mode == "constant" else "nearest"
    out = ops.image.map_coordinates(
        images, coordinates, order, fill_mode=mode, fill_value=fill_value
    )
    return ops.where(
        (projection == 0.0)[..., None], ops.cast(fill_value, out.dtype), out
    )


projective_resample_tensorflow = _tf_kernels.projective_resample


def projective_resample(images, transforms, interpolation, fill_mode, fill_value):
    """Resample ``(B, H, W, C)`` images at ``transforms`` (``(B, 8)``, output to input
    pixel).

    See ``_tf_kernels.projective_resample`` for the arguments.
    """
    kernel = (
        projective_resample_tensorflow
        if use_tensorflow()
        else projective_resample_reference
    )
    return kernel(images, transforms, interpolation, fill_mode, fill_value)


# -- colour transform (RandomPhotometric) -------------------------------------
def colour_transform_reference(
    images, linear, offset, low, high, diagonal, clip, keep=None
):
    """``linear @ x + offset`` per pixel, optionally clipped, with ``keras.ops``."""
    if diagonal:
        out = images * linear[:, None, None, :] + offset[:, None, None, :]
    else:
        out = ops.einsum("bhwc,bdc->bhwd", images, linear) + offset[:, None, None, :]
    out = ops.clip(out, low, high) if clip else out
    return out if keep is None else ops.where(keep[:, None, None, None], out, images)


colour_transform_tensorflow = _tf_kernels.colour_transform


def colour_transform(images, linear, offset, low, high, diagonal, clip, keep=None):
    """Per image, an affine map of each pixel's colour (see
    ``_tf_kernels.colour_transform``)."""
    kernel = (
        colour_transform_tensorflow if use_tensorflow() else colour_transform_reference
    )
    return kernel(images, linear, offset, low, high, diagonal, clip, keep)


# -- crop resample (RandomResizedCrop) ----------------------------------------
def crop_resample_reference(images, transforms, height, width, interpolation):
    """The crop's sampling points through ``keras.ops.image.map_coordinates``.

    ``transforms`` are ``(B, 8)`` axis-aligned maps from output to input
    pixel (scale and shift only); points outside take the nearest pixel.
    """
    shape = ops.shape(images)
    batch, channels = shape[0], images.shape[-1]
    rows = ops.arange(height, dtype="float32")[:, None]
    cols = ops.arange(width, dtype="float32")[None, :]
    t = ops.cast(transforms, "float32")[:, :, None, None]
    x = t[:, 0] * cols + t[:, 2]  # (B, H, W)
    y = t[:, 4] * rows + t[:, 5]
    full = (batch, height, width, channels)
    b = ops.broadcast_to(
        ops.cast(ops.arange(batch), "float32")[:, None, None, None], full
    )
    c = ops.broadcast_to(ops.arange(channels, dtype="float32"), full)
    coordinates = ops.stack(
        [
            b,
            ops.broadcast_to(y[..., None], full),
            ops.broadcast_to(x[..., None], full),
            c,
        ]
    )
    order = 1 if interpolation == "bilinear" else 0
    return ops.image.map_coordinates(images, coordinates, order, fill_mode="nearest")


crop_resample_tensorflow = _tf_kernels.crop_resample


def crop_resample(images, transforms, height, width, interpolation):
    """``(B, H, W, C)`` images resampled to ``(B, height, width, C)`` at
    ``transforms``."""
    kernel = crop_resample_tensorflow if use_tensorflow() else crop_resample_reference
    return kernel(images, transforms, height, width, interpolation)
