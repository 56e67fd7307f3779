"""Every exported augmentation layer through the shared checks, plus the behaviour all
share."""

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
        layer=_nested(augment.RandomColorCast(0.2, value_range=(0, 1), seed=9)),
        rate=0.5, seed=7
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
    # The same dtype at inference, from float32 and from uint8 images.
    for images in (x, (x * 255).astype("uint8")):
        inference = layer(images, training=False)
        assert keras.backend.standardize_dtype(inference.dtype) == "float16"
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
    first = (
        np.asarray(_make(name, data_format="channels_first")(x.transpose(0, 3, 1, 2)))
        if "data_format" in _make(name).get_config()
        else last.transpose(0, 3, 1, 2)
    )
    np.testing.assert_allclose(first.transpose(0, 2, 3, 1), last, atol=1e-5)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_values_stay_in_value_range(name):
    x = _images()
    out = np.asarray(_make(name)(x))
    # RandomAffine reflects (no fill value); the others clip to (0, 1).
    assert out.min() >= 0.0 and out.max() <= 1.0


@pytest.mark.parametrize(
    "name", ["RandomAffine", "RandomPhotometric", "RandomResizedCrop"]
)
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


@pytest.mark.backends
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_tf_data_map_of_the_layer_itself(name):
    # ds.map(layer), on every backend: on JAX and PyTorch the layer computes
    # with TensorFlow inside the pipeline (it used to fail there).
    x = (_images((8,) + SHAPE[1:]) * 255).astype("uint8")
    layer = _make(name)
    ds = tf.data.Dataset.from_tensor_slices(x).batch(4).map(layer)
    first, second = [b.numpy() for b in ds], [b.numpy() for b in ds]
    height, width = OUTPUT_HW.get(name, SHAPE[1:3])
    assert first[0].dtype == np.float32 and first[0].shape == (4, height, width, 3)
    assert np.isfinite(first[0]).all()
    assert not np.array_equal(first[0], second[0])  # the seed state advances
    assert not np.array_equal(first[0][0], first[0][1])  # a draw per image


IN_ONE_MODEL = [
    "RandomAffine", "RandomPhotometric", "RandomColorCast", "RandomGaussianNoise",
    "RandomSaltAndPepper", "RandomApply", "RandomChoice", "RandomResizedCrop",
]  # fmt: skip


def test_every_export_is_in_one_model():
    assert sorted(IN_ONE_MODEL) == sorted(augment.__all__)


@pytest.mark.backends
def test_every_layer_in_one_model_fits_predicts_and_reloads(tmp_path):
    # One model holds every layer, so one fit, predict and .keras round trip
    # cover them all on each backend.
    inputs = keras.Input(SHAPE[1:])
    h = inputs
    for name in IN_ONE_MODEL:
        h = _make(name)(h)
    outputs = keras.layers.Dense(1)(keras.layers.GlobalAveragePooling2D()(h))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    x = _images((8,) + SHAPE[1:])
    y = np.random.default_rng(2).normal(size=(8, 1)).astype("float32")
    before = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    assert any(not np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    predictions = model.predict(x, verbose=0)
    # predict runs with training=False: only the crop's central resize is left.
    central = keras.ops.image.resize(x, (8, 8), crop_to_aspect_ratio=True)
    dense = model.layers[-1]
    expected = dense(keras.ops.mean(central, axis=(1, 2)))
    np.testing.assert_allclose(
        predictions, keras.ops.convert_to_numpy(expected), atol=1e-5
    )
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), predictions, atol=1e-6)


def test_dict_input_moves_masks_with_images_nearest():
    x = _images((4, 16, 16, 3))
    masks = np.random.default_rng(1).integers(0, 5, size=(4, 16, 16, 1)).astype("int32")
    layer = augment.RandomAffine(horizontal_flip=True, rotation=30, zoom=0.2, seed=3)
    out = layer({"images": x, "segmentation_masks": masks, "labels": np.arange(4)})
    assert keras.backend.standardize_dtype(out["segmentation_masks"].dtype) == "int32"
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
        h = augment.RandomAffine(horizontal_flip=True, rotation=10, zoom=0.1, seed=1)(
            inputs
        )
        h = augment.RandomPhotometric(
            brightness=0.2, contrast=0.2, value_range=(0, 1), seed=2
        )(h)
        h = keras.layers.GlobalAveragePooling2D()(h)
        model = keras.Model(inputs, keras.layers.Dense(1)(h))
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    before = model.get_weights()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert any(
        not np.array_equal(a, b)
        for a, b in zip(before, model.get_weights(), strict=True)
    )
    for variable in model.weights:
        values = layer_checks.replica_values(strategy, variable)
        for other in values[1:]:
            np.testing.assert_array_equal(values[0], other)
    # predict runs with training=False: the augmentation layers are the identity.
    plain = keras.Model(inputs, model.layers[-1](model.layers[-2](inputs)))
    np.testing.assert_allclose(
        model.predict(x, verbose=0), plain.predict(x, verbose=0), atol=1e-6
    )


# -- The conformance matrix: the inputs users bring ---------------------------
# Every exported layer (EXAMPLES) x uint8 / int / float images x one image or a
# batch x training and inference; unknown height and width inside tf.data and
# in a model; masks with and without a channel axis. The outcome is the
# documented one: images in the compute dtype in both modes, masks in their
# own rank and dtype, finite values.

OUTPUT_HW = {"RandomResizedCrop": (8, 8)}  # the layers that change the size


def _typed(images, dtype):
    """Images in ``dtype``: integer images hold 0..255, float images 0..1."""
    if dtype == "float32":
        return images
    return np.round(images * 255).astype(dtype)


@pytest.mark.parametrize("dtype", ["uint8", "int32", "float32"])
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_matrix_dtypes_and_ranks(name, dtype):
    layer = _make(name)
    batch = _typed(_images(), dtype)
    height, width = OUTPUT_HW.get(name, SHAPE[1:3])
    for x in (batch, batch[0]):  # a batch (rank 4) and one image (rank 3)
        expected_shape = x.shape[:-3] + (height, width, 3)
        for training in (True, False):
            out = layer(x, training=training)
            assert keras.backend.standardize_dtype(out.dtype) == "float32", training
            assert tuple(out.shape) == expected_shape
            assert np.isfinite(np.asarray(out)).all()
        if name not in OUTPUT_HW:  # inference: the images as they came, cast
            np.testing.assert_array_equal(layer(x, training=False), x.astype("float32"))


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_matrix_empty_batch(name):
    x = np.zeros((0,) + SHAPE[1:], "uint8")
    height, width = OUTPUT_HW.get(name, SHAPE[1:3])
    for training in (True, False):
        out = _make(name)(x, training=training)
        assert tuple(out.shape) == (0, height, width, 3)
        assert keras.backend.standardize_dtype(out.dtype) == "float32"


def _two_sizes():
    """One image at a time, of two sizes, with a (H, W) mask: unknown sizes in
    tf.data."""
    rng = np.random.default_rng(3)
    for h, w in ((10, 12), (7, 9)):
        yield (
            rng.integers(0, 256, (h, w, 3)).astype("uint8"),
            rng.integers(0, 4, (h, w)).astype("int32"),
        )


def _two_sizes_dataset():
    return tf.data.Dataset.from_generator(
        _two_sizes,
        output_signature=(
            tf.TensorSpec((None, None, 3), tf.uint8),
            tf.TensorSpec((None, None), tf.int32),
        ),
    )


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_matrix_unknown_sizes_in_tf_data_with_masks(name):
    layer = _make(name)
    for training in (True, False):
        ds = _two_sizes_dataset().map(
            lambda x, m, training=training: layer(
                {"images": x, "segmentation_masks": m}, training=training
            )
        )
        for out, (x, m) in zip(ds, _two_sizes(), strict=True):
            images, masks = out["images"].numpy(), out["segmentation_masks"].numpy()
            height, width = OUTPUT_HW.get(name, x.shape[:2])
            assert images.dtype == np.float32 and images.shape == (height, width, 3)
            assert np.isfinite(images).all()
            # The mask keeps its rank and dtype, and follows the images' size.
            assert masks.dtype == np.int32 and masks.shape == (height, width)
            assert set(np.unique(masks)) <= set(np.unique(m))
            if not training and name not in OUTPUT_HW:
                np.testing.assert_array_equal(images, x.astype("float32"))
                np.testing.assert_array_equal(masks, m)


def test_matrix_model_with_uint8_input_and_unknown_sizes():
    # Every layer on its own branch of one model, so one fit and one predict
    # cover them all: Input(dtype="uint8") with None height and width, fed by
    # a tf.data pipeline whose batches differ in size (so the traced train and
    # predict functions see unknown sizes too), trains (training=True) and
    # then predicts (training=False); a Conv2D reads each layer's output, as
    # in a user's model, and needs it in float in both modes.
    inputs = keras.Input((None, None, 3), dtype="uint8")
    branches = [
        keras.layers.GlobalAveragePooling2D()(
            keras.layers.Conv2D(2, 1)(_make(name)(inputs))
        )
        for name in sorted(EXAMPLES)
    ]
    outputs = keras.layers.Dense(1)(keras.layers.Concatenate()(branches))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer="sgd", loss="mse")

    def batches():
        for h, w in ((10, 12), (7, 9)):
            yield _typed(_images((2, h, w, 3)), "uint8"), np.zeros((2, 1), "float32")

    ds = tf.data.Dataset.from_generator(
        batches,
        output_signature=(
            tf.TensorSpec((None, None, None, 3), tf.uint8),
            tf.TensorSpec((None, 1), tf.float32),
        ),
    ).apply(
        tf.data.experimental.assert_cardinality(2)
    )  # so fit knows where the epoch ends
    history = model.fit(ds, epochs=1, shuffle=False, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    predictions = model.predict(ds.map(lambda x, y: x), verbose=0)
    assert predictions.shape == (4, 1) and np.isfinite(predictions).all()


# Configurations that leave every image alone, per exported layer: zero
# strength, probability 0, or a draw that happens to be the identity.
LEFT_ALONE = {
    "RandomAffine": [dict(), dict(fill_mode="constant", fill_value=7.0)],
    "RandomPhotometric": [
        dict(),
        dict(brightness=0.3, contrast=0.3, saturation=0.3, hue=0.1, color_cast=0.2,
             gamma=0.3, probability=0.0, random_order=True, value_range=(0, 1)),
    ],  # fmt: skip
    "RandomResizedCrop": [dict(height=12, width=12, scale=(1.0, 1.0),
                               ratio=(1.0, 1.0))],
    "RandomColorCast": [dict(factor=0.0, value_range=(0, 1)),
                        dict(factor=0.2, probability=0.0, value_range=(0, 1))],
    "RandomGaussianNoise": [dict(stddev=0.0, value_range=(0, 1)),
                            dict(stddev=0.2, probability=0.0, value_range=(0, 1))],
    "RandomSaltAndPepper": [dict(rate=0.0, value_range=(0, 1)),
                            dict(rate=0.5, probability=0.0, value_range=(0, 1))],
    "RandomApply": [dict(layer=augment.RandomColorCast(0.3, value_range=(0, 1)),
                         rate=0.0)],
    "RandomChoice": [dict(layers=[augment.RandomColorCast(0.0, value_range=(0, 1)),
                                  augment.RandomAffine()])],
}  # fmt: skip


def test_every_export_has_a_left_alone_case():
    assert sorted(LEFT_ALONE) == sorted(augment.__all__)


@pytest.mark.parametrize(
    "name, kwargs",
    [(name, kwargs) for name in sorted(LEFT_ALONE) for kwargs in LEFT_ALONE[name]],
)
def test_images_left_alone_come_out_unchanged(name, kwargs):
    # Out of value_range on purpose: an image the layer does not augment is
    # not clipped either (254.9 used to become 1.0 under value_range=(0, 1)).
    x = np.random.default_rng(4).uniform(-50, 300, SHAPE).astype("float32")
    x[0, 0, 0, 0] = 254.9
    out = getattr(augment, name)(**kwargs)(x)
    assert keras.backend.standardize_dtype(out.dtype) == "float32"
    np.testing.assert_array_equal(np.asarray(out), x)


def test_images_not_drawn_are_unchanged_and_drawn_ones_clipped():
    # Half the images are augmented: those are clipped, the others untouched.
    x = np.random.default_rng(5).uniform(-1, 2, (16, 6, 6, 3)).astype("float32")
    for layer in (
        augment.RandomColorCast(0.1, probability=0.5, value_range=(0, 1), seed=1),
        augment.RandomPhotometric(
            brightness=0.1, probability=0.5, value_range=(0, 1), seed=1
        ),
        augment.RandomAffine(horizontal_flip=True, seed=1),
    ):
        out = np.asarray(layer(x))
        same = (out == x).all(axis=(1, 2, 3))
        assert 0 < same.sum() < len(x), type(layer).__name__
        if not isinstance(layer, augment.RandomAffine):
            assert out[~same].min() >= 0 and out[~same].max() <= 1
        else:  # the flipped images are the others, mirrored
            np.testing.assert_array_equal(out[~same], x[~same][:, :, ::-1])


def test_resized_crop_runs_without_xla_in_a_compiled_model():
    # ImageProjectiveTransformV3 has no XLA kernel: the layer says so, and
    # Keras then compiles the model without XLA ("auto", the default, on a
    # GPU machine; True falls back with a warning) instead of crashing.
    layer = augment.RandomResizedCrop(8, 8, seed=0)
    assert layer.supports_jit is False
    inputs = keras.Input((12, 12, 3))
    model = keras.Model(
        inputs, keras.layers.Dense(1)(keras.layers.Flatten()(layer(inputs)))
    )
    with pytest.warns(UserWarning, match="doesn't support `jit_compile=True`"):
        model.compile(optimizer="sgd", loss="mse", jit_compile=True)
    assert model.jit_compile is False
    model.compile(optimizer="sgd", loss="mse", jit_compile="auto")
    assert model.jit_compile is False
    x = _images((4, 12, 12, 3))
    history = model.fit(x, np.zeros((4, 1)), batch_size=2, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    # Wrapped, the flag still reaches Keras (it looks through nested layers).
    wrapper = keras.Sequential(
        [keras.Input((12, 12, 3)), augment.RandomResizedCrop(8, 8)]
    )
    with pytest.warns(UserWarning, match="doesn't support"):
        wrapper.compile(loss="mse", jit_compile=True)
