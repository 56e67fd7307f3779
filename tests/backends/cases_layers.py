"""Cross-backend cases for keras_tricks.layers: outputs and gradients.

Each case builds a layer with weights set from NumPy (never from a Keras
initializer: seeded draws differ between backends) and returns its output on
a fixed input and the gradients of a fixed loss with respect to the input and
every trainable weight (``tests.helpers.backend.layer_outputs_and_grads``).
On TensorFlow the normalizations run their XLA fast path, on JAX and PyTorch
the ``keras.ops`` path: these cases hold the two to the same numbers.
"""

import keras
import numpy as np

from keras_tricks.layers import (
    DropConnect,
    GroupNormalization,
    InstanceNormalization,
    WeightNormalization,
)
from tests.backends._cases import case
from tests.helpers.backend import layer_outputs_and_grads


def _normal(shape, seed, mean=0.0, std=1.0):
    return np.random.default_rng(seed).normal(mean, std, size=shape).astype("float32")


def _set_weights(layer, input_shape, seed):
    """Build ``layer`` and give every weight a fixed NumPy value."""
    layer.build(input_shape)
    layer.set_weights(
        [
            _normal(w.shape, seed + i, mean=1.0 if i == 0 else 0.0, std=0.5)
            for i, w in enumerate(layer.get_weights())
        ]
    )
    return layer


def _normalization(layer, shape, seed):
    x = _normal(shape, seed, mean=2.0, std=3.0)
    return layer_outputs_and_grads(_set_weights(layer, shape, seed + 10), x, seed=seed)


for _groups, _axis, _shape in [
    (1, -1, (2, 5, 4, 6)),
    (2, -1, (2, 5, 4, 6)),
    (3, -1, (2, 5, 4, 6)),
    (6, -1, (2, 5, 4, 6)),
    (2, 1, (2, 6, 5, 4)),
    (3, 1, (2, 6, 7)),
    (4, -1, (3, 8)),
]:

    def _group_norm(groups=_groups, axis=_axis, shape=_shape):
        layer = GroupNormalization(groups=groups, axis=axis)
        return _normalization(layer, shape, seed=groups)

    fmt = "last" if _axis == -1 else "first"
    # Sums over a group of up to 120 values in float32, in a different
    # order on each path (XLA's chunked sums, keras.ops reductions): the
    # gradients, differences of such sums, agree to a few float32 ulps of
    # their largest terms, hence atol 1e-5.
    case(
        f"layers.GroupNormalization(groups={_groups}, channels_{fmt}, "
        f"rank {len(_shape)})",
        atol=1e-5,
    )(_group_norm)


@case("layers.InstanceNormalization(channels_last)", atol=1e-5)  # as above
def instance_norm_last():
    return _normalization(InstanceNormalization(), (2, 5, 4, 3), seed=20)


@case("layers.InstanceNormalization(channels_first, 3D)", atol=1e-5)  # as above
def instance_norm_first():
    return _normalization(InstanceNormalization(axis=1), (2, 3, 4, 3, 2), seed=21)


def _initialized_weight_norm(inner, shape, seed):
    """A WeightNormalization whose data init ran on a fixed batch."""
    layer = _set_weights(WeightNormalization(inner, data_init=True), shape, seed)
    layer(_normal(shape, seed + 1, mean=1.0, std=2.0), training=True)
    assert float(keras.ops.convert_to_numpy(layer.initialized)) == 1.0
    x = _normal(shape, seed + 2)
    result = layer_outputs_and_grads(layer, x, seed=seed)
    result["g_after_init"] = keras.ops.convert_to_numpy(layer.g)
    return result


@case("layers.WeightNormalization(Dense) after data init", atol=1e-5)  # as above
def weight_norm_dense():
    return _initialized_weight_norm(
        keras.layers.Dense(5, activation="tanh"), (8, 6), seed=30
    )


@case("layers.WeightNormalization(Conv2D) after data init", atol=1e-5)  # as above
def weight_norm_conv2d():
    inner = keras.layers.Conv2D(4, 3, padding="same")
    return _initialized_weight_norm(inner, (3, 5, 5, 2), seed=31)


def _drop_connect(rate, training):
    layer = _set_weights(
        DropConnect(keras.layers.Conv2D(3, 2), rate=rate, seed=1), (2, 5, 5, 2), 40
    )
    return layer_outputs_and_grads(layer, _normal((2, 5, 5, 2), 41), training=training)


@case("layers.DropConnect(rate=0.5) at inference")
def drop_connect_inference():
    return _drop_connect(0.5, training=False)


@case("layers.DropConnect(rate=0) in training")
def drop_connect_rate_zero_training():
    return _drop_connect(0.0, training=True)
