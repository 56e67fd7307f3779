"""Quickstart: a small CNN with keras_tricks layers on scikit-learn's digits.

Trains on the 8x8 handwritten digits bundled with scikit-learn (1797 images,
no download), with GroupNormalization, InstanceNormalization, a
WeightNormalization-wrapped convolution (data-dependent init) and a
DropConnect-wrapped classifier, then prints the test accuracy. Runs in well
under a minute on two CPU cores:

    python examples/quickstart.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import keras_tricks  # noqa: E402


def load_data(seed=0):
    digits = load_digits()
    images = (digits.images / 16.0).astype("float32")[..., None]  # (n, 8, 8, 1)
    return train_test_split(
        images, digits.target, test_size=0.25, random_state=seed, stratify=digits.target
    )


def build_model():
    layers = keras_tricks.layers
    inputs = keras.Input(shape=(8, 8, 1))
    x = layers.WeightNormalization(
        keras.layers.Conv2D(32, 3, padding="same"), data_init=True
    )(inputs)
    x = layers.InstanceNormalization()(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.Conv2D(64, 3, padding="same")(x)
    x = layers.GroupNormalization(groups=8)(x)
    x = keras.layers.Activation("relu")(x)
    x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.Flatten()(x)
    outputs = layers.DropConnect(
        keras.layers.Dense(10, activation="softmax"), rate=0.3, seed=0
    )(x)
    return keras.Model(inputs, outputs)


def main():
    keras.utils.set_random_seed(0)
    x_train, x_test, y_train, y_test = load_data()
    model = build_model()
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, batch_size=32, epochs=8, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    predictions = np.argmax(model.predict(x_test, verbose=0), axis=-1)
    assert np.isclose(np.mean(predictions == y_test), accuracy, atol=1e-6)
    print(f"test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
