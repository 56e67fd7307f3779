"""Data for the examples: a TFDS image-classification dataset as NumPy arrays.

Every example takes the same options (`--dataset`, `--data-dir`,
`--image-size`, `--quick`) and loads its data with
`keras_tricks.datasets.load`: "digits" (scikit-learn's 8x8 digits written once
as a local TFDS dataset, no network) by default, or any TFDS
image-classification name ("mnist", "cifar10", "tf_flowers", ...), downloaded
once into `--data-dir`.
"""

import numpy as np

import keras_tricks


def add_arguments(parser, image_size):
    """Add `--dataset`, `--data-dir`, `--image-size` and `--quick` to `parser`."""
    parser.add_argument(
        "--dataset",
        default="digits",
        help='"digits" (offline, the default) or a TFDS image-classification name '
        '("mnist", "cifar10", "tf_flowers", ...; downloaded once)',
    )
    parser.add_argument(
        "--data-dir",
        default=None,
        help="where TFDS keeps datasets (default: TFDS's own, ~/tensorflow_datasets)",
    )
    parser.add_argument(
        "--image-size",
        type=int,
        default=image_size,
        help="side in pixels that images are resized to when the dataset's are not "
        "that size already (default: %(default)s, the digits' size)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a run of a few seconds (fewer images, epochs and steps), as CI runs it",
    )


def load_arrays(args, max_train=None, max_test=None):
    """`(x_train, y_train, x_test, y_test, data)` from the options in `args`.

    Images are float32 in [0, 1] of shape `(n, size, size, channels)`, resized
    to `args.image_size` only where the dataset's images are another size;
    labels are int64. `max_train` and `max_test` keep the first images of each
    split. `data` is the `keras_tricks.datasets.ImageData` (class count,
    names).
    """
    if args.image_size < 1:
        raise SystemExit(f"--image-size must be >= 1. Received: {args.image_size}")
    try:
        data = keras_tricks.datasets.load(args.dataset, data_dir=args.data_dir)
    except (ValueError, RuntimeError) as error:
        raise SystemExit(f"error: {error}") from None
    height, width = data.input_shape[:2]
    size = args.image_size
    resize = (height, width) != (size, size)

    def to_arrays(dataset, limit):
        import tensorflow as tf

        if limit is not None:
            dataset = dataset.take(limit)

        def convert(image, label):
            image = tf.cast(image, "float32") / 255.0
            if resize:
                image = tf.image.resize(image, (size, size), antialias=True)
                image = tf.clip_by_value(image, 0.0, 1.0)
            return image, label

        images, labels = [], []
        batches = dataset.map(convert, num_parallel_calls=tf.data.AUTOTUNE).batch(1024)
        for x, y in batches.as_numpy_iterator():
            images.append(x)
            labels.append(y)
        return np.concatenate(images), np.concatenate(labels).astype("int64")

    x_train, y_train = to_arrays(data.train, max_train)
    x_test, y_test = to_arrays(data.test, max_test)
    return x_train, y_train, x_test, y_test, data
