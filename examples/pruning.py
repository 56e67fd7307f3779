"""Magnitude pruning of a small CNN on a TFDS image dataset.

1. Train a dense baseline.
2. Prune it to 80% weight sparsity with `PolynomialDecay` while fine-tuning;
   compare test accuracy; compare the gzip-compressed `.keras` file of the
   stripped model with the dense one.
3. Unit-prune half of the filters and hidden units, fine-tune, `shrink`:
   fewer parameters, the same outputs as before shrinking, faster CPU inference.

Run: python3 examples/pruning.py   (about 1-2 minutes on 2 CPU cores)

The data is scikit-learn's 8x8 digits (offline) loaded through
tensorflow-datasets by default, or any TFDS image-classification name with
`--dataset`; `--quick` trains for a few epochs on fewer images, in seconds.
"""

import argparse
import gzip
import os
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import _data  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_tricks  # noqa: E402
from keras_tricks.callbacks import Pruning  # noqa: E402
from keras_tricks.pruning import (  # noqa: E402
    ConstantSparsity,
    PolynomialDecay,
    prune_low_magnitude,
    shrink,
    sparsity_report,
    strip_pruning,
)

BATCH = 32


def cnn(input_shape, num_classes):
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu", name="conv1"),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv2"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(128, activation="relu", name="hidden"),
            keras.layers.Dense(num_classes, name="logits"),
        ]
    )


def compile_(model, learning_rate):
    model.compile(
        keras.optimizers.Adam(learning_rate),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def accuracy(model, x, y):
    return float(np.mean(np.argmax(model.predict(x, verbose=0), -1) == y))


def gzip_size(model, directory, name):
    """Bytes of the gzip-compressed `.keras` file, weights only (no optimizer)."""
    plain = keras.models.clone_model(model)
    plain.set_weights(model.get_weights())
    model = plain
    path = os.path.join(directory, f"{name}.keras")
    model.save(path)
    with open(path, "rb") as f:
        return len(gzip.compress(f.read(), 9))


def median_latency(model, x, repeats=50):
    model.predict_on_batch(x)  # trace once
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(x)
        times.append(time.perf_counter() - start)
    return float(np.median(times)) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _data.add_arguments(parser, image_size=8)
    args = parser.parse_args()
    # Epochs: dense training, pruning (sparsity rising, then fine-tuning at
    # the final masks), unit pruning; and timing repeats.
    if args.quick:
        dense_epochs, ramp_epochs, prune_epochs, unit_epochs, repeats = 2, 2, 3, 1, 5
    else:
        dense_epochs, ramp_epochs, prune_epochs, unit_epochs, repeats = 15, 6, 10, 8, 50
    keras.utils.set_random_seed(0)
    x_train, y_train, x_test, y_test, data = _data.load_arrays(
        args,
        max_train=512 if args.quick else None,
        max_test=256 if args.quick else None,
    )
    steps_per_epoch = int(np.ceil(len(x_train) / BATCH))

    dense = compile_(cnn(x_train.shape[1:], data.num_classes), 2e-3)
    dense.fit(x_train, y_train, batch_size=BATCH, epochs=dense_epochs, verbose=0)
    dense_acc = accuracy(dense, x_test, y_test)

    # Weight pruning to 80%: sparsity rises over 6 epochs, then 4 more epochs
    # of fine-tuning at the final masks (2 and 1 with --quick).
    schedule = PolynomialDecay(
        0.0,
        0.8,
        begin_step=0,
        end_step=ramp_epochs * steps_per_epoch,
        frequency=max(steps_per_epoch // 4, 1),
    )
    pruned = compile_(prune_low_magnitude(dense, schedule), 1e-3)
    pruned.fit(
        x_train,
        y_train,
        batch_size=BATCH,
        epochs=prune_epochs,
        callbacks=[Pruning()],
        verbose=0,
    )
    stripped = strip_pruning(pruned)
    pruned_acc = accuracy(stripped, x_test, y_test)
    report = sparsity_report(stripped)

    # Unit pruning: half of the filters of conv1/conv2 and of the hidden units,
    # then shrink. The logits layer is left dense (its units are the classes).
    units = prune_low_magnitude(
        dense,
        ConstantSparsity(0.5, begin_step=0, frequency=steps_per_epoch),
        granularity="unit",
        unit_norm="l2",
        layers=["conv1", "conv2", "hidden"],
    )
    compile_(units, 1e-3).fit(
        x_train,
        y_train,
        batch_size=BATCH,
        epochs=unit_epochs,
        callbacks=[Pruning()],
        verbose=0,
    )
    unit_stripped = strip_pruning(units)
    small = shrink(unit_stripped)
    before = unit_stripped.predict(x_test, verbose=0)
    after = small.predict(x_test, verbose=0)
    max_diff = float(np.max(np.abs(before - after)))
    unit_acc = accuracy(small, x_test, y_test)

    batch = np.concatenate([x_test] * 4)[:1024]
    with tempfile.TemporaryDirectory() as directory:
        dense_size = gzip_size(dense, directory, "dense")
        sparse_size = gzip_size(stripped, directory, "pruned")
        small_size = gzip_size(small, directory, "shrunk")
    dense_ms = median_latency(dense, batch, repeats)
    unit_ms = median_latency(unit_stripped, batch, repeats)
    small_ms = median_latency(small, batch, repeats)

    rows = [
        ("dense baseline", dense_acc, dense.count_params(), dense_size, dense_ms, "-"),
        (
            "80% weight-pruned, stripped",
            pruned_acc,
            stripped.count_params(),
            sparse_size,
            "-",
            f"{report[-1]['sparsity']:.1%} zeros",
        ),
        (
            "50% unit-pruned, stripped",
            accuracy(unit_stripped, x_test, y_test),
            unit_stripped.count_params(),
            "-",
            unit_ms,
            "-",
        ),
        (
            "50% unit-pruned, shrunk",
            unit_acc,
            small.count_params(),
            small_size,
            small_ms,
            f"max |diff| {max_diff:.2e}",
        ),
    ]
    header = (
        "model",
        "test acc",
        "params",
        "gzip bytes",
        f"CPU ms/{len(batch)}",
        "note",
    )
    table = [header] + [
        (
            r[0],
            f"{r[1]:.4f}",
            str(r[2]),
            str(r[3]),
            r[4] if isinstance(r[4], str) else f"{r[4]:.2f}",
            r[5],
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for i, row in enumerate(table):
        print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        if i == 0:
            print("-+-".join("-" * w for w in widths))
    print()
    print(
        "accuracy drop at 80% sparsity: "
        f"{100 * (dense_acc - pruned_acc):.2f} points (goal <= 1)"
    )
    print(f"gzip size, pruned / dense: {sparse_size / dense_size:.2f}")
    print(f"CPU inference, shrunk / unit-pruned: {small_ms / unit_ms:.2f}")
    print(f"{data.name}: {len(x_train)} train / {len(x_test)} test images")
    print(f"keras_tricks {keras_tricks.__version__}, keras {keras.__version__}")


if __name__ == "__main__":
    main()
