"""Every argument check of keras_tricks.augment, matched by its message."""

import inspect
import math
import re

import numpy as np
import pytest
import tensorflow as tf

from keras_tricks import augment

A = augment.RandomAffine
P = augment.RandomPhotometric
C = augment.RandomResizedCrop

CASES = [
    (A, dict(rotation=200), "rotation"),
    (A, dict(rotation=(10, -10)), "rotation.*ordered"),
    (A, dict(zoom=1.5), "zoom"),
    (A, dict(zoom=(1.2, 0.8)), "zoom.*ordered"),
    (A, dict(zoom=(0.0, 1.2)), "zoom.*> 0"),
    (A, dict(translation=-0.1), "translation"),
    (A, dict(shear=90), "shear"),
    (A, dict(perspective=0.5), "perspective"),
    (A, dict(interpolation="bicubic"), "interpolation"),
    (A, dict(fill_mode="mirror"), "fill_mode"),
    (A, dict(fill_value="x"), "fill_value"),
    (A, dict(data_format="nhwc"), "data_format"),
    (A, dict(seed=1.5), "seed"),
    (P, dict(brightness=1.5), "brightness"),
    (P, dict(contrast=-0.1), "contrast"),
    (P, dict(saturation=2), "saturation"),
    (P, dict(hue=0.6), "hue"),
    (P, dict(color_cast=1.1), "color_cast"),
    (P, dict(gamma=1.0), "gamma"),
    (P, dict(probability=1.5), "probability"),
    (P, dict(probability={"brightness": -0.1}), r"probability\['brightness'\]"),
    (P, dict(probability={"sharpness": 0.5}), "probability.*keys"),
    (P, dict(value_range=(1, 0)), "value_range"),
    (P, dict(value_range=(1, 1)), "value_range.*min < max"),
    (C, dict(height=0, width=4), "height"),
    (C, dict(height=4, width=2.5), "width"),
    (C, dict(height=4, width=4, scale=(0.5, 0.1)), "scale.*ordered"),
    (C, dict(height=4, width=4, scale=(0.0, 0.5)), "scale.*> 0"),
    (C, dict(height=4, width=4, scale=(0.5, 1.5)), "scale"),
    (C, dict(height=4, width=4, ratio=(2.0, 0.5)), "ratio.*ordered"),
    (C, dict(height=4, width=4, ratio=(0.0, 0.5)), "ratio.*> 0"),
    (C, dict(height=4, width=4, interpolation="area"), "interpolation"),
    (augment.RandomColorCast, dict(factor=1.5), "factor"),
    (augment.RandomColorCast, dict(probability=-0.5), "probability"),
    (augment.RandomGaussianNoise, dict(stddev=-1.0), "stddev"),
    (augment.RandomSaltAndPepper, dict(rate=1.5), "rate"),
    (augment.RandomSaltAndPepper, dict(salt_ratio=-0.5), "salt_ratio"),
    (augment.RandomApply, dict(layer="flip"), "layer"),
    (augment.RandomApply, dict(layer=augment.RandomColorCast(), rate=2.0), "rate"),
    (augment.RandomChoice, dict(layers=[]), "layers"),
    (augment.RandomChoice, dict(layers=["flip"]), "layers"),
]


@pytest.mark.parametrize("cls, kwargs, match", CASES)
def test_bad_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=f"`?{match}.*Received"):
        cls(**kwargs)


def _every_layer():
    return [
        A(rotation=10),
        P(brightness=0.1),
        C(4, 4),
        augment.RandomColorCast(),
        augment.RandomGaussianNoise(),
        augment.RandomSaltAndPepper(),
        augment.RandomApply(augment.RandomColorCast()),
        augment.RandomChoice([augment.RandomColorCast()]),
    ]


@pytest.mark.parametrize("index", range(8))
def test_bad_rank(index):
    with pytest.raises(
        ValueError, match=r"rank 3.*rank 4.*Received: inputs.shape=\(4, 4\)"
    ):
        _every_layer()[index](np.zeros((4, 4), "float32"))


@pytest.mark.parametrize("kwargs", [dict(saturation=0.2), dict(hue=0.1)])
def test_saturation_and_hue_need_three_channels(kwargs):
    with pytest.raises(
        ValueError, match="3 channels.*Received: inputs.shape\\[channel_axis\\]=1"
    ):
        P(**kwargs)(np.zeros((2, 4, 4, 1), "float32"))


@pytest.mark.parametrize("layer", [A(rotation=10), C(4, 4)])
def test_geometric_layers_refuse_bounding_boxes(layer):
    data = {"images": np.zeros((2, 8, 8, 3), "float32"), "bounding_boxes": {}}
    with pytest.raises(ValueError, match="bounding boxes.*Received: inputs.keys"):
        layer(data)


def test_dict_needs_images():
    with pytest.raises(ValueError, match="`images`.*Received: inputs.keys"):
        A(rotation=10)({"image": np.zeros((2, 8, 8, 3), "float32")})


# -- Every float argument refuses NaN and infinity; every flag is a bool ------
# Found from the constructors' signatures, so a new argument is checked too.
REQUIRED = {
    "RandomResizedCrop": dict(height=4, width=4),
    "RandomApply": dict(layer=augment.RandomColorCast()),
    "RandomChoice": dict(layers=[augment.RandomColorCast()]),
}


def _defaults(kind):
    """(class name, argument, default) for every argument whose default is ``kind``."""
    found = []
    for name in sorted(augment.__all__):
        signature = inspect.signature(getattr(augment, name).__init__)
        for argument, parameter in signature.parameters.items():
            default = parameter.default
            if kind is bool and isinstance(default, bool):
                found.append((name, argument, default))
            elif kind is float and isinstance(default, float):
                found.append((name, argument, default))
            elif kind is tuple and isinstance(default, tuple) and len(default) == 2:
                found.append((name, argument, default))
    return found


def _construct(name, **kwargs):
    return getattr(augment, name)(**{**REQUIRED.get(name, {}), **kwargs})


def test_the_signatures_have_float_pair_and_bool_arguments():
    # Guard for the parametrizations below: they must not be empty.
    assert len(_defaults(float)) >= 20 and len(_defaults(tuple)) >= 6
    assert {a for _, a, _ in _defaults(bool)} == {
        "horizontal_flip", "vertical_flip", "random_order"
    }  # fmt: skip


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("name, argument, default", _defaults(float))
def test_every_float_argument_refuses_nan_and_infinity(name, argument, default, value):
    with pytest.raises(ValueError, match=f"`{argument}`.*Received: {argument}="):
        _construct(name, **{argument: value})


@pytest.mark.parametrize("position", [0, 1])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
@pytest.mark.parametrize("name, argument, default", _defaults(tuple))
def test_every_pair_argument_refuses_nan_and_infinity(
    name, argument, default, value, position
):
    pair = list(default)
    pair[position] = value
    with pytest.raises(ValueError, match=f"`{argument}`.*Received: {argument}="):
        _construct(name, **{argument: tuple(pair)})


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(fill_value=math.inf), "fill_value.*finite"),
        (dict(rotation=(-10, math.inf)), "rotation"),
        (dict(rotation=(math.nan, 10)), "rotation"),
        (dict(zoom=(0.5, math.inf)), "zoom"),
    ],
)
def test_affine_pairs_and_fill_value_refuse_infinity(kwargs, match):
    with pytest.raises(ValueError, match=f"`{match}.*Received"):
        A(**kwargs)


@pytest.mark.parametrize("value", [math.inf, math.nan])
def test_photometric_refuses_infinite_range_and_probability(value):
    with pytest.raises(ValueError, match="`value_range`.*Received: value_range="):
        P(value_range=(0, value))
    with pytest.raises(ValueError, match=r"`probability\['hue'\]`.*Received"):
        P(hue=0.1, probability={"hue": value})


@pytest.mark.parametrize("value", ["False", "True", 1, 0, None, np.float32(1.0)])
@pytest.mark.parametrize("name, argument, default", _defaults(bool))
def test_every_bool_argument_refuses_non_bools(name, argument, default, value):
    with pytest.raises(
        ValueError, match=f"`{argument}` must be a bool.*Received: {argument}="
    ):
        _construct(name, **{argument: value})


def test_horizontal_flip_false_as_a_string_no_longer_flips():
    with pytest.raises(ValueError, match="`horizontal_flip` must be a bool"):
        A(horizontal_flip="False")
    assert A(horizontal_flip=False).get_config()["horizontal_flip"] is False


# -- Masks that do not fit the images -----------------------------------------
@pytest.mark.parametrize(
    "name", ["RandomAffine", "RandomResizedCrop", "RandomColorCast"]
)
@pytest.mark.parametrize(
    "mask_shape",
    [(2, 8, 8, 1), (2, 8, 8), (3, 16, 16, 1), (3, 16, 16), (2, 16, 16, 1, 1)],
)
def test_masks_of_another_size_or_batch_are_refused(name, mask_shape):
    layer = _construct(name, **({"rotation": 10} if name == "RandomAffine" else {}))
    images = np.zeros((2, 16, 16, 3), "float32")
    masks = np.zeros(mask_shape, "int32")
    pattern = (
        r"`segmentation_masks` must .*Received: images.shape=\(2, 16, 16, 3\), "
        + r"segmentation_masks.shape="
        + re.escape(str(mask_shape))
    )
    for training in (True, False):
        with pytest.raises(ValueError, match=pattern):
            layer({"images": images, "segmentation_masks": masks}, training=training)


def test_masks_of_another_size_are_refused_when_sizes_are_unknown():
    # In tf.data the sizes are known only when the graph runs: a TF assertion
    # with the same message stops the pipeline (it used to misalign silently).
    def pairs():
        yield np.zeros((16, 16, 3), "uint8"), np.zeros((8, 8), "int32")

    ds = tf.data.Dataset.from_generator(
        pairs,
        output_signature=(
            tf.TensorSpec((None, None, 3), tf.uint8),
            tf.TensorSpec((None, None), tf.int32),
        ),
    )
    layer = A(rotation=10)
    ds = ds.map(lambda x, m: layer({"images": x, "segmentation_masks": m}))
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="`segmentation_masks` must have"
    ):
        list(ds)


def test_masks_without_a_channel_axis_move_like_masks_with_one():
    images = np.random.default_rng(0).uniform(size=(3, 16, 16, 3)).astype("float32")
    masks = np.random.default_rng(1).integers(0, 5, (3, 16, 16)).astype("int32")
    for cls, kwargs in (
        (A, dict(rotation=30, zoom=0.2, seed=2)),
        (C, dict(height=8, width=8, seed=2)),
    ):
        with_axis = cls(**kwargs)(
            {"images": images, "segmentation_masks": masks[..., None]}
        )
        without = cls(**kwargs)({"images": images, "segmentation_masks": masks})
        assert (
            without["segmentation_masks"].shape
            == with_axis["segmentation_masks"].shape[:-1]
        )
        np.testing.assert_array_equal(
            without["segmentation_masks"],
            np.asarray(with_axis["segmentation_masks"])[..., 0],
        )
        np.testing.assert_array_equal(without["images"], with_axis["images"])
    # channels_first, one image: (H, W) masks with (C, H, W) images.
    layer = A(horizontal_flip=True, seed=0, data_format="channels_first")
    out = layer(
        {"images": images[0].transpose(2, 0, 1), "segmentation_masks": masks[0]}
    )
    assert out["segmentation_masks"].shape == (16, 16)


# -- Wrappers around a layer that changes the shape ---------------------------
@pytest.mark.parametrize(
    "make, received",
    [
        (lambda: augment.RandomApply(C(8, 8)), "layer"),
        (
            lambda: augment.RandomChoice([augment.RandomColorCast(), C(8, 8)]),
            r"layers\[1\]",
        ),
    ],
)
def test_wrapping_a_shape_changing_layer_is_refused(make, received):
    pattern = (
        r"must return outputs shaped like their inputs, but RandomResizedCrop .* "
        r"images of shape \(2, 12, 12, 3\) into shape \(2, 8, 8, 3\). "
        rf"Received: {received}=<RandomResizedCrop"
    )
    with pytest.raises(ValueError, match=pattern):
        make()(np.zeros((2, 12, 12, 3), "float32"))


def test_wrapping_a_shape_changing_layer_is_refused_when_sizes_are_unknown():
    def images():
        yield np.zeros((12, 12, 3), "float32")

    ds = tf.data.Dataset.from_generator(
        images, output_signature=tf.TensorSpec((None, None, 3), tf.float32)
    )
    layer = augment.RandomApply(C(8, 8))
    with pytest.raises(
        tf.errors.InvalidArgumentError, match="RandomResizedCrop .* turns images"
    ):
        list(ds.map(layer))
