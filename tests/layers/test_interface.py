"""keras_tricks.layers._interface: what other subpackages may use."""

import keras
import pytest

import keras_tricks
from keras_tricks.layers import GroupNormalization, InstanceNormalization
from keras_tricks.layers._interface import normalization_groups


@pytest.mark.backends
@pytest.mark.parametrize(
    "layer, groups",
    [
        (GroupNormalization(groups=2), 2),
        (GroupNormalization(groups=-1), 6),
        (GroupNormalization(groups=1), 1),
        (InstanceNormalization(), 6),
    ],
)
def test_normalization_groups_of_our_built_layers(layer, groups):
    layer.build((None, 4, 4, 6))
    assert normalization_groups(layer) == groups


def test_normalization_groups_of_a_subclass():
    class Mine(keras_tricks.layers.InstanceNormalization):
        pass

    layer = Mine()
    layer.build((None, 5, 3))
    assert normalization_groups(layer) == 3


@pytest.mark.parametrize(
    "layer",
    [
        keras.layers.GroupNormalization(groups=2),
        keras.layers.BatchNormalization(),
        keras.layers.Dense(3),
    ],
)
def test_normalization_groups_of_any_other_layer_is_none(layer):
    layer.build((None, 4, 4, 6))
    assert normalization_groups(layer) is None


def test_normalization_groups_of_an_unbuilt_layer_is_refused():
    layer = GroupNormalization(groups=2, name="gn")
    with pytest.raises(
        ValueError,
        match=r"`layer` must be built to know its number of groups .*"
        r"Received: layer='gn'",
    ):
        normalization_groups(layer)
