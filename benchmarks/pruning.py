"""Training-step time with pruning active against the same model without it.

Both models are the same CNN (on 8x8x1 inputs shaped like the sklearn digits,
widened so a step costs a few milliseconds) with the same weights, optimizer
(Adam) and data. The pruned one is wrapped by `prune_low_magnitude` (every
Conv2D and Dense) and trained with the `Pruning` callback and a
`PolynomialDecay` schedule that updates the masks every `--frequency` steps.
So its time includes what pruning costs in `fit()`: the mask constraint
applied after every optimizer step, the callback's per-batch step check, and
the mask updates themselves.

Each model runs one warm-up epoch, then `--repeats` timed epochs of
`--steps` steps, alternating between the two, so that a busy machine slows
both alike; the median and the best epoch time per step are printed with
their ratios (goal: <= 1.10). Example:

    python benchmarks/pruning.py --repeats 15
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_tricks.callbacks import Pruning  # noqa: E402
from keras_tricks.pruning import PolynomialDecay, prune_low_magnitude  # noqa: E402


def _cnn():
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(32, 3, padding="same", activation="relu"),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu"),
            keras.layers.Dense(10),
        ]
    )


def _compile(model):
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--frequency", type=int, default=100)
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n = args.steps * args.batch
    x = rng.random((n, 8, 8, 1)).astype("float32")
    y = rng.integers(0, 10, n)

    base = _cnn()
    schedule = PolynomialDecay(
        0.0, 0.8, begin_step=0, end_step=args.steps * (args.repeats + 1),
        frequency=args.frequency,
    )
    pruned = _compile(prune_low_magnitude(base, schedule))
    plain = _compile(base)
    runs = {
        "plain": (plain, []),
        "pruned": (pruned, [Pruning()]),
    }
    times = {name: [] for name in runs}
    for repeat in range(args.repeats + 1):
        for name, (model, callbacks) in runs.items():
            start = time.perf_counter()
            model.fit(x, y, batch_size=args.batch, epochs=1, shuffle=False,
                      callbacks=callbacks, verbose=0)
            elapsed = time.perf_counter() - start
            if repeat > 0:  # the first epoch traces and compiles
                times[name].append(elapsed / args.steps * 1e3)
    plain_ms = statistics.median(times["plain"])
    pruned_ms = statistics.median(times["pruned"])
    plain_min, pruned_min = min(times["plain"]), min(times["pruned"])
    mask_updates = args.steps * args.repeats // args.frequency
    print(f"CNN 8x8x1 -> 32c3 -> 64c3 -> pool -> 128 -> 10, batch {args.batch}, "
          f"{args.steps} steps/epoch, {mask_updates} mask updates in the timed epochs, "
          f"median of {args.repeats} epochs")
    print("| model | median ms/step | ratio | best ms/step | ratio |")
    print("|---|---|---|---|---|")
    print(f"| without pruning | {plain_ms:.2f} | 1.00 | {plain_min:.2f} | 1.00 |")
    print(
        f"| pruning active (`Pruning` callback) | {pruned_ms:.2f} | "
        f"{pruned_ms / plain_ms:.2f} | {pruned_min:.2f} | {pruned_min / plain_min:.2f} |"
    )


if __name__ == "__main__":
    main()
