"""Every argument check of keras_tricks.augment, matched by its message."""

import numpy as np
import pytest

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
        A(rotation=10), P(brightness=0.1), C(4, 4), augment.RandomColorCast(),
        augment.RandomGaussianNoise(), augment.RandomSaltAndPepper(),
        augment.RandomApply(augment.RandomColorCast()),
        augment.RandomChoice([augment.RandomColorCast()]),
    ]


@pytest.mark.parametrize("index", range(8))
def test_bad_rank(index):
    with pytest.raises(ValueError, match=r"rank 3.*rank 4.*Received: inputs.shape=\(4, 4\)"):
        _every_layer()[index](np.zeros((4, 4), "float32"))


@pytest.mark.parametrize("kwargs", [dict(saturation=0.2), dict(hue=0.1)])
def test_saturation_and_hue_need_three_channels(kwargs):
    with pytest.raises(ValueError, match="3 channels.*Received: inputs.shape\\[channel_axis\\]=1"):
        P(**kwargs)(np.zeros((2, 4, 4, 1), "float32"))


@pytest.mark.parametrize("layer", [A(rotation=10), C(4, 4)])
def test_geometric_layers_refuse_bounding_boxes(layer):
    data = {"images": np.zeros((2, 8, 8, 3), "float32"), "bounding_boxes": {}}
    with pytest.raises(ValueError, match="bounding boxes.*Received: inputs.keys"):
        layer(data)


def test_dict_needs_images():
    with pytest.raises(ValueError, match="`images`.*Received: inputs.keys"):
        A(rotation=10)({"image": np.zeros((2, 8, 8, 3), "float32")})
