"""Pruning on every backend: fit, masks, save/load mid-pruning, strip, shrink, report.

The JAX trainer runs the optimizer in a stateless step that cannot read the
non-trainable masks; the wrapper masks in the forward pass there instead (see
`PruneLowMagnitude`). These tests run on every backend (`-m backends`).
"""

import keras
import numpy as np
import pytest

from keras_tricks.callbacks import Pruning
from keras_tricks.pruning import (
    ConstantSparsity,
    PolynomialDecay,
    prune_low_magnitude,
    shrink,
    sparsity_report,
    strip_pruning,
)
from tests.pruning._helpers import expected_zeros, masks_and_weights, wrappers

pytestmark = pytest.mark.backends


def _data(n=24, features=6, outputs=3):
    rng = np.random.default_rng(12)
    return (
        rng.normal(size=(n, features)).astype("float32"),
        rng.normal(size=(n, outputs)).astype("float32"),
    )


def _base():
    keras.utils.set_random_seed(13)
    return keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(10, activation="relu", name="a"),
            keras.layers.Dense(3, name="b"),
        ]
    )


def _assert_pruned_to(model, sparsity):
    for mask, value in masks_and_weights(model):
        assert (mask == 0).sum() == expected_zeros(mask.size, sparsity)
        assert np.all(value[mask == 0] == 0.0)
        assert np.all(value[mask == 1] != 0.0)


def test_fit_prunes_to_the_target_then_strip_and_report_agree():
    # The case: on JAX, fit used to fail in the mask constraint
    # (TypeError: 'NoneType' object is not callable).
    pruned = prune_low_magnitude(
        _base(), PolynomialDecay(0.0, 0.75, begin_step=0, end_step=6, frequency=2)
    )
    pruned.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
    x, y = _data()
    history = pruned.fit(
        x, y, batch_size=4, epochs=2, shuffle=False, callbacks=[Pruning()], verbose=0
    )
    _assert_pruned_to(pruned, 0.75)
    sizes = (60, 30)
    expected = sum(expected_zeros(n, 0.75) for n in sizes) / sum(sizes)
    assert history.history["pruning/sparsity"][-1] == pytest.approx(expected)
    report = sparsity_report(pruned)
    assert report[-1]["sparsity"] == pytest.approx(expected)
    stripped = strip_pruning(pruned)
    assert [type(la).__name__ for la in stripped.layers] == ["Dense", "Dense"]
    np.testing.assert_allclose(
        stripped.predict(x, verbose=0),
        pruned.predict(x, verbose=0),
        rtol=1e-6,
        atol=1e-6,
    )
    assert sparsity_report(stripped)[-1]["sparsity"] == pytest.approx(expected)


def test_save_and_load_mid_pruning_continue_alike(tmp_path):
    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=10, frequency=2)
    pruned = prune_low_magnitude(_base(), schedule)
    pruned.compile(keras.optimizers.Adam(0.01), "mse")
    x, y = _data()
    with pytest.warns(UserWarning, match="stopped short"):  # on purpose: mid-pruning
        pruned.fit(
            x,
            y,
            batch_size=4,
            epochs=1,
            shuffle=False,
            callbacks=[Pruning()],
            verbose=0,
        )
    path = str(tmp_path / "mid.keras")
    pruned.save(path)
    loaded = keras.saving.load_model(path)
    assert int(loaded.optimizer.iterations) == 6
    for (m1, w1), (m2, w2) in zip(
        masks_and_weights(pruned), masks_and_weights(loaded), strict=True
    ):
        np.testing.assert_array_equal(m1, m2)
        np.testing.assert_array_equal(w1, w2)
    for model in (pruned, loaded):
        model.fit(
            x,
            y,
            batch_size=4,
            epochs=1,
            shuffle=False,
            callbacks=[Pruning()],
            verbose=0,
        )
        _assert_pruned_to(model, 0.8)
    for (m1, w1), (m2, w2) in zip(
        masks_and_weights(pruned), masks_and_weights(loaded), strict=True
    ):
        np.testing.assert_array_equal(m1, m2)
        np.testing.assert_allclose(w1, w2, rtol=1e-6, atol=1e-7)


def test_unit_pruning_fit_then_shrink_keeps_the_outputs():
    pruned = prune_low_magnitude(
        _base(),
        ConstantSparsity(0.5, begin_step=0, frequency=100),
        granularity="unit",
        layers=["a"],
    )
    pruned.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
    x, y = _data()
    pruned.fit(x, y, batch_size=4, epochs=1, callbacks=[Pruning()], verbose=0)
    small = shrink(pruned)
    assert small.get_layer("a").kernel.shape == (6, 5)
    np.testing.assert_allclose(
        small.predict(x, verbose=0), pruned.predict(x, verbose=0), rtol=1e-5, atol=1e-5
    )


def test_the_forward_pass_uses_masked_weights_on_jax():
    if keras.backend.backend() != "jax":
        pytest.skip("only JAX masks in the forward pass; elsewhere the optimizer does")
    pruned = prune_low_magnitude(_base(), ConstantSparsity(0.5, begin_step=0))
    for wrapper in wrappers(pruned):
        wrapper.update_masks(0.5)
    x, _ = _data()
    expected = strip_pruning(pruned).predict(x, verbose=0)
    # A stored pruned weight moved off zero (as momentum does between epochs).
    wrapper = wrappers(pruned)[0]
    kernel, mask = wrapper._mask_pairs()[0]
    mask_values = keras.ops.convert_to_numpy(mask)
    kernel.assign(keras.ops.convert_to_numpy(kernel) + (1.0 - mask_values))
    got = keras.ops.convert_to_numpy(pruned(x, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


def test_an_eager_mixed_precision_call_keeps_the_float32_weights():
    # On JAX the call writes `weight * mask` back: it must not round the
    # weight to float16 on the way.
    keras.mixed_precision.set_global_policy("mixed_float16")
    pruned = prune_low_magnitude(_base(), ConstantSparsity(0.5, begin_step=0))
    for wrapper in wrappers(pruned):
        wrapper.update_masks(0.5)
    before = [keras.ops.convert_to_numpy(w) for w in pruned.weights]
    x, _ = _data()
    output = pruned(x, training=False)
    assert keras.backend.standardize_dtype(output.dtype) == "float16"
    for old, new in zip(before, pruned.weights, strict=True):
        np.testing.assert_array_equal(old, keras.ops.convert_to_numpy(new))
