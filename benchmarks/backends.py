"""One fit epoch of a small CNN on the current backend: Keras's pieces vs ours.

The anchor is a small conv net built from Keras core only
(``keras.layers.GroupNormalization`` and ``keras.optimizers.Adam``). Each
variant swaps one piece for keras_tricks's (a normalization layer or an
optimizer) and leaves everything else as it is, so the ratio of their epoch
times (ours / Keras, lower is better) is what our piece costs on this backend.
Run it once per backend:

    KERAS_BACKEND=tensorflow python benchmarks/backends.py
    KERAS_BACKEND=jax python benchmarks/backends.py
    KERAS_BACKEND=torch python benchmarks/backends.py

Every model is first fit one epoch (tracing, compilation), then the models are
timed in interleaved rounds of one epoch each; a row's ratio is the median
over the rounds of its epoch time over the anchor's in the same round, which
holds steady while a shared machine's load drifts.

``--profile NAME`` (a variant's name, e.g. ``GroupNormalization``) then runs one
more epoch of that variant and of the anchor under cProfile and prints, for
each, the functions that took the most time and the share spent in
keras_tricks's own files.
"""

import argparse
import cProfile
import os
import pstats
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

import keras_tricks  # noqa: E402

ANCHOR = "Keras (GroupNormalization, Adam)"


def _keras_norm():
    return keras.layers.GroupNormalization(groups=4)


def variants():
    """``{name: (make_norm, make_optimizer)}``: the anchor, then one swap each."""
    adam = keras.optimizers.Adam
    ours = keras_tricks.optimizers
    return {
        ANCHOR: (_keras_norm, adam),
        "GroupNormalization": (
            lambda: keras_tricks.layers.GroupNormalization(groups=4),
            adam,
        ),
        "InstanceNormalization vs groups=-1": (
            keras_tricks.layers.InstanceNormalization,
            adam,
        ),
        "AdaBelief": (_keras_norm, ours.AdaBelief),
        "RAdam": (_keras_norm, ours.RAdam),
        "AdamInject": (_keras_norm, ours.AdamInject),
        "DiffGrad": (_keras_norm, ours.DiffGrad),
        "AngularGrad": (_keras_norm, ours.AngularGrad),
    }


def _instance_anchor():
    """Keras's instance normalization: one channel per group."""
    return keras.layers.GroupNormalization(groups=-1)


def build_model(make_norm, make_optimizer, input_shape, classes=10):
    """Conv(16), norm, ReLU, Conv(32, stride 2), norm, ReLU, pool, Dense."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input(input_shape)
    x = keras.layers.Conv2D(16, 3, padding="same")(inputs)
    x = keras.layers.ReLU()(make_norm()(x))
    x = keras.layers.Conv2D(32, 3, strides=2, padding="same")(x)
    x = keras.layers.ReLU()(make_norm()(x))
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(classes)(x)
    model = keras.Model(inputs, outputs)
    model.compile(
        optimizer=make_optimizer(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _epoch_seconds(model, x, y, batch_size):
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch_size, epochs=1, shuffle=False, verbose=0)
    return time.perf_counter() - start


def time_models(models, x, y, batch_size, rounds):
    """``{name: [seconds per round]}``, every model warmed up first."""
    for model in models.values():
        _epoch_seconds(model, x, y, batch_size)
    times = {name: [] for name in models}
    for _ in range(rounds):
        for name, model in models.items():
            times[name].append(_epoch_seconds(model, x, y, batch_size))
    return times


def ratio_to_anchor(times, name, anchor):
    """Median over the rounds of ``times[name][r] / times[anchor][r]``."""
    return statistics.median(
        t / a for t, a in zip(times[name], times[anchor], strict=True)
    )


def profile_epoch(model, x, y, batch_size, top):
    """cProfile one epoch; print the top functions and keras_tricks's share."""
    profiler = cProfile.Profile()
    profiler.enable()
    _epoch_seconds(model, x, y, batch_size)
    profiler.disable()
    stats = pstats.Stats(profiler)
    package = os.path.dirname(keras_tricks.__file__)
    total = sum(row[2] for row in stats.stats.values())  # own time of every function
    ours = sum(row[2] for key, row in stats.stats.items() if key[0].startswith(package))
    print(f"  own time in keras_tricks files: {ours:.3f} s of {total:.3f} s")
    stats.sort_stats("tottime").print_stats(top)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed epochs per model")
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--image-size", type=int, default=16)
    parser.add_argument("--profile", default=None, help="a variant's name to profile")
    parser.add_argument("--top", type=int, default=25, help="rows of the profile")
    parser.add_argument(
        "--only", default=None, help="comma-separated variant names (with the anchor)"
    )
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    shape = (args.image_size, args.image_size, 3)
    x = rng.standard_normal((args.samples, *shape)).astype("float32")
    y = rng.integers(0, 10, size=(args.samples,))
    table = variants()
    if args.only:
        names = [ANCHOR, *args.only.split(",")]
        table = {name: table[name] for name in names}
    models = {
        name: build_model(norm, opt, shape) for name, (norm, opt) in table.items()
    }
    instance_anchor = "Keras GroupNormalization(groups=-1)"
    if "InstanceNormalization vs groups=-1" in table:
        models[instance_anchor] = build_model(
            _instance_anchor, keras.optimizers.Adam, shape
        )
    times = time_models(models, x, y, args.batch_size, args.rounds)

    steps = -(-args.samples // args.batch_size)
    print(
        f"backend {keras.backend.backend()}, keras {keras.__version__}, "
        f"{steps} steps of {args.batch_size} per epoch, {args.rounds} rounds, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    print(f"{'model':40s} {'epoch ms':>9s} {'ours / Keras':>13s}")
    for name in models:
        anchor = instance_anchor if name.startswith("InstanceNormalization") else ANCHOR
        ratio = (
            ""
            if name in (ANCHOR, instance_anchor)
            else f"{ratio_to_anchor(times, name, anchor):.2f}"
        )
        print(f"{name:40s} {1000 * statistics.median(times[name]):9.1f} {ratio:>13s}")

    if args.profile:
        for name in (ANCHOR, args.profile):
            print(f"\nprofile of one epoch: {name}")
            profile_epoch(models[name], x, y, args.batch_size, args.top)


if __name__ == "__main__":
    main()
