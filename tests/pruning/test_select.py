"""The exact top-k mask behind every mask update (radix selection, no sort)."""

import keras
import numpy as np
import pytest

from keras_tricks.pruning import PruneLowMagnitude
from keras_tricks.pruning._select import compile_function, keep_largest


def _reference(scores, keep):
    """The rule: the `keep` largest, ties to the lower flat index."""
    order = np.argsort(-scores.ravel(), kind="stable")[:keep]
    mask = np.zeros(scores.size, bool)
    mask[order] = True
    return mask.reshape(scores.shape)


def _scores(seed, dtype):
    rng = np.random.default_rng(seed)
    scores = np.abs(rng.normal(size=(37, 29))).astype(dtype)
    scores[rng.random(scores.shape) < 0.3] = 0.0  # pruned weights: many ties at 0
    scores[:3, :4] = scores[5, 5]  # ties above 0
    scores[10, :7] = 2.0**-120  # tiny (TensorFlow flushes subnormals to 0 on CPU)
    return scores


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16", "float64"])
def test_matches_a_stable_sort_for_every_keep(dtype):
    scores = _scores(0, "float32")
    scores = keras.ops.convert_to_numpy(keras.ops.cast(scores, dtype)).astype("float64")
    size = scores.size
    for keep in (1, 2, 11, 12, 13, size // 5, size // 2, size - 301, size - 1, size):
        got = keras.ops.convert_to_numpy(
            keep_largest(keras.ops.cast(scores, dtype), keep)
        )
        assert got.sum() == keep
        np.testing.assert_array_equal(
            got, _reference(scores, keep), err_msg=f"keep={keep}"
        )


@pytest.mark.backends
def test_negative_zero_and_top_k_agree_inside_a_compiled_function():
    scores = _scores(1, "float32")
    scores[0, 0] = -0.0
    select = compile_function(keep_largest)
    for keep in (1, 700, scores.size):
        expected = _reference(np.abs(scores), keep)
        got = keras.ops.convert_to_numpy(select(scores, np.int32(keep)))
        np.testing.assert_array_equal(got, expected)
        _, indices = keras.ops.top_k(np.abs(scores).ravel(), keep, sorted=False)
        top_k = np.zeros(scores.size, bool)
        top_k[keras.ops.convert_to_numpy(indices)] = True
        np.testing.assert_array_equal(got.ravel(), top_k)


@pytest.mark.backends
@pytest.mark.parametrize(
    "kwargs",
    [{}, {"block_size": (2, 3)}, {"granularity": "unit", "unit_norm": "l2"}],
    ids=["weight", "block", "unit"],
)
def test_the_compiled_mask_update_matches_the_eager_keras_ops_one(kwargs):
    # On TensorFlow `compile_function` is the fast path (one tf.function
    # graph); elsewhere it is the eager keras.ops code itself. Both must give
    # the masks the eager keras.ops code gives.
    rng = np.random.default_rng(7)
    kernel = rng.normal(size=(12, 9)).astype("float32")
    kernel[rng.random(kernel.shape) < 0.2] = 0.0  # ties at zero
    bias = rng.normal(size=(9,)).astype("float32")
    masks = {}
    for path in ("eager", "compiled"):
        wrapper = PruneLowMagnitude(keras.layers.Dense(9), **kwargs)
        wrapper(np.zeros((1, 12), "float32"))
        wrapper.layer.set_weights([kernel, bias])
        keeps = np.asarray(wrapper._keep_counts(0.6), "int32")
        assign = wrapper._assign_masks
        (assign if path == "eager" else compile_function(assign))(keeps)
        masks[path] = [keras.ops.convert_to_numpy(m) for _, m in wrapper._mask_pairs()]
    assert masks["eager"][0].sum() < kernel.size
    for eager, compiled in zip(masks["eager"], masks["compiled"], strict=True):
        np.testing.assert_array_equal(eager, compiled)
