"""shrink: removing unit-pruned units gives the same outputs with fewer weights."""

import keras
import numpy as np
import pytest

import keras_tricks
from keras_tricks.pruning import prune_low_magnitude, shrink, strip_pruning
from tests.pruning._helpers import wrappers


def _unit_prune(model, names, sparsity=0.5):
    pruned = prune_low_magnitude(model, granularity="unit", layers=names)
    for wrapper in wrappers(pruned):
        wrapper.update_masks(sparsity)
    return pruned


def _randomize_normalization(model, seed=0):
    """Non-trivial statistics, so removed units send non-zero constants on."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights(
                [
                    rng.uniform(0.5, 2, gamma.shape),
                    rng.normal(size=beta.shape),
                    rng.normal(size=mean.shape),
                    rng.uniform(0.5, 2, var.shape),
                ]
            )


def _same_outputs(before, after, x):
    a = before.predict(x, verbose=0)
    b = after.predict(x, verbose=0)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_conv_batchnorm_conv_chain():
    model = keras.Sequential(
        [
            keras.Input((10, 10, 3)),
            keras.layers.Conv2D(8, 3, activation="relu", name="c1"),
            keras.layers.BatchNormalization(),
            keras.layers.Conv2D(6, 3, name="c2"),
            keras.layers.Activation("sigmoid"),
            keras.layers.MaxPooling2D(),
            keras.layers.Flatten(),
            keras.layers.Dense(5, activation="relu", name="d1"),
            keras.layers.Dense(2, name="out"),
        ]
    )
    _randomize_normalization(model)
    pruned = _unit_prune(model, ["c1", "c2", "d1"], sparsity=0.5)
    stripped = strip_pruning(pruned)
    small = shrink(pruned)
    assert [small.get_layer(n).kernel.shape[-1] for n in ("c1", "c2", "d1")] == [
        4,
        3,
        2,
    ]
    assert small.get_layer("c2").kernel.shape[-2] == 4
    assert small.get_layer("d1").kernel.shape[0] == 3 * 3 * 3
    assert small.count_params() < stripped.count_params()
    assert all(w.constraint is None for w in small.weights)
    x = np.random.default_rng(1).normal(size=(8, 10, 10, 3))
    _same_outputs(stripped, small, x)
    _same_outputs(stripped, shrink(stripped), x)


def test_dense_chain_with_sigmoid_folds_constants_into_the_next_bias():
    inputs = keras.Input((7,))
    h = keras.layers.Dense(16, activation="sigmoid", name="a")(inputs)
    h = keras.layers.Dropout(0.2)(h)
    h = keras.layers.Dense(12, activation="relu", use_bias=False, name="b")(h)
    h = keras.layers.BatchNormalization()(h)
    outputs = keras.layers.Dense(3, use_bias=False, name="c")(h)
    model = keras.Model(inputs, outputs)
    _randomize_normalization(model, seed=2)
    pruned = _unit_prune(model, ["a", "b"], sparsity=0.75)
    small = shrink(pruned)
    assert small.get_layer("a").units == 4
    assert small.get_layer("b").units == 3
    assert small.get_layer("b").use_bias  # took the sigmoid(0) constants
    x = np.random.default_rng(3).normal(size=(16, 7))
    _same_outputs(strip_pruning(pruned), small, x)


def test_per_channel_group_and_instance_normalization():
    model = keras.Sequential(
        [
            keras.Input((8, 8, 2)),
            keras.layers.Conv2D(6, 3, activation="tanh", name="c1"),
            keras_tricks.layers.InstanceNormalization(),
            keras.layers.Conv2D(4, 3, name="c2"),
            keras_tricks.layers.GroupNormalization(groups=-1),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(2),
        ]
    )
    pruned = _unit_prune(model, ["c1", "c2"], sparsity=0.5)
    small = shrink(pruned)
    assert small.get_layer("c2").kernel.shape[-2:] == (3, 2)
    _same_outputs(
        strip_pruning(pruned), small, np.random.default_rng(4).normal(size=(4, 8, 8, 2))
    )


def _refused(model, names, match, sparsity=0.5):
    pruned = _unit_prune(model, names, sparsity)
    with pytest.raises(ValueError, match=match):
        shrink(pruned)


def test_refuses_a_residual_branch():
    inputs = keras.Input((6,))
    h = keras.layers.Dense(6, name="a")(inputs)
    outputs = keras.layers.Add()([h, keras.layers.Dense(6)(h)])
    model = keras.Model(inputs, outputs)
    _refused(
        model, ["a"], r"cannot be shrunk at layer 'a'.*feeds 2 layers.*Received: model="
    )


def test_refuses_layer_normalization_between():
    model = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, name="a"),
            keras.layers.LayerNormalization(),
            keras.layers.Dense(2),
        ]
    )
    _refused(
        model, ["a"], r"layer 'a'.*cannot follow a LayerNormalization.*Received: model="
    )


def test_refuses_a_unit_pruned_model_output():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, name="a")])
    _refused(model, ["a"], r"layer 'a'.*model output.*Received: model=")


def test_refuses_a_constant_into_same_padding():
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(4, 3, activation="sigmoid", name="a"),
            keras.layers.Conv2D(2, 3, padding="same"),
            keras.layers.Flatten(),
        ]
    )
    _refused(
        model, ["a"], r"layer 'a'.*non-zero constant.*padding 'same'.*Received: model="
    )


def test_same_padding_is_fine_when_removed_units_send_zero():
    model = keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(4, 3, activation="relu", name="a"),
            keras.layers.Conv2D(2, 3, padding="same"),
            keras.layers.Flatten(),
        ]
    )
    pruned = _unit_prune(model, ["a"])
    small = shrink(pruned)
    _same_outputs(
        strip_pruning(pruned), small, np.random.default_rng(5).normal(size=(2, 6, 6, 2))
    )


class _Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, inputs):
        return self.dense(inputs)


def test_bad_inputs():
    subclassed = _Subclassed()
    subclassed(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"subclassed model.*Received: model="):
        shrink(subclassed)
    with pytest.raises(ValueError, match=r"must be a Keras model.*Received: model="):
        shrink(keras.layers.Dense(2))
    model = keras.Sequential(
        [
            keras.Input((3,)),
            keras.layers.Dense(2, name="d"),
            keras.layers.ReLU(name="r"),
        ]
    )
    with pytest.raises(
        ValueError, match=r"Dense or convolution.*'r'.*Received: layers="
    ):
        shrink(model, layers=["r"])
    with pytest.raises(ValueError, match=r"list of names.*Received: layers='d'"):
        shrink(model, layers="d")
    outer = keras.Sequential([keras.Input((3,)), model])
    with pytest.raises(ValueError, match=r"nested model.*Received: model="):
        shrink(outer)


def test_sparsity_report_rows_and_table():
    from keras_tricks.pruning import format_sparsity_report, sparsity_report

    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(10, name="a"),
            keras.layers.Dense(2, name="b"),
        ]
    )
    pruned = prune_low_magnitude(model, layers=["a"])
    wrappers(pruned)[0].update_masks(0.7)
    printed = []
    rows = sparsity_report(pruned, print_fn=printed.append)
    assert [(r["layer"], r["zeros"], r["size"], r["pruned"]) for r in rows] == [
        ("prune_low_magnitude_a", 28, 40, True),
        ("b", 0, 20, False),
        ("total", 28, 60, True),
    ]
    assert printed == [format_sparsity_report(rows)]
    assert "70.00%" in printed[0]
    with pytest.raises(ValueError, match=r"must be a Keras model.*Received: model="):
        sparsity_report("a")
