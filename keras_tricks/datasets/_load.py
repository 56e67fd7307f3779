"""`load`: a TFDS image-classification dataset as unbatched `tf.data` pipelines."""

import dataclasses
import os

import numpy as np

from keras_tricks import _checks

# The offline dataset: scikit-learn's digits stored as a local TFDS dataset.
DIGITS = "digits"
_DIGITS_TFDS_NAME = "keras_tricks_digits"
_DIGITS_VERSION = "1.0.0"
_DIGITS_TEST_FRACTION = 0.2


@dataclasses.dataclass(frozen=True)
class ImageData:
    """An image-classification dataset, as `load` returns it.

    Attributes:
        name: str, the dataset's name as given to `load`.
        train: `tf.data.Dataset` of `(image, label)` pairs, unbatched; images
            are `uint8` of shape `input_shape`, labels `int64`.
        test: the same for the held-out split.
        num_classes: int, the number of classes.
        input_shape: tuple, `(height, width, channels)`; a size is `None`
            where the images differ (batch them after resizing).
        class_names: list of str.
        num_train: int, samples in `train`.
        num_test: int, samples in `test`.
    """

    name: str
    train: object
    test: object
    num_classes: int
    input_shape: tuple
    class_names: list
    num_train: int
    num_test: int


def load(name=DIGITS, data_dir=None, download=True):
    """Load an image-classification dataset through tensorflow-datasets.

    `"digits"` is built from scikit-learn's bundled digits (1797 images of
    8×8 grey levels, 10 classes; a fixed 80/20 split) into `data_dir` the
    first time, with no network, and read back with `tfds.load`. Any other
    name goes to `tfds.load` as it is: the dataset must have `image` and
    `label` features, and is downloaded once when
    `download` is true. A dataset with no `test` split keeps the last 20 % of
    `train` for it.

    Args:
        name: str, `"digits"` or a TFDS dataset name (`"mnist"`,
            `"cifar10"`, `"tf_flowers"`, ...). Defaults to `"digits"`.
        data_dir: str or `None`, where TFDS keeps datasets. Defaults to
            TFDS's own (`~/tensorflow_datasets` or `$TFDS_DATA_DIR`).
        download: bool, whether a missing TFDS dataset may be downloaded.

    Returns:
        An `ImageData`.

    Raises:
        ValueError: an unknown dataset name, or one that is not image
            classification.
        RuntimeError: the dataset is not on this machine and cannot be
            downloaded (no network, or `download=False`).

    Example:
    >>> data = keras_tricks.datasets.load()
    >>> data.input_shape, data.num_classes
    ((8, 8, 1), 10)
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"`name` must be a non-empty str. Received: name={name!r}")
    if data_dir is not None and not isinstance(data_dir, str | os.PathLike):
        raise TypeError(
            f"`data_dir` must be a str or a path. Received: data_dir={data_dir!r}"
        )
    _checks.check_bool("download", download)
    tfds = _import_tfds()
    if name == DIGITS:
        _store_digits(tfds, data_dir)
        return _read(tfds, _DIGITS_TFDS_NAME, DIGITS, data_dir, download=False)
    return _read(tfds, name, name, data_dir, download=download)


def _import_tfds():
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise ImportError(
            "keras_tricks.datasets needs tensorflow-datasets: "
            "pip install 'keras_tricks[datasets]'"
        ) from error
    return tfds


def _digits_arrays():
    from sklearn.datasets import load_digits

    digits = load_digits()
    # Grey levels 0..16 -> 0..255.
    images = np.clip(np.rint(digits.images * (255.0 / 16.0)), 0, 255).astype("uint8")
    images = images[..., None]
    labels = digits.target.astype("int64")
    order = np.random.default_rng(0).permutation(len(labels))
    images, labels = images[order], labels[order]
    num_test = int(round(len(labels) * _DIGITS_TEST_FRACTION))
    return {
        "train": (images[num_test:], labels[num_test:]),
        "test": (images[:num_test], labels[:num_test]),
    }


def _store_digits(tfds, data_dir):
    """Write the digits as a local TFDS dataset, once."""
    builder_dir = os.path.join(
        os.fspath(data_dir) if data_dir is not None else _default_data_dir(tfds),
        _DIGITS_TFDS_NAME,
        _DIGITS_VERSION,
    )
    if os.path.exists(os.path.join(builder_dir, "dataset_info.json")):
        return
    import tensorflow as tf

    splits = {
        split: tf.data.Dataset.from_tensor_slices({"image": images, "label": labels})
        for split, (images, labels) in _digits_arrays().items()
    }
    features = tfds.features.FeaturesDict(
        {
            "image": tfds.features.Image(shape=(8, 8, 1)),
            "label": tfds.features.ClassLabel(num_classes=10),
        }
    )
    tfds.dataset_builders.store_as_tfds_dataset(
        name=_DIGITS_TFDS_NAME,
        version=_DIGITS_VERSION,
        features=features,
        split_datasets=splits,
        data_dir=data_dir,
        description="scikit-learn's bundled 8x8 digits (UCI optdigits test set), grey "
        "levels scaled to 0-255, a fixed 80/20 split.",
    )


def _default_data_dir(tfds):
    return os.environ.get("TFDS_DATA_DIR") or os.fspath(tfds.core.constants.DATA_DIR)


def _read(tfds, tfds_name, name, data_dir, download):
    try:
        builder = tfds.builder(tfds_name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as error:
        raise ValueError(
            f"`name` must be 'digits' or a TFDS dataset name. Received: name={name!r}"
        ) from error
    info = builder.info
    features = info.features
    if not {"image", "label"} <= set(features.keys()) or not hasattr(
        features["label"], "num_classes"
    ):
        raise ValueError(
            "`name` must name an image-classification dataset "
            "(an `image` feature and a "
            f"`label` class feature); its features are {sorted(features.keys())}. "
            f"Received: name={name!r}"
        )
    if not _prepared(builder):
        if not download:
            raise RuntimeError(
                f"The dataset {name!r} is not in {builder.data_dir!s} "
                "and download=False."
            )
        try:
            builder.download_and_prepare()
        except Exception as error:  # noqa: BLE001 (network errors come in many types)
            raise RuntimeError(
                f"Could not download the dataset {name!r} ({type(error).__name__}: "
                f"{str(error).splitlines()[0] if str(error) else ''}). "
                "Without network, "
                "use name='digits'."
            ) from error
    # A dataset without a test split keeps the last 20 % of train for it.
    # (No split known at all: tfds.testing.mock_data, which serves any split.)
    names = set(info.splits.keys())
    if "test" in names or not names:
        train_split, test_split = "train", "test"
    else:
        train_split, test_split = "train[:80%]", "train[80%:]"
    train, test = tfds.load(
        tfds_name,
        split=[train_split, test_split],
        data_dir=data_dir,
        download=False,
        try_gcs=False,
    )
    train, test = (split.map(_image_and_label) for split in (train, test))
    label = features["label"]
    return ImageData(
        name=name,
        train=train,
        test=test,
        num_classes=int(label.num_classes),
        input_shape=tuple(features["image"].shape),
        class_names=list(label.names),
        num_train=_count(train),
        num_test=_count(test),
    )


def _prepared(builder):
    return os.path.exists(
        os.path.join(os.fspath(builder.data_dir), "dataset_info.json")
    )


def _image_and_label(example):
    return example["image"], example["label"]


def _count(dataset):
    count = int(dataset.cardinality())
    return count if count >= 0 else int(dataset.reduce(0, lambda n, _: n + 1))
