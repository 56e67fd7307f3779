"""Schedules against float64 NumPy versions of their papers' equations."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_tricks.schedules import (
    CyclicalLearningRate,
    StepDecay,
    Warmup,
    global_batch_size,
    scale_learning_rate,
    scale_learning_rate_for_strategy,
)

STEPS = np.arange(10_000, dtype="float64")


# Smith, 2017 (arXiv 1506.01186), section 3.1, with the triangular2 and
# exp_range scales of the same paper.
def clr_numpy(step, base, top, step_size, mode="triangular", gamma=1.0):
    cycle = np.floor(1 + step / (2 * step_size))
    x = np.abs(step / step_size - 2 * cycle + 1)
    scale = {
        "triangular": np.ones_like(step),
        "triangular2": 1.0 / 2.0 ** np.minimum(cycle - 1, 1000),  # 2**-1000: 0 here
        "exp_range": gamma**step,
    }[mode]
    return base + (top - base) * np.maximum(0.0, 1 - x) * scale


def step_decay_numpy(step, initial, step_size, factor):
    return initial * factor ** np.floor(step / step_size)


def cosine_numpy(step, initial, decay_steps, alpha=0.0):
    fraction = np.minimum(step, decay_steps) / decay_steps
    return initial * ((1 - alpha) * 0.5 * (1 + np.cos(np.pi * fraction)) + alpha)


# Goyal et al., 2017 (arXiv 1706.02677), section 2.2: linear ramp, then the
# wrapped schedule on its own clock (step - warmup_steps).
def warmup_numpy(step, after, warmup_steps, initial=0.0, mode="linear"):
    target = after(np.zeros(1))[0]
    during = initial + (target - initial) * step / warmup_steps
    if mode == "constant":
        during = np.full_like(step, initial)
    return np.where(
        step < warmup_steps, during, after(np.maximum(step - warmup_steps, 0))
    )


def evaluate(schedule, steps):
    """All steps at once, in one XLA-compiled function on TensorFlow."""
    if keras.backend.backend() == "tensorflow":
        return tf.function(schedule, jit_compile=True)(tf.constant(steps)).numpy()
    return keras.ops.convert_to_numpy(schedule(steps))


def assert_close(actual, expected, scale):
    np.testing.assert_allclose(actual, expected, rtol=2e-5, atol=1e-6 * scale)


@pytest.mark.parametrize(
    "mode, step_size, gamma",
    [("triangular", 37, 1.0), ("triangular2", 250, 1.0), ("exp_range", 500, 0.9997)],
)
def test_cyclical_matches_formula_for_10000_steps(mode, step_size, gamma):
    schedule = CyclicalLearningRate(1e-3, 0.2, step_size, mode=mode, gamma=gamma)
    expected = clr_numpy(STEPS, 1e-3, 0.2, step_size, mode, gamma)
    assert_close(evaluate(schedule, STEPS), expected, 0.2)


@pytest.mark.parametrize(
    "mode, step_size, gamma",
    [("triangular", 40, 1.0), ("triangular2", 30, 1.0), ("exp_range", 40, 0.996)],
)
def test_cyclical_at_tf_addons_cases(mode, step_size, gamma):
    # The cases of TF Addons' cyclical_learning_rate_test.py, 8,001 steps.
    steps = np.arange(8001, dtype="float64")
    schedule = CyclicalLearningRate(0.1, 1.0, step_size, mode=mode, gamma=gamma)
    expected = clr_numpy(steps, 0.1, 1.0, step_size, mode, gamma)
    assert_close(evaluate(schedule, steps), expected, 1.0)
    # The shape itself: base at step 0, peak after step_size steps.
    assert evaluate(schedule, np.array([0.0]))[0] == pytest.approx(0.1)
    peak = 1.0 if mode != "exp_range" else 0.1 + 0.9 * gamma**step_size
    assert evaluate(schedule, np.array([float(step_size)]))[0] == pytest.approx(
        peak, rel=1e-5
    )


@pytest.mark.backends
def test_step_decay_matches_formula_for_10000_steps():
    schedule = StepDecay(0.1, step_size=500, factor=0.5)
    assert_close(evaluate(schedule, STEPS), step_decay_numpy(STEPS, 0.1, 500, 0.5), 0.1)


def _wrapped_cases():
    return {
        "constant": (0.3, lambda s: np.full_like(s, 0.3, dtype="float64")),
        "clr": (
            CyclicalLearningRate(0.05, 0.3, 400, mode="triangular2"),
            lambda s: clr_numpy(s, 0.05, 0.3, 400, "triangular2"),
        ),
        "cosine": (
            keras.optimizers.schedules.CosineDecay(0.3, decay_steps=6000, alpha=0.01),
            lambda s: cosine_numpy(s, 0.3, 6000, alpha=0.01),
        ),
        "step_decay": (
            StepDecay(0.3, 1000, 0.5),
            lambda s: step_decay_numpy(s, 0.3, 1000, 0.5),
        ),
    }


@pytest.mark.parametrize("case", ["constant", "clr", "cosine", "step_decay"])
@pytest.mark.parametrize("mode", ["linear", "constant"])
def test_warmup_matches_formula_for_10000_steps(case, mode):
    wrapped, reference = _wrapped_cases()[case]
    schedule = Warmup(wrapped, warmup_steps=500, initial_learning_rate=0.01, mode=mode)
    expected = warmup_numpy(STEPS, reference, 500, 0.01, mode)
    actual = evaluate(schedule, STEPS)
    assert_close(actual, expected, 0.3)
    if mode == "linear":
        # No jump at the hand-over: the last warmup step is one ramp increment
        # below the wrapped schedule's first value.
        increment = (reference(np.zeros(1))[0] - 0.01) / 500
        assert actual[500] - actual[499] == pytest.approx(increment, rel=1e-3)
        assert actual[500] == pytest.approx(reference(np.zeros(1))[0], rel=1e-6)


def test_warmup_of_zero_steps_is_the_wrapped_schedule():
    wrapped = StepDecay(0.2, 100, 0.1)
    schedule = Warmup(wrapped, warmup_steps=0)
    assert_close(
        evaluate(schedule, STEPS[:1000]),
        step_decay_numpy(STEPS[:1000], 0.2, 100, 0.1),
        0.2,
    )


def test_scalar_steps_give_scalars():
    schedule = Warmup(CyclicalLearningRate(0.1, 1.0, 10), warmup_steps=5)
    assert float(schedule(0)) == 0.0
    assert float(
        schedule(keras.Variable(5, dtype="int64", trainable=False))
    ) == pytest.approx(0.1)


def _schedules():
    cosine = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=1000)
    return [
        CyclicalLearningRate(1e-3, 1e-1, 200, mode="exp_range", gamma=0.999),
        StepDecay(0.1, 300, 0.2),
        Warmup(0.2, 50, initial_learning_rate=0.02, mode="constant"),
        Warmup(CyclicalLearningRate(1e-3, 1e-1, 200), 50),
        Warmup(cosine, 50),
        Warmup(StepDecay(0.1, 300), 50),
    ]


@pytest.mark.parametrize("schedule", _schedules(), ids=lambda s: type(s).__name__)
def test_config_round_trip(schedule):
    config = schedule.get_config()
    json.dumps(config)  # only JSON values, no callables
    clone = type(schedule).from_config(config)
    assert clone.get_config() == config
    serialized = keras.saving.serialize_keras_object(schedule)
    restored = keras.saving.deserialize_keras_object(json.loads(json.dumps(serialized)))
    assert type(restored) is type(schedule)
    steps = np.array([0.0, 10.0, 49.0, 50.0, 51.0, 400.0, 999.0])
    np.testing.assert_array_equal(evaluate(restored, steps), evaluate(schedule, steps))


def test_warmup_config_nests_a_serialized_schedule():
    cosine = keras.optimizers.schedules.CosineDecay(0.1, decay_steps=1000)
    config = Warmup(cosine, 10).get_config()
    assert config["learning_rate"]["class_name"] == "CosineDecay"
    assert isinstance(config["learning_rate"]["config"], dict)
    nested = Warmup(CyclicalLearningRate(), 10).get_config()["learning_rate"]
    assert nested["registered_name"] == "keras_tricks>CyclicalLearningRate"


@pytest.mark.backends
def test_saved_model_with_composed_schedule_loads_without_custom_objects(tmp_path):
    schedule = Warmup(CyclicalLearningRate(1e-3, 1e-1, 20, mode="triangular2"), 10)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(schedule), "mse")
    model.fit(np.ones((8, 4)), np.ones((8, 1)), verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    assert (
        loaded.optimizer.get_config()["learning_rate"]
        == model.optimizer.get_config()["learning_rate"]
    )


@pytest.mark.parametrize("case", ["clr", "cosine", "step_decay"])
def test_warmup_composition_in_jit_compiled_fit(case):
    wrapped, reference = _wrapped_cases()[case]
    schedule = Warmup(wrapped, warmup_steps=3, initial_learning_rate=0.0)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1, use_bias=False)])
    model.layers[0].set_weights([np.zeros((2, 1), "float32")])
    model.compile(keras.optimizers.SGD(schedule), "mse", jit_compile=True)
    x, y = np.ones((10, 2), "float32"), np.ones((10, 1), "float32")
    model.fit(x, y, batch_size=1, epochs=1, shuffle=False, verbose=0)
    # Plain SGD on w with a constant input: replay the rates in NumPy.
    rates = warmup_numpy(np.arange(10.0), reference, 3, 0.0)
    w = np.zeros(2)
    for rate in rates:
        w -= rate * 2 * (w.sum() - 1.0) * np.ones(2)
    np.testing.assert_allclose(model.layers[0].get_weights()[0][:, 0], w, rtol=1e-5)
    assert float(model.optimizer.learning_rate) == pytest.approx(
        warmup_numpy(np.array([10.0]), reference, 3, 0.0)[0], rel=1e-6
    )


def test_linear_scaling_rule():
    assert scale_learning_rate(0.1, batch_size=8192) == pytest.approx(3.2)
    assert scale_learning_rate(0.1, batch_size=256) == pytest.approx(0.1)
    assert scale_learning_rate(
        0.05, batch_size=64, base_batch_size=32
    ) == pytest.approx(0.1)


def test_linear_scaling_reads_the_strategy(strategy):
    assert global_batch_size(32) == 32
    assert global_batch_size(32, strategy) == 64
    with strategy.scope():
        assert global_batch_size(32) == 64
        assert scale_learning_rate_for_strategy(0.1, 128) == pytest.approx(0.1)
    assert scale_learning_rate_for_strategy(
        0.1, 128, strategy=strategy
    ) == pytest.approx(0.1)
    assert scale_learning_rate_for_strategy(0.1, 128) == pytest.approx(0.05)


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: CyclicalLearningRate(0.1, 0.01),
            "max_learning_rate.*Received: max_learning_rate=0.01",
        ),
        (
            lambda: CyclicalLearningRate(-0.1, 0.01),
            "base_learning_rate.*Received: base_learning_rate=-0.1",
        ),
        (
            lambda: CyclicalLearningRate(step_size=0),
            "step_size.*>= 1. Received: step_size=0",
        ),
        (lambda: CyclicalLearningRate(step_size=-3), "Received: step_size=-3"),
        (
            lambda: CyclicalLearningRate(step_size=2.5),
            "step_size.*integer. Received: step_size=2.5",
        ),
        (
            lambda: CyclicalLearningRate(gamma=0.0),
            r"gamma.*\(0.0, 1.0\]. Received: gamma=0.0",
        ),
        (lambda: CyclicalLearningRate(gamma=-1.0), "Received: gamma=-1.0"),
        (lambda: CyclicalLearningRate(mode="cosine"), "mode.*Received: mode='cosine'"),
        (
            lambda: Warmup(0.1, warmup_steps=-1),
            "warmup_steps.*>= 0. Received: warmup_steps=-1",
        ),
        (lambda: Warmup(0.1, 10, mode="exp"), "mode.*Received: mode='exp'"),
        (lambda: Warmup(-0.1, 10), "learning_rate.*Received: learning_rate=-0.1"),
        (
            lambda: Warmup(0.1, 10, initial_learning_rate=-1.0),
            "Received: initial_learning_rate=-1.0",
        ),
        (lambda: StepDecay(factor=0.0), r"factor.*\(0.0, 1.0\]. Received: factor=0.0"),
        (lambda: StepDecay(factor=1.5), r"factor.*Received: factor=1.5"),
        (lambda: StepDecay(step_size=0), "step_size.*Received: step_size=0"),
        (
            lambda: StepDecay(initial_learning_rate=-1.0),
            "Received: initial_learning_rate=-1.0",
        ),
        (lambda: scale_learning_rate(0.1, 0), "batch_size.*Received: batch_size=0"),
        (
            lambda: scale_learning_rate(0.0, 8),
            "base_learning_rate.*Received: base_learning_rate=0.0",
        ),
        (
            lambda: scale_learning_rate(0.1, 8, base_batch_size=0),
            "Received: base_batch_size=0",
        ),
        (
            lambda: global_batch_size(0),
            "per_replica_batch_size.*Received: per_replica_batch_size=0",
        ),
    ],
)
def test_bad_input(build, message):
    with pytest.raises(ValueError, match=message):
        build()


# Integer steps past float32's 2**24: the optimizer's int64 `iterations` at
# any step. The references are the same float64 equations, exact at these
# steps (float64 holds integers to 2**53).
INT32_ONLY = (
    keras.backend.backend() == "jax" and not __import__("jax").config.jax_enable_x64
)


def _integer_steps(steps):
    """`steps`, those past int32 skipped where the backend has no int64."""
    return [
        pytest.param(
            step,
            marks=pytest.mark.skipif(
                INT32_ONLY and step >= 2**31,
                reason="JAX without jax_enable_x64 has no int64: "
                "its optimizer counts in int32",
            ),
        )
        for step in steps
    ]


LARGE_STEPS = _integer_steps([0, 1, 37, 2**24 + 1, 2**24 + 37, 2**31 + 7, 10**12 + 3])


def _compiled(function):
    """`function` compiled by the backend (XLA on TensorFlow and JAX); None on torch."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        compiled = tf.function(lambda s: s, jit_compile=True)
        return lambda step: tf.function(
            lambda s: compiled(function(s)), jit_compile=True
        )(tf.constant(step, "int64"))
    if backend == "jax":
        import jax

        return jax.jit(function)
    return None


def _integer_step_inputs(step):
    """The forms an integer step arrives in: Python int, int64 tensor, Variable, XLA."""
    variable = keras.Variable(step, dtype="int64", trainable=False)
    forms = {
        "python_int": lambda schedule: schedule(step),
        "int64_tensor": lambda schedule: schedule(
            keras.ops.convert_to_tensor(step, "int64")
        ),
        "variable": lambda schedule: schedule(variable),
    }
    if _compiled(lambda s: s) is not None:
        forms["xla"] = lambda schedule: _compiled(schedule)(step)
    return forms


@pytest.mark.parametrize("step", LARGE_STEPS)
@pytest.mark.parametrize(
    "mode, gamma", [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 1 - 1e-13)]
)
def test_cyclical_is_exact_at_large_integer_steps(step, mode, gamma):
    schedule = CyclicalLearningRate(1e-3, 0.1, step_size=37, mode=mode, gamma=gamma)
    expected = clr_numpy(np.float64(step), 1e-3, 0.1, 37, mode, gamma)
    for form, call in _integer_step_inputs(step).items():
        actual = float(keras.ops.convert_to_numpy(call(schedule)))
        assert actual == pytest.approx(expected, rel=1e-5, abs=1e-9), form


@pytest.mark.backends
def test_cyclical_at_two_to_the_24_plus_one_is_not_the_float32_step():
    # The case: float32(2**24 + 1) == 2**24, one step off the cycle.
    schedule = CyclicalLearningRate(1e-3, 0.1, step_size=2000)
    expected = clr_numpy(np.float64(2**24 + 1), 1e-3, 0.1, 2000)
    rounded = clr_numpy(np.float64(np.float32(2**24 + 1)), 1e-3, 0.1, 2000)
    assert abs(expected - rounded) > 1e-5  # the test can tell them apart
    assert float(schedule(2**24 + 1)) == pytest.approx(expected, rel=1e-6)


@pytest.mark.backends
@pytest.mark.parametrize(
    "step", _integer_steps([2**24 - 1, 17_000 * 1000 - 1, 2**31 + 7, 10**12 + 3])
)
def test_step_decay_is_exact_at_large_integer_steps(step):
    # A factor near 1 keeps the rate visible after millions of decays; the
    # step just below a decay boundary is where a float32 step rounds over it.
    schedule = StepDecay(0.1, step_size=1000, factor=0.9999999)
    expected = step_decay_numpy(np.float64(step), 0.1, 1000, 0.9999999)
    for form, call in _integer_step_inputs(step).items():
        actual = float(keras.ops.convert_to_numpy(call(schedule)))
        assert actual == pytest.approx(expected, rel=1e-5), form


def test_step_decay_factor_power_is_not_float32_drift():
    # 0.9999**16999 in float32 drifts by 1e-3 relative; the float64 log does not.
    schedule = StepDecay(1.0, step_size=1, factor=0.9999)
    assert float(schedule(16999)) == pytest.approx(0.9999**16999, rel=1e-5)


@pytest.mark.backends
@pytest.mark.parametrize(
    "step", _integer_steps([2**25 - 1, 2**25, 2**25 + 2**24 + 1, 10**12 + 3])
)
def test_warmup_is_exact_at_large_integer_steps(step):
    warmup_steps = 2**25
    wrapped = CyclicalLearningRate(0.05, 0.3, 37)
    schedule = Warmup(wrapped, warmup_steps=warmup_steps, initial_learning_rate=0.01)
    expected = warmup_numpy(
        np.array([step], "float64"),
        lambda s: clr_numpy(s, 0.05, 0.3, 37),
        warmup_steps,
        0.01,
    )[0]
    for form, call in _integer_step_inputs(step).items():
        actual = float(keras.ops.convert_to_numpy(call(schedule)))
        assert actual == pytest.approx(expected, rel=1e-5), form


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64", "int32", "uint8"])
def test_schedules_take_steps_of_any_dtype(dtype):
    steps = np.array([0, 5, 36, 37, 74, 200], dtype)
    for schedule, reference in [
        (CyclicalLearningRate(0.01, 0.1, 37), lambda s: clr_numpy(s, 0.01, 0.1, 37)),
        (StepDecay(0.1, 37, 0.5), lambda s: step_decay_numpy(s, 0.1, 37, 0.5)),
        (
            Warmup(StepDecay(0.1, 37, 0.5), 10),
            lambda s: warmup_numpy(s, lambda t: step_decay_numpy(t, 0.1, 37, 0.5), 10),
        ),
    ]:
        actual = keras.ops.convert_to_numpy(
            schedule(keras.ops.convert_to_tensor(steps))
        )
        assert actual.dtype == np.float32
        assert_close(actual, reference(steps.astype("float64")), 0.1)
    assert float(CyclicalLearningRate(0.01, 0.1, 37)(18.5)) == pytest.approx(
        clr_numpy(np.float64(18.5), 0.01, 0.1, 37)
    )


INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: CyclicalLearningRate(max_learning_rate=INF),
            "max_learning_rate.*finite. Received: max_learning_rate=inf",
        ),
        (
            lambda: CyclicalLearningRate(base_learning_rate=-INF),
            "base_learning_rate.*Received: base_learning_rate=-inf",
        ),
        (
            lambda: CyclicalLearningRate(max_learning_rate=NAN),
            "max_learning_rate.*NaN. Received: max_learning_rate=nan",
        ),
        (
            lambda: CyclicalLearningRate(1e-3, 1e39),
            "max_learning_rate.*largest float32.*Received: max_learning_rate=1e\\+39",
        ),
        (lambda: CyclicalLearningRate(gamma=INF), "Received: gamma=inf"),
        (
            lambda: CyclicalLearningRate(gamma=1.01),
            r"gamma.*\(0.0, 1.0\]. Received: gamma=1.01",
        ),
        (
            lambda: CyclicalLearningRate(step_size=True),
            "step_size.*integer. Received: step_size=True",
        ),
        (
            lambda: CyclicalLearningRate(max_learning_rate="0.1"),
            "max_learning_rate.*real number. Received: max_learning_rate='0.1'",
        ),
        (
            lambda: Warmup(learning_rate=INF),
            "learning_rate.*finite. Received: learning_rate=inf",
        ),
        (
            lambda: Warmup(learning_rate=NAN),
            "learning_rate.*Received: learning_rate=nan",
        ),
        (
            lambda: Warmup(learning_rate=None),
            "learning_rate.*Received: learning_rate=None",
        ),
        (
            lambda: Warmup(0.1, initial_learning_rate=INF),
            "Received: initial_learning_rate=inf",
        ),
        (
            lambda: Warmup(0.1, warmup_steps=1e3),
            "warmup_steps.*integer. Received: warmup_steps=1000.0",
        ),
        (
            lambda: StepDecay(initial_learning_rate=INF),
            "Received: initial_learning_rate=inf",
        ),
        (lambda: StepDecay(factor=NAN), "factor.*Received: factor=nan"),
        (
            lambda: scale_learning_rate(INF, 256),
            "base_learning_rate.*finite. Received: base_learning_rate=inf",
        ),
        (lambda: scale_learning_rate(NAN, 256), "Received: base_learning_rate=nan"),
        (
            lambda: scale_learning_rate(3e38, 2**20),
            "largest float32.*Received: base_learning_rate=3e\\+38",
        ),
        (
            lambda: scale_learning_rate(0.1, True),
            "batch_size.*Received: batch_size=True",
        ),
    ],
)
def test_refuses_infinity_nan_and_other_non_numbers(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_global_batch_size_refuses_a_strategy_that_is_not_one():
    with pytest.raises(
        TypeError,
        match="`strategy` must be a tf.distribute.Strategy.*"
        "Received: strategy='mirrored'",
    ):
        global_batch_size(64, "mirrored")
    with pytest.raises(TypeError, match="Received: strategy=3"):
        scale_learning_rate_for_strategy(0.1, 64, strategy=3)
