"""Cross-backend cases for Keras's own GroupNormalization, the framework's self-check."""

import keras
import numpy as np

from tests.backends._cases import case
from tests.helpers.backend import layer_outputs_and_grads


@case("keras.GroupNormalization")
def keras_group_norm():
    layer = keras.layers.GroupNormalization(groups=2)
    x = np.random.default_rng(1).normal(size=(2, 4, 4, 4))
    return layer_outputs_and_grads(layer, x)
