"""Run keras_tricks.diagnostics on a healthy model and on planted faults.

    python3 examples/diagnostics.py

Prints a table `fault | check | caught`. Runs offline in about a minute on CPU,
on scikit-learn's 8x8 digits loaded through tensorflow-datasets (or any TFDS
image-classification name with `--dataset`); `--quick` runs shorter checks.
"""

import argparse
import os
import warnings

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import _data  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402

from keras_tricks import diagnostics  # noqa: E402


class StopGradient(keras.layers.Layer):
    def call(self, inputs):
        return ops.stop_gradient(inputs)


class BatchMix(keras.layers.Layer):
    def call(self, inputs):
        return ops.reshape(ops.transpose(inputs), ops.shape(inputs))


def make_mlp(
    num_features,
    num_classes,
    output_activation="softmax",
    middle=None,
    head_trainable=True,
    optimizer=None,
):
    inputs = keras.Input((num_features,))
    h = keras.layers.Dense(32, activation="relu", kernel_initializer="he_normal")(
        inputs
    )
    if middle is not None:
        h = middle(h)
    outputs = keras.layers.Dense(
        num_classes, activation=output_activation, trainable=head_trainable
    )(h)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer or keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy"
    )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _data.add_arguments(parser, image_size=8)
    args = parser.parse_args()
    steps = 30 if args.quick else 60
    keras.utils.set_random_seed(0)
    images, y, _, _, info = _data.load_arrays(args, max_train=600, max_test=1)
    x = images.reshape(len(images), -1)  # the MLP sees each image as one flat vector

    def mlp(**kwargs):
        return make_mlp(x.shape[1], info.num_classes, **kwargs)

    rows = []
    healthy = diagnostics.diagnose(mlp(), (x, y), steps=steps)
    print(healthy, "\n")
    rows.append(("none (healthy)", "diagnose: all checks pass", healthy.passed))
    cases = [
        (
            "gradient cut (stop_gradient + frozen head)",
            "overfit one batch",
            mlp(middle=StopGradient(), head_trainable=False),
            (x, y),
        ),
        (
            "logits into a probability loss",
            "initial loss",
            mlp(output_activation=None),
            (x, y),
        ),
        ("batch-mixing reshape", "batch dependence", mlp(middle=BatchMix()), (x, y)),
        (
            "labels shuffled against inputs",
            "input-independent baseline",
            mlp(),
            (x, np.random.default_rng(0).permutation(y)),
        ),
    ]
    for fault, check, model, data in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = diagnostics.diagnose(
                model, data, steps=steps, baseline=check.startswith("input")
            )
        rows.append((fault, check, not report[check].passed))
    # The same initial weights whatever ran before (and however many steps).
    keras.utils.set_random_seed(0)
    monitor = diagnostics.LossCurveMonitor(stop_on=["nan", "divergence"], warn=False)
    mlp(optimizer=keras.optimizers.SGD(10.0)).fit(
        x, y, epochs=2, batch_size=32, verbose=0, callbacks=[monitor]
    )
    rows.append(("learning rate 10", "LossCurveMonitor", bool(monitor.diagnoses)))
    monitor = diagnostics.LossCurveMonitor(warn=False)
    mlp().fit(
        x[:40],
        y[:40],
        validation_data=(x[300:], y[300:]),
        epochs=8,
        batch_size=8,
        verbose=0,
        callbacks=[monitor],
    )
    rows.append(
        (
            "tiny training set",
            "LossCurveMonitor (growing gap)",
            "overfitting" in [d["name"] for d in monitor.diagnoses],
        )
    )
    inputs = keras.Input((8, 8, 128))
    lint = diagnostics.lint_model(
        keras.Model(inputs, keras.layers.SeparableConv2D(256, 1)(inputs))
    )
    rows.append(("1x1 separable convolution", "lint_model", bool(lint.findings)))
    width = max(len(r[0]) for r in rows)
    check_width = max(len(r[1]) for r in rows)
    print(f"{'fault':<{width}} | {'check':<{check_width}} | caught")
    print(f"{'-' * width}-|-{'-' * check_width}-|-------")
    for fault, check, caught in rows:
        print(
            f"{fault:<{width}} | {check:<{check_width}} | {'yes' if caught else 'NO'}"
        )


if __name__ == "__main__":
    main()
