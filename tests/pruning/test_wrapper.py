"""PruneLowMagnitude, prune_low_magnitude and strip_pruning."""

import json

import keras
import numpy as np
import pytest

import keras_tricks
from keras_tricks.callbacks import Pruning
from keras_tricks.pruning import (
    ConstantSparsity,
    PolynomialDecay,
    PruneLowMagnitude,
    prune_low_magnitude,
    strip_pruning,
)
from tests.pruning._helpers import (
    Record,
    expected_zeros,
    masks_and_weights,
    settle,
    wrappers,
)


class Scale(keras.layers.Layer):
    """A custom layer that opts in to pruning by naming its weight."""

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 3), name="w")

    def call(self, inputs):
        return inputs @ self.w

    def get_prunable_weights(self):
        return [self.w]


def _seq(input_shape, *layers, dtype="float32"):
    return keras.Sequential([keras.Input(input_shape, dtype=dtype), *layers])


def _mha_model():
    query = keras.Input((4, 6))
    out = keras.layers.MultiHeadAttention(num_heads=2, key_dim=3)(query, query)
    return keras.Model(query, keras.layers.GlobalAveragePooling1D()(out))


LAYER_MODELS = {
    "dense": (lambda: _seq((6,), keras.layers.Dense(4)), 1),
    "conv1d": (
        lambda: _seq((8, 3), keras.layers.Conv1D(4, 3), keras.layers.Flatten()),
        1,
    ),
    "conv2d": (
        lambda: _seq((6, 6, 2), keras.layers.Conv2D(4, 3), keras.layers.Flatten()),
        1,
    ),
    "conv3d": (
        lambda: _seq((4, 4, 4, 2), keras.layers.Conv3D(3, 2), keras.layers.Flatten()),
        1,
    ),
    "conv1d_transpose": (
        lambda: _seq(
            (5, 2), keras.layers.Conv1DTranspose(3, 3), keras.layers.Flatten()
        ),
        1,
    ),
    "conv2d_transpose": (
        lambda: _seq(
            (4, 4, 2), keras.layers.Conv2DTranspose(3, 3), keras.layers.Flatten()
        ),
        1,
    ),
    "conv3d_transpose": (
        lambda: _seq(
            (3, 3, 3, 2), keras.layers.Conv3DTranspose(2, 2), keras.layers.Flatten()
        ),
        1,
    ),
    "separable1d": (
        lambda: _seq(
            (8, 4), keras.layers.SeparableConv1D(6, 3), keras.layers.Flatten()
        ),
        1,
    ),
    "separable2d": (
        lambda: _seq(
            (6, 6, 4), keras.layers.SeparableConv2D(6, 3), keras.layers.Flatten()
        ),
        1,
    ),
    "embedding": (
        lambda: _seq(
            (5,), keras.layers.Embedding(12, 4), keras.layers.Flatten(), dtype="int32"
        ),
        1,
    ),
    "attention": (_mha_model, 4),
    "lstm": (lambda: _seq((5, 3), keras.layers.LSTM(4)), 2),
    "gru": (lambda: _seq((5, 3), keras.layers.GRU(4)), 2),
    "simple_rnn": (lambda: _seq((5, 3), keras.layers.SimpleRNN(4)), 2),
    "bidirectional": (
        lambda: _seq((5, 3), keras.layers.Bidirectional(keras.layers.LSTM(2))),
        4,
    ),
    "custom": (lambda: _seq((6,), Scale()), 1),
}


@pytest.mark.parametrize("name", sorted(LAYER_MODELS))
def test_each_prunable_layer_reaches_the_schedule_sparsity(name):
    make, prunable = LAYER_MODELS[name]
    model = make()
    pruned = prune_low_magnitude(
        model, ConstantSparsity(0.6, begin_step=0, frequency=1)
    )
    (wrapper,) = wrappers(pruned)
    assert len(wrapper._masks) == prunable
    # Layers with nothing to prune are copied, not wrapped.
    assert all(
        isinstance(layer, PruneLowMagnitude) or not layer.weights
        for layer in pruned.layers
    )
    # Masks at 60%, then two momentum steps with gradients on every weight:
    # Keras's optimizer applies the mask constraint after each update.
    wrapper.update_masks(0.6)
    optimizer = keras.optimizers.SGD(0.1, momentum=0.9)
    variables = pruned.trainable_variables
    for _ in range(2):
        optimizer.apply(
            [keras.ops.ones(v.shape, v.dtype) for v in variables], variables
        )
    settle(pruned)  # on JAX, what the Pruning callback does at an epoch end
    for mask, value in masks_and_weights(pruned):
        assert (mask == 0).sum() == expected_zeros(mask.size, 0.6)
        assert np.all(value[mask == 0] == 0.0)
        assert np.all(value[mask == 1] != 0.0)


def test_sparsity_equals_the_polynomial_schedule_at_each_pruning_step():
    # Zhu & Gupta, 2017 (arXiv 1710.01878), eq. 1; TFMOT's keep-count rule.
    model = _seq(
        (6, 6, 1),
        keras.layers.Conv2D(5, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(7),
        keras.layers.Dense(2),
    )
    schedule = PolynomialDecay(
        0.1, 0.85, begin_step=1, end_step=9, power=3, frequency=2
    )
    pruned = prune_low_magnitude(model, schedule)
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(24, 6, 6, 1)), rng.normal(size=(24, 2))
    record = Record()
    pruned.compile(keras.optimizers.Adam(0.01), "mse")
    pruned.fit(
        x,
        y,
        batch_size=2,
        epochs=1,
        shuffle=False,
        callbacks=[Pruning(), record],
        verbose=0,
    )
    checked = 0
    for step, pairs in record.begin:
        if not (step >= 1 and step <= 9 and (step - 1) % 2 == 0):
            continue
        p = np.clip((step - 1) / (9 - 1), 0.0, 1.0)
        sparsity = 0.85 + (0.1 - 0.85) * (1 - p) ** 3
        for mask, value in pairs:
            assert (mask == 0).sum() == expected_zeros(mask.size, sparsity), step
            assert np.all(value[mask == 0] == 0.0)
        checked += 1
    assert checked == 5
    # After the end step the masks no longer change.
    final = record.begin[-1][1]
    after_end = [pairs for step, pairs in record.begin if step == 10][0]
    for (m1, _), (m2, _) in zip(final, after_end, strict=True):
        np.testing.assert_array_equal(m1, m2)


def _optimizers():
    yield "adamw", lambda: keras.optimizers.AdamW(0.05, weight_decay=0.1)
    yield "adam_decay", lambda: keras.optimizers.Adam(0.05, weight_decay=0.1)
    yield "sgd_momentum", lambda: keras.optimizers.SGD(0.1, momentum=0.9, nesterov=True)
    yield "rmsprop", lambda: keras.optimizers.RMSprop(0.05, momentum=0.5)
    for name in keras_tricks.optimizers.list_optimizers():
        cls = type(keras_tricks.optimizers.get(name))
        yield cls.__name__, (lambda c=cls: c(learning_rate=0.05, weight_decay=0.1))


@pytest.mark.parametrize("name, make_optimizer", list(_optimizers()))
def test_pruned_weights_stay_exactly_zero_after_every_optimizer_step(
    name, make_optimizer
):
    model = _seq((5,), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(3))
    # Masks are set once, at step 0; momentum and decay then push on them.
    pruned = prune_low_magnitude(model, ConstantSparsity(0.5, begin_step=0, end_step=0))
    for wrapper in wrappers(pruned):
        wrapper.update_masks(0.5)
    masks = [m for m, _ in masks_and_weights(pruned)]
    # Eager `optimizer.apply`, the call `fit()`'s train step makes; random
    # gradients push on every weight, momentum and decay keep pushing.
    optimizer = make_optimizer()
    variables = pruned.trainable_variables
    rng = np.random.default_rng(2)
    for _ in range(4):
        grads = [
            keras.ops.convert_to_tensor(rng.normal(size=v.shape).astype("float32"))
            for v in variables
        ]
        optimizer.apply(grads, variables)
        settle(pruned)  # on JAX, what the Pruning callback does at an epoch end
        for (mask, value), first in zip(masks_and_weights(pruned), masks, strict=True):
            np.testing.assert_array_equal(mask, first)
            assert np.all(value[mask == 0] == 0.0)
            assert np.all(value[mask == 1] != 0.0)


def test_an_existing_constraint_still_applies():
    model = _seq(
        (4,), keras.layers.Dense(6, kernel_constraint=keras.constraints.NonNeg())
    )
    pruned = prune_low_magnitude(model, ConstantSparsity(0.5, begin_step=0))
    rng = np.random.default_rng(3)
    pruned.compile(keras.optimizers.SGD(1.0), "mse")
    pruned.fit(
        rng.normal(size=(8, 4)),
        rng.normal(size=(8, 6)) * 10,
        epochs=2,
        callbacks=[Pruning()],
        verbose=0,
    )
    ((mask, kernel),) = masks_and_weights(pruned)
    assert np.all(kernel >= 0.0)
    assert np.all(kernel[mask == 0] == 0.0)
    assert "MaskConstraint" not in json.dumps(pruned.get_config())


def test_unit_granularity_zeroes_whole_units_with_their_bias():
    # Units ranked by the L2 norm of their weights and bias (Li et al., 2017).
    model = _seq((4,), keras.layers.Dense(10))
    dense = model.layers[0]
    rng = np.random.default_rng(4)
    kernel = rng.normal(size=(4, 10)).astype("float32")
    bias = rng.normal(size=(10,)).astype("float32")
    dense.set_weights([kernel, bias])
    pruned = prune_low_magnitude(
        model, ConstantSparsity(0.3, begin_step=0), granularity="unit", unit_norm="l2"
    )
    (wrapper,) = wrappers(pruned)
    wrapper.update_masks(0.3)
    norms = np.sqrt(
        (kernel.astype("float64") ** 2).sum(0) + bias.astype("float64") ** 2
    )
    dropped = np.argsort(norms)[:3]
    new_kernel, new_bias = wrapper.layer.get_weights()
    zero_units = np.flatnonzero(np.all(new_kernel == 0, axis=0))
    assert sorted(zero_units) == sorted(dropped)
    assert np.all(new_bias[dropped] == 0)
    assert np.all(new_bias[np.setdiff1d(np.arange(10), dropped)] != 0)


def test_unit_granularity_of_a_transposed_convolution_uses_its_filter_axis():
    model = _seq((4, 4, 3), keras.layers.Conv2DTranspose(6, 3))
    pruned = prune_low_magnitude(model, granularity="unit", unit_norm="l1")
    (wrapper,) = wrappers(pruned)
    wrapper.update_masks(0.5)
    kernel = wrapper.layer.get_weights()[0]  # (h, w, filters, in)
    assert np.all(kernel == 0, axis=(0, 1, 3)).sum() == 3


def test_block_sparsity_zeroes_whole_blocks():
    model = _seq((8,), keras.layers.Dense(6))
    pruned = prune_low_magnitude(model, block_size=(2, 3))
    (wrapper,) = wrappers(pruned)
    wrapper.update_masks(0.5)
    mask = keras.ops.convert_to_numpy(wrapper._masks[0])
    blocks = mask.reshape(4, 2, 2, 3).transpose(0, 2, 1, 3).reshape(8, 6)
    assert set(blocks.min(1)) == set(blocks.max(1))  # every block all 0 or all 1
    assert (blocks.max(1) == 0).sum() == 4


def test_prune_selected_layers_only_and_original_is_untouched():
    model = _seq((4,), keras.layers.Dense(5, name="a"), keras.layers.Dense(3, name="b"))
    before = [w.copy() for w in model.get_weights()]
    pruned = prune_low_magnitude(model, ConstantSparsity(0.5, 0), layers=["b"])
    assert [type(la).__name__ for la in pruned.layers] == ["Dense", "PruneLowMagnitude"]
    wrappers(pruned)[0].update_masks(0.5)
    for a, b in zip(model.get_weights(), before, strict=True):
        np.testing.assert_array_equal(a, b)
    assert model.layers[1].kernel.constraint is None
    single = prune_low_magnitude(keras.layers.Dense(2))
    assert isinstance(single, PruneLowMagnitude)


def test_save_and_load_mid_pruning(tmp_path):
    model = _seq((5,), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2))
    schedule = PolynomialDecay(0.0, 0.8, begin_step=0, end_step=8, frequency=2)
    pruned = prune_low_magnitude(model, schedule)
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(16, 5)), rng.normal(size=(16, 2))
    pruned.compile(keras.optimizers.Adam(0.01), "mse")
    with pytest.warns(
        UserWarning, match="stopped short of the schedule's end"
    ):  # on purpose
        pruned.fit(
            x,
            y,
            batch_size=4,
            epochs=1,
            shuffle=False,
            callbacks=[Pruning()],
            verbose=0,
        )
    path = str(tmp_path / "pruned.keras")
    pruned.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects
    for (m1, w1), (m2, w2) in zip(
        masks_and_weights(pruned), masks_and_weights(loaded), strict=True
    ):
        np.testing.assert_array_equal(m1, m2)
        np.testing.assert_array_equal(w1, w2)
    assert int(loaded.optimizer.iterations) == int(pruned.optimizer.iterations) == 4
    for m in (pruned, loaded):
        m.fit(
            x,
            y,
            batch_size=4,
            epochs=1,
            shuffle=False,
            callbacks=[Pruning()],
            verbose=0,
        )
    for (m1, w1), (m2, w2) in zip(
        masks_and_weights(pruned), masks_and_weights(loaded), strict=True
    ):
        np.testing.assert_array_equal(m1, m2)
        np.testing.assert_allclose(w1, w2, rtol=1e-6, atol=1e-7)
        assert np.all(w2[m2 == 0] == 0.0)
    assert (masks_and_weights(loaded)[0][0] == 0).sum() == expected_zeros(40, 0.8)


def test_strip_pruning_returns_a_plain_model(tmp_path):
    model = _seq((5,), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2))
    pruned = prune_low_magnitude(model, ConstantSparsity(0.7, 0))
    for wrapper in wrappers(pruned):
        wrapper.update_masks(0.7)
    stripped = strip_pruning(pruned)
    assert [type(la).__name__ for la in stripped.layers] == ["Dense", "Dense"]
    assert all(w.trainable for w in stripped.weights)
    assert all(w.constraint is None for w in stripped.weights)
    assert "keras_tricks" not in json.dumps(stripped.get_config())
    x = np.random.default_rng(6).normal(size=(4, 5))
    np.testing.assert_array_equal(
        stripped.predict(x, verbose=0), pruned.predict(x, verbose=0)
    )
    kernel = stripped.layers[0].get_weights()[0]
    assert (kernel == 0).sum() == expected_zeros(40, 0.7)
    layer = strip_pruning(wrappers(pruned)[1])
    assert type(layer) is keras.layers.Dense


@pytest.mark.backends
def test_wrapper_config_round_trip():
    wrapper = PruneLowMagnitude(
        keras.layers.Dense(3),
        PolynomialDecay(0.0, 0.5, 0, 10),
        granularity="unit",
        unit_norm="l2",
    )
    before = wrapper.get_config()
    json.dumps(before)
    wrapper(np.zeros((2, 4), "float32"))
    assert wrapper.get_config() == before
    clone = PruneLowMagnitude.from_config(before)
    assert clone.get_config() == before
    assert (
        keras.saving.get_registered_name(PruneLowMagnitude)
        == "keras_tricks>PruneLowMagnitude"
    )


class Subclassed(keras.Model):
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(2)

    def call(self, inputs):
        return self.dense(inputs)


def test_bad_inputs():
    dense_model = _seq((4,), keras.layers.BatchNormalization(), keras.layers.Dense(2))
    subclassed = Subclassed()
    subclassed(np.zeros((1, 4)))
    with pytest.raises(
        ValueError,
        match=r"subclassed model.*Functional API.*PruneLowMagnitude.*"
        r"Received: to_prune=",
    ):
        prune_low_magnitude(subclassed)
    with pytest.raises(ValueError, match=r"must be built.*Received: to_prune="):
        prune_low_magnitude(keras.Sequential([keras.layers.Dense(2)]))
    with pytest.raises(
        ValueError,
        match=r"no weights that keras_tricks knows how to prune.*Received: layer=",
    ):
        prune_low_magnitude(keras.layers.BatchNormalization())
    with pytest.raises(ValueError, match=r"no prunable weights.*Received: layers="):
        prune_low_magnitude(dense_model, layers=[dense_model.layers[0].name])
    with pytest.raises(ValueError, match=r"not in the model.*Received: layers="):
        prune_low_magnitude(dense_model, layers=["nope"])
    with pytest.raises(ValueError, match=r"list of layer names.*Received: layers="):
        prune_low_magnitude(dense_model, layers="nope")
    with pytest.raises(ValueError, match=r"applies to models only.*Received: layers="):
        prune_low_magnitude(keras.layers.Dense(2), layers=["x"])
    with pytest.raises(ValueError, match=r"Received: to_prune="):
        prune_low_magnitude("dense")
    with pytest.raises(ValueError, match=r"Received: granularity='block'"):
        PruneLowMagnitude(keras.layers.Dense(2), granularity="block")
    with pytest.raises(ValueError, match=r"Received: unit_norm='l3'"):
        PruneLowMagnitude(keras.layers.Dense(2), unit_norm="l3")
    with pytest.raises(
        ValueError, match=r"not defined for LSTM.*Received: granularity='unit'"
    ):
        PruneLowMagnitude(keras.layers.LSTM(2), granularity="unit")
    with pytest.raises(
        ValueError, match=r"pair of positive ints.*Received: block_size=\(0, 2\)"
    ):
        PruneLowMagnitude(keras.layers.Dense(2), block_size=(0, 2))
    with pytest.raises(
        ValueError, match=r"needs granularity='weight'.*Received: block_size="
    ):
        PruneLowMagnitude(keras.layers.Dense(2), granularity="unit", block_size=(1, 2))
    with pytest.raises(ValueError, match=r"schedule.*Received: pruning_schedule=0.5"):
        PruneLowMagnitude(keras.layers.Dense(2), pruning_schedule=0.5)
    with pytest.raises(ValueError, match=r"not a model.*Received: layer="):
        PruneLowMagnitude(dense_model)
    with pytest.raises(ValueError, match=r"must be a Keras layer.*Received: layer="):
        PruneLowMagnitude("dense")
    with pytest.raises(ValueError, match=r"must be built before.*Received: layer="):
        PruneLowMagnitude(keras.layers.MultiHeadAttention(2, 2)).build((None, 3, 4))
    with pytest.raises(ValueError, match=r"subclassed model.*Received: model="):
        strip_pruning(subclassed)
    with pytest.raises(ValueError, match=r"Received: model='x'"):
        strip_pruning("x")
    with pytest.raises(ValueError, match=r"unbuilt layer.*Received: model="):
        strip_pruning(PruneLowMagnitude(keras.layers.Dense(2)))


def test_mixed_float16_and_jit_compile():
    keras.mixed_precision.set_global_policy("mixed_float16")
    model = _seq((5,), keras.layers.Dense(8, activation="relu"), keras.layers.Dense(2))
    pruned = prune_low_magnitude(
        model, ConstantSparsity(0.5, begin_step=0, frequency=2)
    )
    assert all(v.dtype == "float32" for v in pruned.weights)
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=(16, 5)), rng.normal(size=(16, 2))
    pruned.compile(keras.optimizers.Adam(0.01), "mse", jit_compile=True)
    pruned.fit(x, y, batch_size=4, epochs=1, callbacks=[Pruning()], verbose=0)
    assert pruned.predict(x, verbose=0).dtype == np.float16
    for mask, value in masks_and_weights(pruned):
        assert (mask == 0).sum() == expected_zeros(mask.size, 0.5)
        assert np.all(value[mask == 0] == 0.0)


@pytest.mark.parametrize(
    "name", ["attention", "bidirectional", "embedding", "conv2d_transpose"]
)
def test_pruned_models_save_and_load_with_masks_and_constraints(name, tmp_path):
    model = LAYER_MODELS[name][0]()
    pruned = prune_low_magnitude(model, ConstantSparsity(0.5, 0))
    for wrapper in wrappers(pruned):
        wrapper.update_masks(0.5)
    path = str(tmp_path / "m.keras")
    pruned.save(path)
    loaded = keras.saving.load_model(path)
    shape = (2,) + tuple(model.inputs[0].shape[1:])
    rng = np.random.default_rng(10)
    x = rng.integers(0, 12, shape) if name == "embedding" else rng.normal(size=shape)
    np.testing.assert_array_equal(
        loaded.predict(x, verbose=0), pruned.predict(x, verbose=0)
    )
    for (m1, _), (m2, _) in zip(
        masks_and_weights(pruned), masks_and_weights(loaded), strict=True
    ):
        np.testing.assert_array_equal(m1, m2)
    # The constraints are set again at build (on JAX there are none: the
    # wrapper masks in the forward pass).
    constraint = "NoneType" if keras.backend.backend() == "jax" else "_MaskConstraint"
    for wrapper in wrappers(loaded):
        assert all(type(v.constraint).__name__ == constraint for v in wrapper._pruned)


def test_keras_masks_pass_through_the_wrappers():
    model = _seq(
        (6,),
        keras.layers.Embedding(10, 4, mask_zero=True),
        keras.layers.LSTM(3),
        dtype="int32",
    )
    pruned = prune_low_magnitude(model)  # masks still all ones: same function
    x = np.array([[3, 4, 5, 0, 0, 0], [1, 2, 0, 0, 0, 0]])
    np.testing.assert_allclose(
        pruned.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6
    )
    # With the padding mask, the padded steps are skipped: the same output as
    # the unpadded prefix run through the wrapped layers.
    embedding, lstm = pruned.layers
    prefix = lstm(embedding(x[:1, :3]))
    np.testing.assert_allclose(
        pruned.predict(x[:1], verbose=0), keras.ops.convert_to_numpy(prefix), rtol=1e-5
    )


def test_unit_sparsity_follows_the_schedule_during_fit():
    model = _seq(
        (6, 6, 2),
        keras.layers.Conv2D(9, 3, activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(11),
        keras.layers.Dense(2),
    )
    schedule = PolynomialDecay(0.0, 0.7, begin_step=0, end_step=6, power=2, frequency=3)
    pruned = prune_low_magnitude(
        model,
        schedule,
        granularity="unit",
        layers=[model.layers[0].name, model.layers[2].name],
    )
    rng = np.random.default_rng(11)
    record = Record()
    pruned.compile(keras.optimizers.SGD(0.05, momentum=0.9), "mse")
    pruned.fit(
        rng.normal(size=(16, 6, 6, 2)),
        rng.normal(size=(16, 2)),
        batch_size=2,
        shuffle=False,
        callbacks=[Pruning(), record],
        verbose=0,
    )
    for step, pairs in record.begin:
        if step % 3 or step > 6:
            continue
        sparsity = 0.7 + (0.0 - 0.7) * (1 - step / 6) ** 2
        kernels = pairs[0::2]  # (kernel, bias) per unit-pruned wrapper
        for mask, value in kernels:
            units = mask.shape[-1]
            dead = np.all(mask.reshape(-1, units) == 0, axis=0)
            assert dead.sum() == expected_zeros(units, sparsity), step
            assert np.all(value[..., dead] == 0.0)


@pytest.mark.parametrize(
    "sparsity, match",
    [
        (-0.5, r"`sparsity` must be in \[0.0, 1.0\)\. Received: sparsity=-0.5"),
        (float("nan"), r"`sparsity` must not be NaN\. Received: sparsity=nan"),
        (1.0, r"`sparsity` must be in \[0.0, 1.0\)\. Received: sparsity=1.0"),
        (float("inf"), r"Received: sparsity=inf"),
        (float("-inf"), r"Received: sparsity=-inf"),
        (True, r"real number\. Received: sparsity=True"),
        ("0.5", r"real number\. Received: sparsity='0.5'"),
        (np.float32("nan"), r"must not be NaN"),
    ],
)
def test_update_masks_refuses_bad_sparsity(sparsity, match):
    wrapper = PruneLowMagnitude(keras.layers.Dense(3))
    wrapper(np.ones((2, 4), "float32"))
    with pytest.raises(ValueError, match=match):
        wrapper.update_masks(sparsity)


def test_update_masks_accepts_numpy_and_tensor_scalars_and_needs_a_built_layer():
    wrapper = PruneLowMagnitude(keras.layers.Dense(3))
    with pytest.raises(ValueError, match=r"built layer.*Received: layer="):
        wrapper.update_masks(0.5)
    wrapper(np.ones((2, 4), "float32"))
    assert wrapper.update_masks(np.float64(0.5)) == [(6, 12)]
    assert wrapper.update_masks(keras.ops.convert_to_tensor(0.75)) == [(9, 12)]
    assert wrapper.update_masks(0.0) == [(0, 12)]  # counts masked entries


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"granularity": float("nan")}, r"Received: granularity=nan"),
        ({"unit_norm": True}, r"Received: unit_norm=True"),
        ({"block_size": (float("inf"), 2)}, r"Received: block_size=\(inf, 2\)"),
        ({"block_size": (True, 2)}, r"Received: block_size=\(True, 2\)"),
        ({"block_size": "12"}, r"Received: block_size='12'"),
    ],
)
def test_wrapper_refuses_non_finite_bool_and_string_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        PruneLowMagnitude(keras.layers.Dense(3), **kwargs)
    model = _seq((4,), keras.layers.Dense(3))
    with pytest.raises(ValueError, match=match):
        prune_low_magnitude(model, **kwargs)
