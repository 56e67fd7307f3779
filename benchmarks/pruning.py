"""Training-step time with pruning active against the same model without it.

Two workloads, each printed with its ratio (goal: <= 1.10):

- `cnn`: a small CNN on 8x8x1 inputs shaped like the sklearn digits (widened
  so a step costs a few milliseconds), batch 64, masks updated every 100
  steps.
- `mlp`: the workload TensorFlow Model Optimization was measured on, a
  784 -> 1024 -> 1024 -> 1024 -> 10 MLP, batch 256, masks updated every 10
  steps (tfmot on tf_keras took 3.90x the unpruned step there).

Both use Adam and `PolynomialDecay(0.0, 0.8)` up to the last timed step. The
pruned model is wrapped by `prune_low_magnitude` (every Conv2D and Dense) and
trained with the `Pruning` callback, so its time includes all that pruning
costs in `fit()`: the mask constraint after every optimizer step, the
callback's per-batch step check, and the mask updates themselves.

Two model instances with the same weights can run at steadily different
speeds on a shared CPU (memory placement), so each side builds
`--instances` of them, and one warm-up epoch then `--repeats` timed epochs of
`--steps` steps run for every instance, interleaved (plain 1, pruned 1,
plain 2, pruned 2, ...), so that a busy machine slows both sides alike.
Printed per workload: the median epoch time per step of each side and their
ratio, the median over epochs of (pruned epoch / the plain epoch run just
before it), which cancels most of the load that other processes put on a
shared machine, and the ratio of median process CPU time per step.
Example:

    python benchmarks/pruning.py --repeats 7
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


def _mlp():
    return keras.Sequential(
        [keras.Input((784,))]
        + [keras.layers.Dense(1024, activation="relu") for _ in range(3)]
        + [keras.layers.Dense(10)]
    )


WORKLOADS = {
    # name: (model, input shape, batch, mask update frequency, description)
    "cnn": (_cnn, (8, 8, 1), 64, 100, "CNN 8x8x1 -> 32c3 -> 64c3 -> pool -> 128 -> 10"),
    "mlp": (_mlp, (784,), 256, 10, "MLP 784 -> 3x1024 -> 10"),
}


def _compile(model):
    model.compile(
        keras.optimizers.Adam(1e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def run(name, steps, repeats, instances):
    """Median and best ms/step of each side, and the number of mask updates."""
    build, shape, batch, frequency, description = WORKLOADS[name]
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    n = steps * batch
    x = rng.random((n, *shape)).astype("float32")
    y = rng.integers(0, 10, n)
    schedule = PolynomialDecay(
        0.0, 0.8, begin_step=0, end_step=steps * (repeats + 1), frequency=frequency
    )
    base = build()
    runs = []
    for _ in range(instances):
        plain = build()
        plain.set_weights(base.get_weights())
        runs.append(("plain", _compile(plain), []))
        runs.append(
            ("pruned", _compile(prune_low_magnitude(base, schedule)), [Pruning()])
        )
    times = {"plain": [], "pruned": []}
    cpu = {"plain": [], "pruned": []}
    for repeat in range(repeats + 1):
        for side, model, callbacks in runs:
            start, start_cpu = time.perf_counter(), time.process_time()
            model.fit(
                x,
                y,
                batch_size=batch,
                epochs=1,
                shuffle=False,
                callbacks=callbacks,
                verbose=0,
            )
            elapsed, elapsed_cpu = (
                time.perf_counter() - start,
                time.process_time() - start_cpu,
            )
            if repeat > 0:  # the first epoch traces and compiles
                times[side].append(elapsed / steps * 1e3)
                cpu[side].append(elapsed_cpu / steps * 1e3)
    updates = len(range(steps, steps * (repeats + 1), frequency))
    return description, batch, frequency, updates, times, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workloads", default="cnn,mlp")
    parser.add_argument("--steps", type=int, default=30, help="steps per epoch")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--instances", type=int, default=2)
    args = parser.parse_args()

    print(
        "| workload | batch | masks every | without pruning ms/step | pruning active "
        "ms/step | ratio of medians | median of paired ratios | CPU-time ratio |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name in args.workloads.split(","):
        description, batch, frequency, updates, times, cpu = run(
            name, args.steps, args.repeats, args.instances
        )
        plain, pruned = times["plain"], times["pruned"]
        plain_ms, pruned_ms = statistics.median(plain), statistics.median(pruned)
        # Each pruned epoch against the plain epoch run just before it on an
        # instance built the same way: the two saw nearly the same load.
        paired = statistics.median(p / q for p, q in zip(pruned, plain, strict=True))
        cpu_ratio = statistics.median(cpu["pruned"]) / statistics.median(cpu["plain"])
        print(
            f"| {description} | {batch} | {frequency} steps ({updates} updates timed) "
            f"| {plain_ms:.2f} | {pruned_ms:.2f} | {pruned_ms / plain_ms:.2f} "
            f"| **{paired:.2f}** | {cpu_ratio:.2f} |",
            flush=True,
        )
    print(
        f"{args.instances} instances per side, {args.repeats} timed epochs of "
        f"{args.steps} steps each, interleaved; medians over all of them."
    )


if __name__ == "__main__":
    main()
