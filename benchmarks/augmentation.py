"""Images per second of one augmentation policy in a tf.data pipeline on the CPU.

Policy: horizontal flip, rotation +/-10 degrees, zoom 0.8 to 1.2, translation
10 %, contrast 0.2, brightness 0.2, at 224x224, batches of 32, ``map`` on
batches. keras_tricks's two fused layers (``RandomAffine`` then
``RandomPhotometric``: one resample and one colour pass) against the chain of
six Keras core layers, in the same run on the same data. On TensorFlow the
fused layers run their pixel work as XLA kernels (compiled during the warm-up
batch, as the Keras layers' graphs are traced there).

    python3 benchmarks/augmentation.py [--batches 20] [--repeats 3]
"""

import argparse
import os
import time

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from keras_tricks import augment  # noqa: E402

SIZE, BATCH = 224, 32


def fused():
    geometric = augment.RandomAffine(
        horizontal_flip=True, rotation=10, zoom=0.2, translation=0.1, seed=0
    )
    photometric = augment.RandomPhotometric(brightness=0.2, contrast=0.2, seed=1)
    return lambda x: photometric(geometric(x))


def keras_chain():
    layers = [
        keras.layers.RandomFlip("horizontal", seed=0),
        keras.layers.RandomRotation(10 / 360, seed=1),
        keras.layers.RandomZoom(0.2, seed=2),
        keras.layers.RandomTranslation(0.1, 0.1, seed=3),
        keras.layers.RandomContrast(0.2, seed=4),
        keras.layers.RandomBrightness(0.2, seed=5),
    ]

    def run(x):
        for layer in layers:
            x = layer(x)
        return x

    return run


def throughput(policy, images, batches):
    ds = tf.data.Dataset.from_tensor_slices(images).repeat().batch(BATCH)
    ds = ds.map(policy, num_parallel_calls=tf.data.AUTOTUNE).prefetch(2)
    it = iter(ds)
    next(it)  # trace and warm up
    start = time.perf_counter()
    for _ in range(batches):
        next(it)
    return batches * BATCH / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(4 * BATCH, SIZE, SIZE, 3)).astype("float32")
    results = {"keras_tricks fused": [], "Keras chain": []}
    for _ in range(args.repeats):  # interleaved, so load changes hit both
        results["keras_tricks fused"].append(throughput(fused(), images, args.batches))
        results["Keras chain"].append(throughput(keras_chain(), images, args.batches))
    best = {name: max(values) for name, values in results.items()}
    print(
        f"{SIZE}x{SIZE}, batch {BATCH}, tf.data map on batches, CPU, "
        f"best of {args.repeats}"
    )
    print(f"{'pipeline':<22}{'images/s':>10}")
    for name, value in best.items():
        print(f"{name:<22}{value:>10.1f}")
    print(
        f"ratio fused / chain: {best['keras_tricks fused'] / best['Keras chain']:.2f}x"
    )


if __name__ == "__main__":
    main()
