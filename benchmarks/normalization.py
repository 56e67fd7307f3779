"""Forward+backward time of keras_tricks's normalizations against Keras's.

Times, in one run and on the same input (16x64x64x64 float32, channels-last,
by default), the gradient of a scalar loss through each layer with respect to
its input and weights, inside one ``tf.function``:

- ``keras_tricks.layers.GroupNormalization(groups=8)`` against
  ``keras.layers.GroupNormalization(groups=8)``;
- ``keras_tricks.layers.InstanceNormalization()`` against
  ``keras.layers.GroupNormalization(groups=-1)`` (one channel per group).

Each pair is warmed up, then timed ``--repeats`` times, alternating; the median is
printed with the ratio to Keras's layer. Needs the TensorFlow backend. Example:

    python benchmarks/normalization.py --repeats 30
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_tricks  # noqa: E402


def _step_fn(layer, x):
    layer.build(x.shape)
    weights = [w.value for w in layer.trainable_weights]

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
            loss = tf.reduce_sum(y * y)
        return tape.gradient(loss, [x] + weights)

    return step


def _load():
    """The 1-minute load average (other processes slow both layers alike)."""
    return f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"


def time_pair(theirs, ours, x, warmup, repeats):
    """Median seconds of one forward+backward of each layer on ``x``.

    The two layers run alternately, so a load that comes and goes on a shared
    machine slows both alike and the ratio stays meaningful.
    """
    steps = [_step_fn(theirs, x), _step_fn(ours, x)]
    for _ in range(warmup):
        for step in steps:
            [g.numpy() for g in step(x)]
    times = [[], []]
    for _ in range(repeats):
        for step, record in zip(steps, times, strict=False):
            start = time.perf_counter()
            [g.numpy() for g in step(x)]
            record.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30, help="timed runs per layer")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs first")
    parser.add_argument(
        "--shape", type=int, nargs=4, default=(16, 64, 64, 64), help="N H W C"
    )
    args = parser.parse_args()

    x = tf.constant(np.random.default_rng(0).normal(size=args.shape).astype("float32"))
    cases = [
        (
            "GroupNormalization(groups=8)",
            keras.layers.GroupNormalization(groups=8),
            keras_tricks.layers.GroupNormalization(groups=8),
        ),
        (
            "InstanceNormalization (Keras: groups=-1)",
            keras.layers.GroupNormalization(groups=-1),
            keras_tricks.layers.InstanceNormalization(),
        ),
    ]
    print(
        f"input {tuple(args.shape)} float32, forward+backward in tf.function, "
        f"median of {args.repeats} runs after {args.warmup} warmup, "
        f"TF {tf.__version__}, Keras {keras.__version__}"
    )
    print(f"load average before: {_load()}")
    print(f"{'layer':42s} {'keras ms':>9s} {'ours ms':>9s} {'ratio':>6s}")
    for name, theirs, ours in cases:
        t_keras, t_ours = time_pair(theirs, ours, x, args.warmup, args.repeats)
        print(
            f"{name:42s} {t_keras * 1e3:9.2f} {t_ours * 1e3:9.2f} "
            f"{t_ours / t_keras:6.2f}"
        )
    print(f"load average after: {_load()} ({os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
