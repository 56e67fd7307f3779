"""Layers: normalizations and weight-level regularizers."""

from keras_tricks.layers.drop_connect import DropConnect
from keras_tricks.layers.group_normalization import GroupNormalization
from keras_tricks.layers.instance_normalization import InstanceNormalization
from keras_tricks.layers.weight_normalization import WeightNormalization

__all__ = [
    "DropConnect",
    "GroupNormalization",
    "InstanceNormalization",
    "WeightNormalization",
]
