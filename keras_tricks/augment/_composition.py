"""Per-image selection shared by RandomApply and RandomChoice."""

import keras

from keras_tricks.augment import _base
from keras_tricks.augment._ops import ops


def batch_size(inputs):
    """The number of images in ``inputs`` (1 for a single image) and whether batched."""
    _, images = _base.split(inputs)
    _base.check_images_shape(images.shape)
    batched = len(images.shape) == 4
    return (ops.shape(images)[0] if batched else 1), batched


def images_in(inputs, dtype):
    """``inputs`` with its images cast to ``dtype`` (a dict keeps its other entries)."""
    if isinstance(inputs, dict):
        return {**inputs, _base.IMAGES: ops.cast(inputs[_base.IMAGES], dtype)}
    return ops.cast(inputs, dtype)


def select(condition, chosen, other, batched, layer, argument, received):
    """Per image, ``chosen`` where ``condition`` else ``other``, for tensors or dicts.

    The result has the dtype of ``other`` (the layer's input, its images
    already in the compute dtype), whatever dtype policy the nested layer was
    saved with. ``chosen`` must have the shapes of ``other``: a nested
    ``layer`` that changes them is named in a ``ValueError`` (in a TensorFlow
    assertion where the shapes are unknown until the graph runs).
    """

    def pick(key, a, b):
        b = ops.convert_to_tensor(b)
        a = ops.cast(ops.convert_to_tensor(a), b.dtype)
        message = (
            f"`{argument}` must return outputs shaped like their inputs, but "
            f"{type(layer).__name__} {layer.name!r} turns {key} of shape "
            f"{tuple(b.shape)} into shape {tuple(a.shape)}. "
            f"Received: {received}={layer!r}"
        )
        if len(a.shape) != len(b.shape):
            raise ValueError(message)
        a = _base.assert_dims_equal(
            b, a, [(i, i) for i in range(len(a.shape))], message
        )
        c = condition if batched else condition[0]
        c = ops.reshape(c, ops.shape(c) + (1,) * (len(a.shape) - len(c.shape)))
        return ops.where(c, a, b)

    if isinstance(chosen, dict):
        return {
            k: pick(k, chosen[k], other[k]) if k in other else chosen[k] for k in chosen
        }
    return pick("images", chosen, other)


def deserialize(config):
    return keras.saving.deserialize_keras_object(config)
