"""LR range test, then cyclical learning rates, on sklearn's digits (offline).

Runs Smith's LR range test on a small MLP, takes the CLR bounds it suggests,
trains with the `CyclicalLR` callback and saves two plots:

    python examples/cyclical_lr.py --out out/

writes out/lr_range_test.png and out/lr_over_training.png (about a minute on a
laptop CPU).
"""

import argparse
import os

import keras
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import keras_tricks


def make_model():
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
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
    parser.add_argument("--epochs", type=int, default=24)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    keras.utils.set_random_seed(0)

    digits = load_digits()
    x = (digits.data / 16.0).astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(
        x, digits.target, test_size=0.25, random_state=0, stratify=digits.target
    )
    batch_size = 32
    steps_per_epoch = len(x_train) // batch_size

    model = make_model()
    finder = keras_tricks.callbacks.LRFinder(1e-4, 10.0, num_steps=150, seed=0)
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
        epochs=args.epochs,
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
    loss_axes.plot(epochs_end, history.history["loss"], "o-", color="tab:orange", label="train")
    loss_axes.plot(epochs_end, history.history["val_loss"], "s--", color="tab:red", label="val")
    loss_axes.set_ylabel("loss")
    loss_axes.legend(loc="upper right")
    axes.set_title("Cyclical learning rate (triangular2) on digits")
    figure.tight_layout()
    curve_path = os.path.join(args.out, "lr_over_training.png")
    figure.savefig(curve_path, dpi=120)
    print(f"saved {range_path} and {curve_path}")


if __name__ == "__main__":
    main()
