"""Train one small CNN on sklearn's digits with Adam, SGD+momentum and each
keras_tricks optimizer, and save the loss curves as one PNG.

    python3 examples/optimizers.py [out/optimizers.png] [--epochs 8]

Offline: the 1797 8x8 digit images ship with scikit-learn. A couple of minutes
on 2 CPU cores.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from keras_tricks import optimizers  # noqa: E402


def cnn():
    keras.utils.set_random_seed(0)  # the same initial weights for every run
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="out/optimizers.png")
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args()
    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).reshape(-1, 8, 8, 1).astype("float32")
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.25, random_state=0, stratify=y
    )
    candidates = {
        "Adam": lambda: keras.optimizers.Adam(1e-3),
        "SGD+momentum": lambda: keras.optimizers.SGD(1e-2, momentum=0.9),
    }
    for name in optimizers.list_optimizers():
        cls = type(optimizers.get(name))
        candidates[cls.__name__] = lambda cls=cls: cls(learning_rate=1e-3)
    plt.figure(figsize=(8, 5))
    for name, make in candidates.items():
        model = cnn()
        model.compile(
            optimizer=make(),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        history = model.fit(
            x_train, y_train, batch_size=32, epochs=args.epochs, verbose=0
        )
        losses = history.history["loss"]
        _, accuracy = model.evaluate(x_test, y_test, verbose=0)
        print(
            f"{name:<16} train loss {losses[0]:.3f} -> {losses[-1]:.3f}"
            f"   test accuracy {accuracy:.4f}"
        )
        style = "--" if name in ("Adam", "SGD+momentum") else "-"
        plt.plot(range(1, len(losses) + 1), losses, style, label=name)
    plt.xlabel("epoch")
    plt.ylabel("training loss")
    plt.yscale("log")
    plt.title("Small CNN on sklearn digits")
    plt.legend(fontsize=8)
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    plt.savefig(args.output, dpi=120, bbox_inches="tight")
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
