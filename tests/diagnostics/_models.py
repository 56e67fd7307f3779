"""Small digits models, healthy and with planted faults, shared by the tests."""

import keras
import numpy as np
from keras import ops


class StopGradient(keras.layers.Layer):
    """Planted fault: cuts the gradient."""

    def call(self, inputs):
        return ops.stop_gradient(inputs)


class BatchMix(keras.layers.Layer):
    """Planted fault: a transpose + reshape that mixes samples of the batch."""

    def call(self, inputs):
        return ops.reshape(ops.transpose(inputs), ops.shape(inputs))


def digits():
    from sklearn.datasets import load_digits

    data = load_digits()
    return (data.data / 16.0).astype("float32"), data.target.astype("int32")


def mlp(
    learning_rate=1e-2,
    optimizer=None,
    output_activation="softmax",
    from_logits=False,
    middle=None,
    head_trainable=True,
    loss=None,
    output_initializer="glorot_uniform",
    hidden=32,
):
    inputs = keras.Input((64,))
    h = keras.layers.Dense(hidden, activation="relu", kernel_initializer="he_normal")(
        inputs
    )
    if middle is not None:
        h = middle(h)
    outputs = keras.layers.Dense(
        10,
        activation=output_activation,
        kernel_initializer=output_initializer,
        trainable=head_trainable,
    )(h)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer or keras.optimizers.Adam(learning_rate),
        loss or keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits),
    )
    return model


def weights_of(model):
    return [np.array(w) for w in model.get_weights()]
