"""`keras_tricks.datasets.load`: the offline digits and any TFDS name, no network."""

import numpy as np
import pytest
import tensorflow_datasets as tfds

from keras_tricks import datasets


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tfds"))


def test_digits_are_written_once_as_a_tfds_dataset_and_read_back(data_dir):
    data = datasets.load(data_dir=data_dir)
    assert (data.name, data.input_shape, data.num_classes) == ("digits", (8, 8, 1), 10)
    assert (data.num_train, data.num_test) == (1438, 359)
    assert data.class_names == [str(i) for i in range(10)]
    images, labels = next(iter(data.train.batch(2000)))
    assert images.dtype == "uint8" and images.shape == (1438, 8, 8, 1)
    assert int(np.max(images)) == 255 and int(np.min(images)) == 0
    assert sorted(np.unique(labels.numpy())) == list(range(10))
    # Read back through tfds.load, the path every other dataset takes.
    again = datasets.load("digits", data_dir=data_dir)
    assert np.array_equal(
        next(iter(again.test.batch(500)))[1], next(iter(data.test.batch(500)))[1]
    )
    train_first = next(iter(data.train.batch(2000)))[0].numpy().reshape(-1, 64)
    test_first = next(iter(data.test.batch(500)))[0].numpy().reshape(-1, 64)
    # The split holds different images (the digits have a few exact duplicates).
    assert (
        len({r.tobytes() for r in train_first} & {r.tobytes() for r in test_first}) < 10
    )


def test_any_tfds_name_goes_through_tfds_load(data_dir):
    with tfds.testing.mock_data(
        num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        data = datasets.load("mnist", data_dir=data_dir)
    assert (data.input_shape, data.num_classes, data.num_train) == ((28, 28, 1), 10, 6)
    image, label = next(iter(data.train))
    assert (
        image.dtype == "uint8" and image.shape == (28, 28, 1) and label.dtype == "int64"
    )


def test_unknown_name_and_missing_dataset_get_clear_errors(data_dir):
    with pytest.raises(
        ValueError,
        match=r"`name` must be 'digits' or a TFDS dataset name\. "
        r"Received: name='no_such_dataset'",
    ):
        datasets.load("no_such_dataset", data_dir=data_dir)
    with pytest.raises(
        RuntimeError, match=r"The dataset 'mnist' is not in .* and download=False"
    ):
        datasets.load("mnist", data_dir=data_dir, download=False)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (
            dict(name=""),
            TypeError,
            r"`name` must be a non-empty str\. Received: name=''",
        ),
        (dict(name=3), TypeError, r"Received: name=3"),
        (
            dict(data_dir=1.5),
            TypeError,
            r"`data_dir` must be a str or a path\. Received: data_dir=1.5",
        ),
        (
            dict(download="no"),
            ValueError,
            r"`download` must be a bool .* Received: download='no'",
        ),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        datasets.load(**kwargs)
