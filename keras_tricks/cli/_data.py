"""The command's data: a TFDS dataset, resized, split and batched."""

import dataclasses

import tensorflow as tf

from keras_tricks import datasets

# Images larger than this (or of varying sizes) are resized by default.
_LARGEST_NATIVE_SIZE = 64
_VALIDATION_FRACTION = 0.1
# Datasets whose resized float images fit in this many bytes are cached in memory.
_CACHE_BYTES = 2 * 1024**3


@dataclasses.dataclass
class Splits:
    """Batched `tf.data` pipelines of `(float32 image in [0, 255], int64 label)`.

    `train_examples` and `validation_examples` are the same, unbatched (for a
    hypermodel that draws its own batch size).
    """

    name: str
    train: object
    validation: object
    test: object
    num_classes: int
    input_shape: tuple
    class_names: list
    num_train: int
    num_validation: int
    num_test: int
    resized: bool
    train_examples: object
    validation_examples: object


def image_size(input_shape, requested):
    """The side the images are resized to, or `None` to keep them as they are."""
    if requested is not None:
        return requested
    height, width = input_shape[0], input_shape[1]
    if height is None or width is None or max(height, width) > _LARGEST_NATIVE_SIZE:
        return _LARGEST_NATIVE_SIZE
    return None


def load(args):
    """Load `args.dataset` and make the three batched splits.

    Raises:
        ValueError, RuntimeError, ImportError: from `keras_tricks.datasets.load`
            (unknown name, no network, tensorflow-datasets missing).
    """
    data = datasets.load(args.dataset, data_dir=args.data_dir)
    size = image_size(data.input_shape, args.image_size)
    channels = data.input_shape[2]
    shape = (size, size, channels) if size else tuple(data.input_shape)

    def to_float(image, label):
        image = tf.cast(image, "float32")
        if size:
            image = tf.image.resize(image, (size, size))
        return tf.ensure_shape(image, shape), label

    num_train, num_test = data.num_train, data.num_test
    train = data.train
    if args.max_train is not None and num_train > args.max_train:
        num_train = args.max_train
        train = train.take(num_train)
    test = data.test
    if args.max_test is not None and num_test > args.max_test:
        num_test = args.max_test
        test = test.take(num_test)
    # A fixed shuffle before the split, so the validation set is a sample of
    # every class even when the training split is ordered.
    train = train.shuffle(
        min(num_train, 10_000), seed=args.seed, reshuffle_each_iteration=False
    )
    num_validation = max(1, int(round(num_train * _VALIDATION_FRACTION)))
    validation = train.take(num_validation)
    train = train.skip(num_validation)
    num_train -= num_validation

    bytes_per_image = 4 * shape[0] * shape[1] * shape[2]
    cache = (num_train + num_validation + num_test) * bytes_per_image <= _CACHE_BYTES
    autotune = tf.data.AUTOTUNE

    # One worker: sharding by file or data is pointless and only warns.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.OFF
    )

    def examples(dataset, shuffle):
        dataset = dataset.map(to_float, num_parallel_calls=autotune)
        if cache:
            dataset = dataset.cache()
        if shuffle:
            dataset = dataset.shuffle(min(num_train, 10_000), seed=args.seed)
        return dataset.with_options(options)

    def pipeline(dataset):
        dataset = dataset.batch(args.batch_size).prefetch(autotune)
        if cache:  # fill the cache now: a partial read of a cache discards it
            for _ in dataset:
                pass
        return dataset

    train_examples = examples(train, shuffle=True)
    validation_examples = examples(validation, shuffle=False)

    return Splits(
        name=data.name,
        train=pipeline(train_examples),
        validation=pipeline(validation_examples),
        test=pipeline(examples(test, shuffle=False)),
        num_classes=data.num_classes,
        input_shape=shape,
        class_names=list(data.class_names),
        num_train=num_train,
        num_validation=num_validation,
        num_test=num_test,
        resized=bool(size),
        train_examples=train_examples,
        validation_examples=validation_examples,
    )
