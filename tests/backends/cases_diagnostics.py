"""Cross-backend cases for keras_tricks.diagnostics and FineTuneOptimizer."""

import keras
import numpy as np
from keras import ops

from keras_tricks import diagnostics
from tests.backends._cases import case


class _BatchMix(keras.layers.Layer):
    """A transpose + reshape that mixes samples of the batch (a planted fault)."""

    def call(self, inputs):
        return ops.reshape(ops.transpose(inputs), ops.shape(inputs))


def _model(middle=None, activation="softmax"):
    """A small MLP with fixed weights (no random draws from Keras)."""
    inputs = keras.Input((6,))
    h = keras.layers.Dense(4, activation="tanh", name="body")(inputs)
    if middle is not None:
        h = middle(h)
    model = keras.Model(
        inputs, keras.layers.Dense(3, activation=activation, name="head")(h)
    )
    rng = np.random.default_rng(7)
    model.set_weights(
        [rng.normal(scale=0.5, size=w.shape).astype("float32") for w in model.weights]
    )
    return model


def _data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(8, 6)).astype("float32"), (np.arange(8) % 3).astype("int32")


@case("diagnostics.FineTuneOptimizer")
def fine_tune_adam():
    x, y = _data()
    model = _model()
    optimizer = diagnostics.FineTuneOptimizer(keras.optimizers.Adam(0.05), ["body"])
    model.compile(optimizer, "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
    return {w.path: ops.convert_to_numpy(w) for w in model.weights}


@case("diagnostics.check_batch_dependence")
def batch_dependence_perturbation():
    x, _ = _data()
    healthy = diagnostics.check_batch_dependence(_model(), x, method="perturbation")
    faulty = diagnostics.check_batch_dependence(
        _model(_BatchMix()), x, method="perturbation"
    )
    return {"healthy": healthy.matrix, "faulty": faulty.matrix}


@case("diagnostics.check_initial_loss")
def initial_loss():
    x, y = _data()
    model = _model()
    model.compile("sgd", "sparse_categorical_crossentropy")
    report = diagnostics.check_initial_loss(model, (x, y))
    return {
        k: np.asarray(report.numbers[k]) for k in ("initial_loss", "relative_error")
    }
