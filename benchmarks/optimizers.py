"""Time `apply_gradients` of each keras_tricks optimizer against Keras's Adam.

One run, one model of about 5M float32 parameters (a few large Dense-sized
kernels), each optimizer's step inside one `tf.function` (XLA-compiled, as
`fit` compiles it by default; `--no-jit` for plain graphs). After a warmup,
the optimizers are timed in interleaved rounds of three steps (a shared
machine's load then weighs on all alike); the median step is reported, with the
median over the rounds of the ratio to Adam within a round, the bytes
each step must move (every state tensor read and written, the variable read
and written, the gradient read) and the floor that the machine's measured copy
bandwidth puts under that.

    python3 benchmarks/optimizers.py [--steps 30] [--no-jit]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_tricks import optimizers  # noqa: E402

SHAPES = [(2048, 2048), (1024, 768), (768,), (768, 10)]
# Full-size tensors read once more by a pass the update cannot fuse into.
EXTRA_READS = {"AngularGrad": 3}


def copy_bandwidth(jit):
    """Bytes per second of `v.assign(x + 0)` on a 64 MiB array (read + write)."""
    x = tf.random.normal([16 * 1024 * 1024])
    target = tf.Variable(tf.zeros_like(x))
    copy = tf.function(lambda: target.assign(x + 0.0)[0], jit_compile=jit)
    for _ in range(3):
        copy().numpy()
    times = []
    for _ in range(20):
        start = time.perf_counter()
        copy().numpy()
        times.append(time.perf_counter() - start)
    return 2 * x.shape[0] * 4 / np.median(times)


def prepare(make, jit):
    """Build `make()` on fresh variables; return its compiled step and the bytes it moves."""
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=s).astype("float32")) for s in SHAPES]
    grads = [tf.constant(rng.normal(size=s).astype("float32") * 1e-2) for s in SHAPES]
    optimizer = make()
    optimizer.build(variables)

    @tf.function(jit_compile=jit)
    def step():
        optimizer.apply_gradients(zip(grads, variables, strict=True))

    def run():
        step()
        variables[0].value.numpy()[0, 0]  # wait for the step to finish

    for _ in range(3):
        run()
    n = sum(int(np.prod(s)) for s in SHAPES)
    # Every optimizer variable but the scalar step counter and learning rate.
    state = sum(int(np.prod(v.shape)) * 4 for v in optimizer.variables if v.shape)
    # State read and written, variable read and written, gradient read.
    bytes_moved = 2 * state + 3 * 4 * n
    # AngularGrad decides per tensor whether its angle state moves, which needs
    # a full pass over g, g_prev and min_tangent before the update can start.
    bytes_moved += EXTRA_READS.get(type(optimizer).__name__, 0) * 4 * n
    return run, bytes_moved, n


def time_all(runs, steps, per_round=3):
    """Median step time of each run, and its median ratio to the first run.

    On a shared machine the load drifts. Every optimizer is timed a few steps
    at a time, round after round, and its ratio to the first run (Adam) is
    taken within each round, between steps timed moments apart; the median
    over the rounds is reported.
    """
    rounds = max(1, steps // per_round)
    times = [[] for _ in runs]
    round_medians = [[] for _ in runs]
    for _ in range(rounds):
        for i, run in enumerate(runs):
            current = []
            for _ in range(per_round):
                start = time.perf_counter()
                run()
                current.append(time.perf_counter() - start)
            times[i].extend(current)
            round_medians[i].append(np.median(current))
    anchor = np.array(round_medians[0])
    ratios = [float(np.median(np.array(r) / anchor)) for r in round_medians]
    return [float(np.median(t)) for t in times], ratios


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--no-jit", action="store_true")
    args = parser.parse_args()
    jit = not args.no_jit
    # Under plain graphs grappler drops the `+ 0` and nothing is copied, so the
    # floor is always measured under XLA: it is a property of the machine.
    bandwidth = copy_bandwidth(True)
    classes = [getattr(optimizers, name) for name in optimizers.__all__]
    candidates = [("keras Adam", keras.optimizers.Adam)] + [
        (cls.__name__, cls) for cls in classes if isinstance(cls, type)
    ]
    prepared = [prepare(make, jit) for _, make in candidates]
    seconds, ratios = time_all([run for run, _, _ in prepared], args.steps)
    rows = [
        (name, t, ratio, bytes_moved, n)
        for (name, _), t, ratio, (_, bytes_moved, n) in zip(
            candidates, seconds, ratios, prepared, strict=True
        )
    ]
    print(f"parameters: {rows[0][4]:,}  jit_compile={jit}  steps={args.steps}")
    print(f"copy bandwidth: {bandwidth / 1e9:.1f} GB/s")
    print(
        f"{'optimizer':<16} {'ms/step':>8} {'x Adam':>7} {'MB/step':>8} "
        f"{'floor ms':>8} {'x floor':>7}"
    )
    for name, seconds, ratio, bytes_moved, _ in rows:
        floor = bytes_moved / bandwidth
        print(
            f"{name:<16} {seconds * 1e3:8.2f} {ratio:7.2f} "
            f"{bytes_moved / 1e6:8.1f} {floor * 1e3:8.2f} {seconds / floor:7.2f}"
        )


if __name__ == "__main__":
    main()
