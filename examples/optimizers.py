"""Train one small CNN with Adam, SGD+momentum and each keras_tricks optimizer
on a TFDS image dataset, and save the loss curves as one PNG.

    python3 examples/optimizers.py [out/optimizers.png] [--epochs 8]
    python3 examples/optimizers.py --dataset cifar10 --image-size 32

Offline by default: scikit-learn's 1797 8x8 digit images, loaded through
tensorflow-datasets (`keras_tricks.datasets.load`). A couple of minutes on 2
CPU cores; `--quick` runs four of them for a few steps, in seconds.
"""

import argparse
import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import _data  # noqa: E402
import keras  # noqa: E402
import matplotlib  # noqa: E402
import numpy as np  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from keras_tricks import optimizers  # noqa: E402


def cnn(input_shape, num_classes):
    keras.utils.set_random_seed(0)  # the same initial weights for every run
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(16, 3, padding="same", activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(num_classes),
        ]
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", nargs="?", default="out/optimizers.png")
    parser.add_argument(
        "--epochs", type=int, default=None, help="default: 8 (2 with --quick)"
    )
    _data.add_arguments(parser, image_size=8)
    args = parser.parse_args()
    epochs = args.epochs or (2 if args.quick else 8)
    x_train, y_train, x_test, y_test, data = _data.load_arrays(
        args,
        max_train=512 if args.quick else None,
        max_test=256 if args.quick else None,
    )
    candidates = {
        "Adam": lambda: keras.optimizers.Adam(1e-3),
        "SGD+momentum": lambda: keras.optimizers.SGD(1e-2, momentum=0.9),
    }
    for name in optimizers.list_optimizers():
        cls = type(optimizers.get(name))
        candidates[cls.__name__] = lambda cls=cls: cls(learning_rate=1e-3)
    if args.quick:  # a smoke test: one of ours of each kind, not ten traced models
        candidates = {
            k: candidates[k]
            for k in ("Adam", "SGD+momentum", "AdaBelief", "RAdamInject")
        }
    plt.figure(figsize=(8, 5))
    for name, make in candidates.items():
        model = cnn(x_train.shape[1:], data.num_classes)
        model.compile(
            optimizer=make(),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        history = model.fit(x_train, y_train, batch_size=32, epochs=epochs, verbose=0)
        losses = history.history["loss"]
        if not np.all(np.isfinite(losses)):
            raise SystemExit(f"{name}: the training loss is not finite: {losses}")
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
    plt.title(f"Small CNN on {data.name}")
    plt.legend(fontsize=8)
    os.makedirs(os.path.dirname(args.output) or ".", exist_ok=True)
    plt.savefig(args.output, dpi=120, bbox_inches="tight")
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
