"""Every exported augmentation layer through the shared checks, plus the behaviour all share."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_tricks import augment
from tests.helpers import layer_checks


def _nested(layer):
    return keras.saving.serialize_keras_object(layer)


# One example configuration per exported class; a new export fails until added.
EXAMPLES = {
    "RandomAffine": dict(
        horizontal_flip=True, vertical_flip=True, rotation=20, zoom=0.2,
        translation=0.1, shear=10, perspective=0.1, seed=1,
    ),
    "RandomPhotometric": dict(
        brightness=0.2, contrast=0.3, saturation=0.3, hue=0.05, color_cast=0.05,
        gamma=0.3, probability=0.7, random_order=True, value_range=(0, 1), seed=2,
    ),
    "RandomResizedCrop": dict(height=8, width=8, seed=3),
    "RandomColorCast": dict(factor=0.2, value_range=(0, 1), seed=4),
    "RandomGaussianNoise": dict(stddev=0.1, value_range=(0, 1), seed=5),
    "RandomSaltAndPepper": dict(rate=0.2, value_range=(0, 1), seed=6),
    # Nested layers as configs, so that every instance builds fresh ones.
    "RandomApply": dict(
        layer=_nested(augment.RandomColorCast(0.2, value_range=(0, 1), seed=9)), rate=0.5, seed=7
    ),
    "RandomChoice": dict(
        layers=[_nested(augment.RandomGaussianNoise(0.1, value_range=(0, 1), seed=10)),
                _nested(augment.RandomAffine(rotation=30, seed=11))],
        seed=8,
    ),
}  # fmt: skip
GEOMETRIC = {"RandomAffine", "RandomResizedCrop", "RandomChoice"}
SHAPE = (4, 12, 12, 3)


def _images(shape=SHAPE, seed=0):
    return np.random.default_rng(seed).uniform(size=shape).astype("float32")


def _make(name, **overrides):
    return getattr(augment, name)(**{**EXAMPLES[name], **overrides})


def test_every_export_has_an_example():
    assert sorted(EXAMPLES) == sorted(augment.__all__)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_shared_layer_checks(name, tmp_path):
    # The parts of check_layer that apply to a layer with no weights: config
    # round trip, symbolic/eager shapes, .keras save/load, one fit step. The
    # mixed-precision, distributed and XLA checks for random layers are below.
    cls = getattr(augment, name)
    layer_checks.check_config_round_trip(cls, EXAMPLES[name], SHAPE)
    layer_checks.check_symbolic_and_eager(cls, EXAMPLES[name], SHAPE)
    layer_checks.check_save_load(cls, EXAMPLES[name], SHAPE, tmp_path)
    keras.backend.clear_session()


@pytest.mark.parametrize("name", ["RandomColorCast", "RandomAffine"])
def test_jit_compile(name):
    # One pixel layer stands for all of them; RandomAffine resamples with its
    # own XLA kernel on TensorFlow (affine_transform has none).
    layer_checks.check_jit_compile(getattr(augment, name), EXAMPLES[name], SHAPE)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_mixed_float16(name):
    x = _images()
    reference = np.asarray(_make(name)(x))
    keras.mixed_precision.set_global_policy("mixed_float16")
    layer = _make(name)
    out = layer(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float16"
    np.testing.assert_allclose(np.asarray(out, "float32"), reference, atol=2e-2)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_identity_at_inference_and_deterministic_with_seed(name):
    x = _images()
    layer = _make(name)
    inference = np.asarray(layer(x, training=False))
    if name == "RandomResizedCrop":
        expected = keras.ops.image.resize(x, (8, 8), crop_to_aspect_ratio=True)
        np.testing.assert_allclose(inference, expected, atol=1e-6)
    else:
        np.testing.assert_array_equal(inference, x)
    first = np.asarray(_make(name)(x))
    second = np.asarray(_make(name)(x))
    np.testing.assert_array_equal(first, second)
    assert not np.allclose(first[0], first[1:]), "images of a batch share parameters"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_single_image_and_channels_first(name):
    x = _images()
    out = _make(name)(x[0])
    assert out.shape[-1] == 3 and len(out.shape) == 3
    last = np.asarray(_make(name)(x))
    first = np.asarray(_make(name, data_format="channels_first")(x.transpose(0, 3, 1, 2))) \
        if "data_format" in _make(name).get_config() else last.transpose(0, 3, 1, 2)
    np.testing.assert_allclose(first.transpose(0, 2, 3, 1), last, atol=1e-5)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_values_stay_in_value_range(name):
    x = _images()
    out = np.asarray(_make(name)(x))
    # RandomAffine reflects (no fill value); the others clip to (0, 1).
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize("name", ["RandomAffine", "RandomPhotometric", "RandomResizedCrop"])
def test_tf_data_map_on_batches(name):
    x = (_images((8, 12, 12, 3)) * 255).astype("uint8")
    labels = np.arange(8)
    layer = _make(name, **({} if name == "RandomResizedCrop" else {}))
    if name == "RandomPhotometric":
        layer = _make(name, value_range=(0, 255))
    ds = tf.data.Dataset.from_tensor_slices((x, labels)).batch(4)
    ds = ds.map(lambda im, lab: (layer(im), lab))
    batches = list(ds)
    assert len(batches) == 2
    images, out_labels = batches[0]
    assert images.dtype == tf.float32
    np.testing.assert_array_equal(out_labels.numpy(), labels[:4])
    # The seed generator advances between batches inside the pipeline.
    again = list(ds)
    assert not np.array_equal(batches[0][0].numpy(), again[0][0].numpy())


def test_dict_input_moves_masks_with_images_nearest():
    x = _images((4, 16, 16, 3))
    masks = np.random.default_rng(1).integers(0, 5, size=(4, 16, 16, 1)).astype("int32")
    layer = augment.RandomAffine(horizontal_flip=True, rotation=30, zoom=0.2, seed=3)
    out = layer({"images": x, "segmentation_masks": masks, "labels": np.arange(4)})
    assert out["segmentation_masks"].dtype == "int32"
    assert set(np.unique(np.asarray(out["segmentation_masks"]))) <= set(range(5))
    np.testing.assert_array_equal(out["labels"], np.arange(4))
    # Same draw: the masks equal the image transform with nearest interpolation.
    twin = augment.RandomAffine(
        horizontal_flip=True, rotation=30, zoom=0.2, seed=3, interpolation="nearest"
    )
    moved = np.asarray(twin(masks.astype("float32")))
    np.testing.assert_array_equal(np.asarray(out["segmentation_masks"]), moved)


def test_inside_a_model_under_mirrored_strategy(strategy):
    x = _images((16, 12, 12, 3))
    y = np.random.default_rng(2).normal(size=(16, 1)).astype("float32")
    with strategy.scope():
        inputs = keras.Input((12, 12, 3))
        h = augment.RandomAffine(horizontal_flip=True, rotation=10, zoom=0.1, seed=1)(inputs)
        h = augment.RandomPhotometric(brightness=0.2, contrast=0.2, value_range=(0, 1), seed=2)(h)
        h = keras.layers.GlobalAveragePooling2D()(h)
        model = keras.Model(inputs, keras.layers.Dense(1)(h))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = model.get_weights()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True))
    for variable in model.weights:
        values = layer_checks.replica_values(strategy, variable)
        for other in values[1:]:
            np.testing.assert_array_equal(values[0], other)
    # predict runs with training=False: the augmentation layers are the identity.
    plain = keras.Model(inputs, model.layers[-1](model.layers[-2](inputs)))
    np.testing.assert_allclose(model.predict(x, verbose=0), plain.predict(x, verbose=0), atol=1e-6)
