"""Run keras_tricks.diagnostics on a healthy model and on planted faults (sklearn digits).

    python3 examples/diagnostics.py

Prints a table `fault | check | caught`. Runs offline in about a minute on CPU.
"""

import os
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import ops  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402

from keras_tricks import diagnostics  # noqa: E402


class StopGradient(keras.layers.Layer):
    def call(self, inputs):
        return ops.stop_gradient(inputs)


class BatchMix(keras.layers.Layer):
    def call(self, inputs):
        return ops.reshape(ops.transpose(inputs), ops.shape(inputs))


def mlp(output_activation="softmax", middle=None, head_trainable=True, optimizer=None):
    inputs = keras.Input((64,))
    h = keras.layers.Dense(32, activation="relu", kernel_initializer="he_normal")(inputs)
    if middle is not None:
        h = middle(h)
    outputs = keras.layers.Dense(10, activation=output_activation, trainable=head_trainable)(h)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer or keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    return model


def main():
    keras.utils.set_random_seed(0)
    digits = load_digits()
    x, y = (digits.data / 16.0).astype("float32")[:600], digits.target[:600]
    rows = []
    healthy = diagnostics.diagnose(mlp(), (x, y), steps=60)
    print(healthy, "\n")
    rows.append(("none (healthy)", "diagnose: all checks pass", healthy.passed))
    cases = [
        ("gradient cut (stop_gradient + frozen head)", "overfit one batch",
         mlp(middle=StopGradient(), head_trainable=False), (x, y)),
        ("logits into a probability loss", "initial loss", mlp(output_activation=None), (x, y)),
        ("batch-mixing reshape", "batch dependence", mlp(middle=BatchMix()), (x, y)),
        ("labels shuffled against inputs", "input-independent baseline", mlp(),
         (x, np.random.default_rng(0).permutation(y))),
    ]
    for fault, check, model, data in cases:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report = diagnostics.diagnose(model, data, steps=60, baseline=check.startswith("input"))
        rows.append((fault, check, not report[check].passed))
    monitor = diagnostics.LossCurveMonitor(stop_on=["nan", "divergence"], warn=False)
    mlp(optimizer=keras.optimizers.SGD(10.0)).fit(
        x, y, epochs=2, batch_size=32, verbose=0, callbacks=[monitor]
    )
    rows.append(("learning rate 10", "LossCurveMonitor", bool(monitor.diagnoses)))
    monitor = diagnostics.LossCurveMonitor(warn=False)
    mlp().fit(x[:40], y[:40], validation_data=(x[300:], y[300:]), epochs=8, batch_size=8,
              verbose=0, callbacks=[monitor])
    rows.append(("tiny training set", "LossCurveMonitor (growing gap)",
                 "overfitting" in [d["name"] for d in monitor.diagnoses]))
    inputs = keras.Input((8, 8, 128))
    lint = diagnostics.lint_model(keras.Model(inputs, keras.layers.SeparableConv2D(256, 1)(inputs)))
    rows.append(("1x1 separable convolution", "lint_model", bool(lint.findings)))
    width = max(len(r[0]) for r in rows)
    check_width = max(len(r[1]) for r in rows)
    print(f"{'fault':<{width}} | {'check':<{check_width}} | caught")
    print(f"{'-' * width}-|-{'-' * check_width}-|-------")
    for fault, check, caught in rows:
        print(f"{fault:<{width}} | {check:<{check_width}} | {'yes' if caught else 'NO'}")


if __name__ == "__main__":
    main()
