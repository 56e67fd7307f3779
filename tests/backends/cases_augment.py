"""Cross-backend cases for keras_tricks.augment: what the layers compute from fixed
draws.

Each layer is ``transform_images(images, transformation)`` once its random
parameters are drawn; here the parameters are fixed, so every backend runs
the same maths: on TensorFlow the TF kernels (an XLA resample, an XLA colour
pass, ``ImageProjectiveTransformV3``), on JAX and PyTorch the ``keras.ops``
reference (``affine_transform``, ``map_coordinates``, ``einsum``). Gradients
are with respect to the images, in one fixed direction.

The ``tf_data.*`` cases do draw random numbers, but inside a ``tf.data`` map,
where the layers compute with TensorFlow on every backend from a TensorFlow
seed state made from the layer's seed: the same stream, so the same numbers.
"""

import keras
import numpy as np
import tensorflow as tf

from keras_tricks import augment
from tests.backends._cases import case
from tests.helpers.backend import value_and_grads

# Projective resampling: each pixel's source coordinates are a float32
# division, computed in another order by TF's XLA kernel and by
# map_coordinates on JAX, so a coordinate can differ in its last bit; outputs
# in [0, 1] then differ by ~1e-6 and the gradients (up to ~2.5) by ~6e-6
# (measured), above the default atol of 1e-6.
RESAMPLE = dict(rtol=1e-4, atol=2e-5)


def _images(shape=(2, 9, 11, 3), seed=0):
    return np.random.default_rng(seed).uniform(size=shape).astype("float32")


def _transform_and_grads(layer, images, transformation):
    """``transform_images`` and the gradient of ``sum(output * cotangent)`` for the
    images."""
    out = keras.ops.convert_to_numpy(layer.transform_images(images, transformation))
    cotangent = np.random.default_rng(1).normal(size=out.shape).astype("float32")

    def loss(x):
        y = layer.transform_images(x, transformation)
        return keras.ops.sum(y * keras.ops.convert_to_tensor(cotangent))

    _, (grad,) = value_and_grads(loss, images)
    return {"output": out, "d_images": grad}


def _affine_parameters(batch=2):
    return {
        "flip_horizontal": np.array([1.0, 0.0], "float32")[:batch],
        "flip_vertical": np.array([0.0, 1.0], "float32")[:batch],
        "rotation": np.array([17.0, -33.0], "float32")[:batch],
        "zoom": np.array([1.15, 0.85], "float32")[:batch],
        "translation_x": np.array([0.06, -0.1], "float32")[:batch],
        "translation_y": np.array([-0.04, 0.08], "float32")[:batch],
        "shear_x": np.array([5.0, -8.0], "float32")[:batch],
        "shear_y": np.array([-3.0, 2.0], "float32")[:batch],
        "perspective_x": np.array([0.05, -0.1], "float32")[:batch],
        "perspective_y": np.array([-0.08, 0.02], "float32")[:batch],
    }


@case("augment.RandomAffine.matrices")
def affine_matrices():
    layer = augment.RandomAffine()
    return {"matrices": layer.transform_matrices(_affine_parameters(), 9, 11)}


@case("augment.RandomAffine.reflect", **RESAMPLE)
def affine_reflect():
    return _transform_and_grads(augment.RandomAffine(), _images(), _affine_parameters())


@case("augment.RandomAffine.constant", **RESAMPLE)
def affine_constant():
    layer = augment.RandomAffine(fill_mode="constant", fill_value=0.5)
    return _transform_and_grads(layer, _images(), _affine_parameters())


@case("augment.RandomPhotometric.fixed_order")
def photometric_fixed_order():
    layer = augment.RandomPhotometric(
        brightness=0.2, contrast=0.3, saturation=0.4, hue=0.1, color_cast=0.05,
        gamma=0.3, value_range=(0, 1),
    )  # fmt: skip
    t = {
        "brightness": np.array([0.1, -0.05], "float32"),
        "contrast": np.array([1.2, 0.8], "float32"),
        "saturation": np.array([0.7, 1.3], "float32"),
        "hue": np.array([0.05, -0.08], "float32"),
        "color_cast": np.array([[0.02, -0.03, 0.01], [0.0, 0.04, -0.02]], "float32"),
        "gamma": np.array([0.8, 1.2], "float32"),
        "order": np.tile(np.arange(6, dtype="int32"), (2, 1)),
        "applied": np.ones(2, "float32"),
    }
    # Inside (0.2, 0.8), so that few values reach the clip where the gradient breaks.
    return _transform_and_grads(layer, 0.2 + 0.6 * _images(), t)


@case("augment.RandomPhotometric.random_order")
def photometric_random_order():
    layer = augment.RandomPhotometric(
        brightness=0.2, contrast=0.3, gamma=0.3, random_order=True, value_range=(0, 1)
    )
    t = {
        "brightness": np.array([0.1, -0.05], "float32"),
        "contrast": np.array([1.2, 0.8], "float32"),
        "saturation": np.ones(2, "float32"),
        "hue": np.zeros(2, "float32"),
        "color_cast": np.zeros((2, 3), "float32"),
        "gamma": np.array([0.8, 1.2], "float32"),
        "order": np.array([[5, 1, 2, 3, 4, 0], [2, 0, 3, 4, 5, 1]], "int32"),
        "applied": np.array([1.0, 0.0], "float32"),
    }
    return _transform_and_grads(layer, 0.2 + 0.6 * _images(), t)


@case("augment.RandomResizedCrop.box")
def resized_crop_box():
    layer = augment.RandomResizedCrop(5, 4)
    t = {
        "top": np.array([1.3, 0.0], "float32"),
        "left": np.array([2.6, 0.5], "float32"),
        "crop_height": np.array([6.2, 9.0], "float32"),
        "crop_width": np.array([5.1, 10.0], "float32"),
    }
    # Outputs only: TensorFlow's registered gradient of ImageProjectiveTransformV3
    # warps the cotangent back with the inverse map, an approximation of the
    # adjoint of the sampling that JAX and PyTorch differentiate exactly.
    return {"output": layer.transform_images(_images(), t)}


@case("augment.RandomResizedCrop.inference")
def resized_crop_inference():
    out = augment.RandomResizedCrop(6, 6)(_images(), training=False)
    return {"output": out}


@case("augment.RandomColorCast.shift")
def colour_cast_shift():
    layer = augment.RandomColorCast(0.2, value_range=(0, 1))
    t = {
        "applied": np.array([1.0, 0.0], "float32"),
        "shift": np.array([[0.1, -0.2, 0.05], [0.3, 0.3, 0.3]], "float32"),
    }
    return _transform_and_grads(layer, _images(), t)


def _mapped(layer, shape=(4, 9, 11, 3)):
    """Two batches through ``tf.data`` ``map(layer)``: TensorFlow draws on every
    backend."""
    images = (_images(shape, seed=2) * 255).astype("uint8")
    ds = tf.data.Dataset.from_tensor_slices(images).batch(2).map(layer)
    return {f"batch_{i}": batch.numpy() for i, batch in enumerate(ds)}


# The tf.data path runs the same TensorFlow ops on every backend: the
# default float32 tolerance (they agree bit for bit here).
@case("augment.tf_data.RandomAffine")
def tf_data_affine():
    return _mapped(
        augment.RandomAffine(horizontal_flip=True, rotation=20, zoom=0.2, seed=3)
    )


@case("augment.tf_data.RandomPhotometric")
def tf_data_photometric():
    layer = augment.RandomPhotometric(
        brightness=0.2, contrast=0.3, saturation=0.3, hue=0.05, gamma=0.3,
        random_order=True, probability=0.7, seed=4,
    )  # fmt: skip
    return _mapped(layer)


@case("augment.tf_data.RandomResizedCrop")
def tf_data_resized_crop():
    return _mapped(augment.RandomResizedCrop(6, 5, seed=5))


@case("augment.tf_data.RandomChoice")
def tf_data_choice():
    layer = augment.RandomChoice(
        [augment.RandomGaussianNoise(0.1, seed=6),
         augment.RandomSaltAndPepper(0.2, seed=7),
         augment.RandomApply(augment.RandomColorCast(0.2, seed=8), rate=0.5, seed=9)],
        seed=10,
    )  # fmt: skip
    return _mapped(layer)
