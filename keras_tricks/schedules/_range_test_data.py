"""The batches of the range test: arrays cut into batches, or a dataset re-iterated."""

import functools
import itertools
import sys

import keras
import numpy as np

from keras_tricks._checks import check_int


def _is_arrays(x):
    """Whether `x` is an array, or a list, tuple or dict of arrays."""
    if x is None:
        return False
    leaves = keras.tree.flatten(x)
    return bool(leaves) and all(
        hasattr(v, "shape") and hasattr(v, "__getitem__") for v in leaves
    )


def _num_samples(name, data):
    counts = set()
    for leaf in keras.tree.flatten(data):
        if len(leaf.shape) == 0:
            raise ValueError(
                f"`{name}` must hold arrays with a batch axis, not scalars. "
                f"Received: {name} with shape {tuple(leaf.shape)}"
            )
        counts.add(int(leaf.shape[0]))
    if len(counts) > 1:
        raise ValueError(
            f"The arrays in `{name}` must all hold the same number of samples. "
            f"Received: {name} with {sorted(counts)} samples"
        )
    return counts.pop()


def range_test_batches(x, y, batch_size, seed, num_steps):
    """Yield at most `num_steps` batches `(x, y[, sample_weight])`.

    Every path is bounded by `num_steps`; arrays with no sample and an
    iterable whose pass yields nothing raise instead of looping.
    """
    if _is_arrays(x):
        yield from _array_batches(x, y, batch_size, seed, num_steps)
        return
    if x is None or isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(
            "`x` must be arrays (a NumPy array or tensor, or a list or dict of them), "
            "a tf.data.Dataset, a keras.utils.PyDataset or an iterable of batches. "
            f"Received: x={x!r}"
        )
    if y is not None:
        raise ValueError(
            "`y` must be None when `x` is a dataset or an iterable of batches "
            f"(its batches carry the targets). Received: y of type {type(y).__name__}"
        )
    yield from itertools.islice(_iterable_batches(x), num_steps)


def _array_batches(x, y, batch_size, seed, num_steps):
    batch_size = check_int("batch_size", batch_size, minimum=1)
    x = keras.tree.map_structure(np.asarray, x)
    count = _num_samples("x", x)
    if y is not None:
        if not _is_arrays(y):
            raise TypeError(
                "`y` must be an array, or a list or dict of arrays, when `x` holds "
                f"arrays. Received: y={y!r}"
            )
        y = keras.tree.map_structure(np.asarray, y)
        targets = _num_samples("y", y)
        if targets != count:
            raise ValueError(
                "`x` and `y` must hold the same number of samples. "
                f"Received: {count} samples in x, {targets} in y"
            )
    if count == 0:
        raise ValueError(
            "`x` must hold at least one sample. Received: x with 0 samples"
        )
    # Full batches only, unless there is less than one: then all the samples.
    starts = list(range(0, count - batch_size + 1, batch_size)) or [0]
    size = min(batch_size, count)
    rng = np.random.default_rng(seed)
    step = 0
    while step < num_steps:  # every pass yields len(starts) >= 1 batches
        order = rng.permutation(count) if seed is not None else np.arange(count)
        for start in starts[: num_steps - step]:
            take = functools.partial(_take, index=order[start : start + size])
            inputs = keras.tree.map_structure(take, x)
            yield (
                (inputs,) if y is None else (inputs, keras.tree.map_structure(take, y))
            )
            step += 1


def _take(array, index):
    return array[index]


def _from_tensorflow(batch):
    """A `tf.data` batch as NumPy arrays on the JAX and torch backends.

    `fit` converts a `tf.data.Dataset`'s tensors for those backends;
    `train_on_batch` does not, so the range test does it here. TensorFlow's
    own backend, and batches with no TensorFlow tensor, pass through as they are.
    """
    if keras.backend.backend() == "tensorflow" or "tensorflow" not in sys.modules:
        return batch
    tensor_type = sys.modules["tensorflow"].Tensor

    def convert(value):
        return value.numpy() if isinstance(value, tensor_type) else value

    return keras.tree.map_structure(convert, batch)


def _iterable_batches(x):
    """Batches of a dataset, re-iterated when it ends; a one-shot iterator ends."""
    while True:
        empty = True
        for batch in x:
            empty = False
            batch = _from_tensorflow(batch)
            yield tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
        if empty:
            return  # nothing this pass: a spent iterator, or no data at all
