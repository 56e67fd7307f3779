"""LR range test, then cyclical learning rates, on a TFDS image dataset.

Runs Smith's LR range test on a small MLP, takes the CLR bounds it suggests,
trains with the `CyclicalLR` callback and saves two plots:

    python examples/cyclical_lr.py --out out/

writes out/lr_range_test.png and out/lr_over_training.png (about a minute on a
laptop CPU). The data is scikit-learn's 8x8 digits (offline) loaded through
tensorflow-datasets by default, or any TFDS image-classification name with
`--dataset`; `--quick` is a run of seconds.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import _data  # noqa: E402
import keras  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import keras_tricks  # noqa: E402


def make_model(num_features, num_classes):
    model = keras.Sequential(
        [
            keras.Input((num_features,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(num_classes),
        ]
    )
    model.compile(
        keras.optimizers.SGD(0.01, momentum=0.9),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="out", help="output directory (default: out/)")
    parser.add_argument(
        "--epochs", type=int, default=None, help="default: 24 (2 with --quick)"
    )
    _data.add_arguments(parser, image_size=8)
    args = parser.parse_args()
    epochs = args.epochs or (2 if args.quick else 24)
    os.makedirs(args.out, exist_ok=True)
    keras.utils.set_random_seed(0)

    x_train, y_train, x_test, y_test, data = _data.load_arrays(
        args,
        max_train=512 if args.quick else None,
        max_test=256 if args.quick else None,
    )
    # The MLP sees each image as one flat vector (64 grey levels for the digits).
    x_train = x_train.reshape(len(x_train), -1)
    x_test = x_test.reshape(len(x_test), -1)
    batch_size = 32
    steps_per_epoch = len(x_train) // batch_size

    model = make_model(x_train.shape[1], data.num_classes)
    num_steps = 40 if args.quick else 150
    finder = keras_tricks.callbacks.LRFinder(1e-4, 10.0, num_steps=num_steps, seed=0)
    result = finder.find(model, x_train, y_train, batch_size=batch_size)
    print(result)
    range_path = os.path.join(args.out, "lr_range_test.png")
    result.plot().savefig(range_path, dpi=120)

    # clr_bounds = (where the loss starts to fall, where it falls fastest):
    # the bounds to cycle in, as the plot shades them. The minimum of the
    # curve sits at the edge of divergence, so it is not the top bound.
    base, top = result.clr_bounds
    clr = keras_tricks.callbacks.CyclicalLR(
        base, top, step_size=4 * steps_per_epoch, mode="triangular2"
    )
    rates = []
    record = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: rates.append(logs["learning_rate"])
    )
    history = model.fit(
        x_train,
        y_train,
        batch_size=batch_size,
        epochs=epochs,
        validation_data=(x_test, y_test),
        callbacks=[clr, record],
        verbose=2,
    )
    _, accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(f"CLR bounds ({base:.3g}, {top:.3g}); test accuracy {accuracy:.4f}")

    figure = Figure(figsize=(7, 4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.plot(np.arange(len(rates)), rates, color="tab:blue")
    axes.set_xlabel("step")
    axes.set_ylabel("learning rate", color="tab:blue")
    loss_axes = axes.twinx()
    epochs_end = (np.arange(len(history.history["loss"])) + 1) * steps_per_epoch
    loss_axes.plot(
        epochs_end, history.history["loss"], "o-", color="tab:orange", label="train"
    )
    loss_axes.plot(
        epochs_end, history.history["val_loss"], "s--", color="tab:red", label="val"
    )
    loss_axes.set_ylabel("loss")
    loss_axes.legend(loc="upper right")
    axes.set_title(f"Cyclical learning rate (triangular2) on {data.name}")
    figure.tight_layout()
    curve_path = os.path.join(args.out, "lr_over_training.png")
    figure.savefig(curve_path, dpi=120)
    print(f"saved {range_path} and {curve_path}")


if __name__ == "__main__":
    main()
