"""Nested models: a Sequential inside a Functional model, a Model used as a layer."""

import json

import keras
import numpy as np
import pytest

from keras_tricks.callbacks import Pruning
from keras_tricks.pruning import (
    ConstantSparsity,
    PruneLowMagnitude,
    prune_low_magnitude,
    shrink,
    sparsity_report,
    strip_pruning,
)
from keras_tricks.pruning._clone import pruning_wrappers, wrapper_paths
from tests.pruning._helpers import expected_zeros


def _nested():
    """Functional[Dense] -> Functional "block"[Sequential "inner"[Dense, Dense]] ->
    Dense."""
    inner = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, name="d1"),
            keras.layers.Dense(8, name="d2"),
        ],
        name="inner",
    )
    block_in = keras.Input((6,))
    block = keras.Model(block_in, inner(block_in), name="block")
    inputs = keras.Input((5,))
    hidden = keras.layers.Dense(6, name="d1")(inputs)  # the same name as inner's d1
    outputs = keras.layers.Dense(3, name="head")(block(hidden))
    return keras.Model(inputs, outputs, name="outer")


def _kinds(model):
    return {path: type(layer).__name__ for path, layer in _all(model)}


def _all(model, prefix=""):
    for layer in model.layers:
        yield prefix + layer.name, layer
        if isinstance(layer, keras.Model):
            yield from _all(layer, f"{prefix}{layer.name}/")


def _data():
    rng = np.random.default_rng(3)
    return rng.normal(size=(16, 5)).astype("float32"), rng.normal(size=(16, 3)).astype(
        "float32"
    )


def test_every_depth_is_pruned_and_trained_to_the_schedule(tmp_path):
    model = _nested()
    before = [w.copy() for w in model.get_weights()]
    pruned = prune_low_magnitude(
        model, ConstantSparsity(0.5, begin_step=0, frequency=1)
    )
    assert [path for path, _ in wrapper_paths(pruned)] == [
        "prune_low_magnitude_d1",
        "block/inner/prune_low_magnitude_d1",
        "block/inner/prune_low_magnitude_d2",
        "prune_low_magnitude_head",
    ]
    x, y = _data()
    np.testing.assert_allclose(
        pruned.predict(x, verbose=0), model.predict(x, verbose=0)
    )
    pruned.compile(keras.optimizers.Adam(0.01), "mse")
    history = pruned.fit(
        x, y, batch_size=4, epochs=1, callbacks=[Pruning(log_per_layer=True)], verbose=0
    )
    assert history.history["pruning/block/inner/prune_low_magnitude_d2"] == [0.5]
    for wrapper in pruning_wrappers(pruned):
        kernel = keras.ops.convert_to_numpy(wrapper.layer.kernel)
        assert (kernel == 0).sum() == expected_zeros(kernel.size, 0.5), wrapper.name
    for a, b in zip(model.get_weights(), before, strict=True):  # original untouched
        np.testing.assert_array_equal(a, b)

    rows = {row["layer"]: row for row in sparsity_report(pruned)}
    assert rows["block/inner/prune_low_magnitude_d2"]["pruned"]
    assert rows["block/inner/prune_low_magnitude_d2"]["sparsity"] == 0.5

    stripped = strip_pruning(pruned)
    assert "PruneLowMagnitude" not in _kinds(stripped).values()
    assert "keras_tricks" not in json.dumps(stripped.get_config())
    np.testing.assert_array_equal(
        stripped.predict(x, verbose=0), pruned.predict(x, verbose=0)
    )
    assert (
        sparsity_report(stripped)[-1]["sparsity"]
        == sparsity_report(pruned)[-1]["sparsity"]
    )

    path = str(tmp_path / "nested.keras")
    pruned.save(path)
    loaded = keras.saving.load_model(path)
    assert _kinds(loaded) == _kinds(pruned)
    for a, b in zip(pruned.weights, loaded.weights, strict=True):
        np.testing.assert_array_equal(
            keras.ops.convert_to_numpy(a), keras.ops.convert_to_numpy(b)
        )
    loaded.fit(x, y, batch_size=4, epochs=1, callbacks=[Pruning()], verbose=0)
    for wrapper in pruning_wrappers(loaded):  # masks and constraints came back
        for variable, mask in wrapper._mask_pairs():
            values, zeros = (keras.ops.convert_to_numpy(v) for v in (variable, mask))
            assert np.all(values[zeros == 0] == 0.0)
            assert (zeros == 0).sum() == expected_zeros(zeros.size, 0.5)

    with pytest.raises(ValueError, match=r"nested model.*Received: model="):
        shrink(pruned)


def test_layers_names_nested_layers_by_path_name_object_or_model():
    model = _nested()
    inner = model.get_layer("block").get_layer("inner")

    def pruned_paths(layers):
        pruned = prune_low_magnitude(model, layers=layers)
        return [path for path, _ in wrapper_paths(pruned)]

    assert pruned_paths(["block/inner/d2"]) == ["block/inner/prune_low_magnitude_d2"]
    assert pruned_paths(["d2", "head"]) == [
        "block/inner/prune_low_magnitude_d2",
        "prune_low_magnitude_head",
    ]
    assert pruned_paths([inner.get_layer("d1")]) == [
        "block/inner/prune_low_magnitude_d1"
    ]
    assert pruned_paths(["block"]) == [
        "block/inner/prune_low_magnitude_d1",
        "block/inner/prune_low_magnitude_d2",
    ]
    with pytest.raises(
        ValueError, match=r"several nested models.*path.*Received: layers="
    ):
        prune_low_magnitude(model, layers=["d1"])
    with pytest.raises(ValueError, match=r"not in the model.*Received: layers="):
        prune_low_magnitude(model, layers=["block/nope"])
    with pytest.raises(ValueError, match=r"not in the model.*Received: layers="):
        prune_low_magnitude(model, layers=[keras.layers.Dense(2)])
    with pytest.raises(
        ValueError, match=r"layer names or layers; 3.*Received: layers="
    ):
        prune_low_magnitude(model, layers=[3])


class _Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.dense = keras.layers.Dense(2)

    def call(self, inputs):
        return self.dense(inputs)


def test_a_nested_subclassed_model_with_prunable_layers_is_refused():
    sub = _Subclassed(name="sub")
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(sub(inputs)))
    with pytest.raises(
        ValueError, match=r"subclassed model 'sub'.*Received: to_prune="
    ):
        prune_low_magnitude(model)


def test_a_frozen_nested_model_keeps_its_trainable_flag():
    model = _nested()
    model.get_layer("block").trainable = False
    pruned = prune_low_magnitude(model)
    assert not pruned.get_layer("block").trainable
    assert isinstance(
        pruned.get_layer("block").get_layer("inner").layers[0], PruneLowMagnitude
    )


class FunctionalSubclass(keras.Model):
    """A subclass of a functional model, as keras_hub's backbones are."""

    def __init__(self, **kwargs):
        inputs = keras.Input((4,))
        hidden = keras.layers.Dense(6, activation="relu", name="c")(inputs)
        super().__init__(inputs, keras.layers.Dense(3, name="d")(hidden), **kwargs)


@pytest.mark.backends
def test_a_subclass_of_a_functional_model_is_judged_like_a_functional_model():
    # Recognised by type: it used to be refused as a subclassed model,
    # because its class is not named "Functional".
    model = FunctionalSubclass(name="sub")
    inputs = keras.Input((4,))
    outer = keras.Model(inputs, keras.layers.Dense(2, name="head")(model(inputs)))
    for to_prune in (model, outer):
        pruned = prune_low_magnitude(to_prune, ConstantSparsity(0.5, begin_step=0))
        wrappers = pruning_wrappers(pruned)
        assert len(wrappers) == (2 if to_prune is model else 3)
        for wrapper in wrappers:
            wrapper.update_masks(0.5)
        stripped = strip_pruning(pruned)
        assert not pruning_wrappers(stripped)
        x = np.random.default_rng(4).normal(size=(3, 4)).astype("float32")
        np.testing.assert_allclose(
            stripped.predict(x, verbose=0), pruned.predict(x, verbose=0), rtol=1e-6
        )
