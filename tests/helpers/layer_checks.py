"""The one helper every layer test calls.

``check_layer(cls, kwargs, input_shape, tmp_path)`` runs, for one layer class
and its arguments, every check a Keras user relies on (a layer among the
arguments, as a wrapper takes, is cloned unbuilt for every construction):

- ``get_config``/``from_config`` round trip, JSON-serializable, the same before
  and after ``build``;
- symbolic and eager calls agree with ``compute_output_shape``;
- a model using the layer saves and loads in the ``.keras`` format with no
  ``custom_objects`` and gives identical outputs;
- one ``fit`` step runs and moves the trainable weights;
- ``mixed_float16``: output in the compute dtype, variables in float32, values
  close to the float32 layer's;
- ``jit_compile=True`` gives the same predictions and trains;
- ``fit`` under ``MirroredStrategy`` (2 replicas) ends with the same weights as a
  single-device ``fit`` on the same global batches; for a layer that draws
  random numbers (``random=True``) it shows instead that the model trains under
  the strategy and that every replica holds the same values afterwards.
"""

import contextlib
import json

import keras
import numpy as np

GLOBAL_BATCH = 8


def _make(cls, kwargs):
    """``cls(**kwargs)`` with a fresh copy of every layer argument.

    A wrapper (``kwargs={"layer": keras.layers.Dense(3)}``) must wrap a new,
    unbuilt layer each time a check constructs it, under the dtype policy in
    force (so its saved ``dtype`` is dropped).
    """

    def clone(layer):
        config = {k: v for k, v in layer.get_config().items() if k != "dtype"}
        return type(layer).from_config(config)

    fresh = {
        key: clone(value) if isinstance(value, keras.layers.Layer) else value
        for key, value in kwargs.items()
    }
    return cls(**fresh)


def _inputs(input_shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=input_shape).astype("float32")


def _model(layer, input_shape):
    inputs = keras.Input(shape=input_shape[1:])
    return keras.Model(inputs, layer(inputs))


def check_config_round_trip(cls, kwargs, input_shape):
    layer = _make(cls, kwargs)
    before = layer.get_config()
    json.dumps(before)  # only JSON values in a config
    layer(_inputs(input_shape))
    after = layer.get_config()
    assert before == after, (before, after)
    clone = cls.from_config(after)
    assert clone.get_config() == after
    # The registered name resolves through Keras's own deserializer.
    serialized = keras.saving.serialize_keras_object(layer)
    assert serialized["registered_name"].startswith("keras_tricks>")
    revived = keras.saving.deserialize_keras_object(serialized)
    assert type(revived) is cls
    return layer


def check_symbolic_and_eager(cls, kwargs, input_shape):
    layer = _make(cls, kwargs)
    symbolic = layer(keras.KerasTensor(input_shape))
    expected = tuple(layer.compute_output_shape(input_shape))
    assert tuple(symbolic.shape) == expected, (symbolic.shape, expected)
    eager = layer(_inputs(input_shape))
    assert tuple(eager.shape) == expected
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(eager)))


def check_save_load(cls, kwargs, input_shape, tmp_path):
    model = _model(_make(cls, kwargs), input_shape)
    x = _inputs(input_shape, seed=1)
    # Move weights off their initial values so that loading them is tested.
    model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
    y = model.predict(x, verbose=0)
    model.fit(x, np.random.default_rng(2).normal(size=y.shape), epochs=1, verbose=0)
    expected = model.predict(x, verbose=0)
    path = str(tmp_path / "model.keras")
    model.save(path)
    loaded = keras.saving.load_model(path)  # no custom_objects
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), expected)
    return loaded


def check_fit_step(cls, kwargs, input_shape, jit_compile=False):
    model = _model(_make(cls, kwargs), input_shape)
    x = _inputs(input_shape, seed=3)
    y_shape = (input_shape[0],) + tuple(model.output_shape[1:])
    y = np.random.default_rng(4).normal(size=y_shape).astype("float32")
    model.compile(
        optimizer=keras.optimizers.SGD(0.05), loss="mse", jit_compile=jit_compile
    )
    before = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    history = model.fit(x, y, batch_size=input_shape[0], epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    after = [keras.ops.convert_to_numpy(w) for w in model.trainable_weights]
    if before:
        assert any(
            not np.array_equal(a, b) for a, b in zip(before, after, strict=False)
        ), "one fit step left every trainable weight unchanged"
    return model


def check_jit_compile(cls, kwargs, input_shape):
    x = _inputs(input_shape, seed=5)
    model = _model(_make(cls, kwargs), input_shape)
    model.compile(loss="mse", jit_compile=False)
    eager = model.predict(x, verbose=0)
    jitted = keras.models.clone_model(model)
    jitted.set_weights(model.get_weights())
    jitted.compile(loss="mse", jit_compile=True)
    np.testing.assert_allclose(
        jitted.predict(x, verbose=0), eager, rtol=1e-5, atol=1e-5
    )
    check_fit_step(cls, kwargs, input_shape, jit_compile=True)


def check_mixed_float16(cls, kwargs, input_shape, rtol=2e-2, atol=2e-2):
    x = _inputs(input_shape, seed=6)
    reference = _model(_make(cls, kwargs), input_shape)
    expected = reference.predict(x, verbose=0)
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        layer = _make(cls, kwargs)
        model = _model(layer, input_shape)
        model.set_weights(reference.get_weights())
        out = layer(x)
        assert keras.backend.standardize_dtype(out.dtype) == "float16", out.dtype
        for w in layer.weights:
            assert w.dtype == "float32", (w.path, w.dtype)
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(out).astype("float32"),
            expected,
            rtol=rtol,
            atol=atol,
        )
        model.compile(optimizer=keras.optimizers.SGD(0.01), loss="mse")
        history = model.fit(x, expected, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
    finally:
        keras.mixed_precision.set_global_policy("float32")


def _train(cls, kwargs, input_shape, weights, x, y, strategy=None):
    scope = strategy.scope() if strategy is not None else contextlib.nullcontext()
    with scope:
        model = _model(_make(cls, kwargs), input_shape)
        if weights is not None:
            model.set_weights(weights)
        model.compile(optimizer=keras.optimizers.SGD(0.05), loss="mse")
    model.fit(x, y, batch_size=GLOBAL_BATCH, epochs=1, shuffle=False, verbose=0)
    return model


def replica_values(strategy, variable):
    """Values of one Keras variable on each replica of ``strategy``."""
    return [np.asarray(v) for v in strategy.experimental_local_results(variable.value)]


def check_mirrored_strategy(
    cls, kwargs, input_shape, strategy, random=False, rtol=1e-5
):
    steps = 3
    sample_shape = (GLOBAL_BATCH * steps,) + tuple(input_shape[1:])
    x = _inputs(sample_shape, seed=7)
    probe = _model(_make(cls, kwargs), (GLOBAL_BATCH,) + tuple(input_shape[1:]))
    y_shape = (sample_shape[0],) + tuple(probe.output_shape[1:])
    y = np.random.default_rng(8).normal(size=y_shape).astype("float32")
    weights = probe.get_weights()

    distributed = _train(cls, kwargs, sample_shape, weights, x, y, strategy=strategy)
    for variable in distributed.weights:
        values = replica_values(strategy, variable)
        assert len(values) == strategy.num_replicas_in_sync
        for other in values[1:]:
            np.testing.assert_array_equal(values[0], other, err_msg=variable.path)
    if random:
        moved = [
            not np.array_equal(a, b)
            for a, b in zip(weights, distributed.get_weights(), strict=False)
        ]
        if moved:  # a layer with no weights has nothing to move
            assert any(moved), "training under the strategy left the weights unchanged"
        return distributed

    single = _train(cls, kwargs, sample_shape, weights, x, y)
    for a, b, variable in zip(
        single.get_weights(), distributed.get_weights(), single.weights, strict=False
    ):
        np.testing.assert_allclose(b, a, rtol=rtol, atol=1e-6, err_msg=variable.path)
    return distributed


def check_layer(
    cls,
    kwargs,
    input_shape,
    tmp_path,
    strategy=None,
    random=False,
    mixed_precision=True,
    jit_compile=True,
):
    """Run every check above; pass the ``strategy`` fixture for the distributed one."""
    check_config_round_trip(cls, kwargs, input_shape)
    check_symbolic_and_eager(cls, kwargs, input_shape)
    check_save_load(cls, kwargs, input_shape, tmp_path)
    check_fit_step(cls, kwargs, input_shape)
    if jit_compile:
        check_jit_compile(cls, kwargs, input_shape)
    if mixed_precision:
        check_mixed_float16(cls, kwargs, input_shape)
    if strategy is not None:
        check_mirrored_strategy(cls, kwargs, input_shape, strategy, random=random)
    keras.backend.clear_session()
