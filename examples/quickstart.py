"""Quickstart: a small CNN with keras_tricks layers on a TFDS image dataset.

Trains, by default, on scikit-learn's 8x8 handwritten digits (1797 images,
no download) loaded through tensorflow-datasets with
`keras_tricks.datasets.load`, with GroupNormalization, InstanceNormalization,
a WeightNormalization-wrapped convolution (data-dependent init) and a
DropConnect-wrapped classifier, then prints the test accuracy. Runs in well
under a minute on two CPU cores:

    python examples/quickstart.py
    python examples/quickstart.py --dataset mnist --image-size 28   # network, once
    python examples/quickstart.py --quick                           # a few seconds
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import _data  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_tricks  # noqa: E402


def build_model(input_shape, num_classes):
    layers = keras_tricks.layers
    inputs = keras.Input(shape=input_shape)
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
        keras.layers.Dense(num_classes, activation="softmax"), rate=0.3, seed=0
    )(x)
    return keras.Model(inputs, outputs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _data.add_arguments(parser, image_size=8)
    parser.add_argument(
        "--epochs", type=int, default=None, help="default: 8 (2 with --quick)"
    )
    args = parser.parse_args()
    epochs = args.epochs or (2 if args.quick else 8)
    keras.utils.set_random_seed(0)
    x_train, y_train, x_test, y_test, data = _data.load_arrays(
        args,
        max_train=512 if args.quick else None,
        max_test=256 if args.quick else None,
    )
    print(
        f"{data.name}: {len(x_train)} train / {len(x_test)} test images of "
        f"{x_train.shape[1:]}"
    )
    model = build_model(x_train.shape[1:], data.num_classes)
    model.compile(
        optimizer=keras.optimizers.Adam(2e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=2)
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    predictions = np.argmax(model.predict(x_test, verbose=0), axis=-1)
    assert np.isclose(np.mean(predictions == y_test), accuracy, atol=1e-6)
    print(f"test accuracy: {accuracy:.4f}")


if __name__ == "__main__":
    main()
