"""float16 and bfloat16 variables train at least as safely as with Keras's Adam.

The step is computed in float32 with float32 slots and cast when written, so
`epsilon=1e-8` (0 in float16) never makes a zero gradient 0 / 0.
"""

import keras
import numpy as np
import pytest

from tests.optimizers.conftest import (
    OPTIMIZERS,
    QUICK,
    every_optimizer,
    numpy,
    tensor,
)


def _nan_weights_after_float16_fit(optimizer):
    """NaN weights of a float16 MLP whose first input feature is always zero."""
    keras.mixed_precision.set_global_policy("float16")
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(32, 5)).astype("float16")
    x[:, 0] = 0.0  # the first kernel row gets an exactly-zero gradient
    y = rng.normal(size=(32, 1)).astype("float16")
    model = keras.Sequential(
        [
            keras.Input((5,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1),
        ]
    )
    # Nine traced train functions cost more than four steps each (QUICK).
    model.compile(optimizer=optimizer, loss="mse", **QUICK)
    model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    weights = model.get_weights()
    assert all(keras.backend.standardize_dtype(w.dtype) == "float16" for w in weights)
    return sum(int(np.isnan(w).sum()) for w in weights)


def test_float16_model_with_a_dead_feature_keeps_finite_weights():
    # Keras's Adam is the floor, measured here on the same model and data.
    floor = _nan_weights_after_float16_fit(keras.optimizers.Adam())
    assert floor == 0
    counts = {cls.__name__: _nan_weights_after_float16_fit(cls()) for cls in OPTIMIZERS}
    assert counts == {name: 0 for name in counts}


@every_optimizer
@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_zero_gradient_on_low_precision_variable(cls, dtype):
    # Default epsilon, three steps of an exactly-zero gradient: no 0 / 0, no
    # NaN spreading through a slot (DiffGrad's g_prev); only decoupled decay
    # moves the variable. Compared with the same steps on float32.
    results = []
    for variable_dtype in (dtype, "float32"):
        variable = keras.Variable(np.linspace(-1.0, 1.0, 6), dtype=variable_dtype)
        optimizer = cls(learning_rate=0.01, weight_decay=0.1)
        grads = [np.zeros(6), np.zeros(6), np.r_[0.5, np.zeros(5)]]
        for g in grads:
            optimizer.apply_gradients([(tensor(g, variable_dtype), variable)])
        assert variable.dtype == variable_dtype
        for v in [variable, *optimizer.variables]:
            assert np.isfinite(numpy(v)).all(), v.name
        results.append(numpy(variable))
    atol = 1e-3 if dtype == "float16" else 1e-2
    np.testing.assert_allclose(results[0], results[1], atol=atol)


@every_optimizer
@pytest.mark.parametrize("epsilon", [0.0, 1e-300])
def test_epsilon_below_float32_range_is_handled(cls, epsilon):
    # An epsilon that is 0 in float32 acts as the smallest normal float32:
    # a gradient that has been zero at every step gives a zero step.
    variable = keras.Variable(np.ones((2, 3), "float32"))
    optimizer = cls(learning_rate=0.1, epsilon=epsilon)
    for _ in range(2):
        optimizer.apply_gradients([(tensor([[0.0] * 3, [1.0] * 3]), variable)])
    assert np.isfinite(numpy(variable)).all()
    np.testing.assert_array_equal(numpy(variable)[0], 1.0)
    assert (numpy(variable)[1] < 1.0).all()
    # The argument itself is kept as given, for the config.
    assert optimizer.get_config()["epsilon"] == epsilon


@every_optimizer
def test_float16_steps_follow_float32(cls):
    # The float16 update is the float32 one, rounded once per write: over six
    # steps of small gradients (their squares underflow in float16) the
    # variable stays within float16 rounding of the float32 run.
    rng = np.random.default_rng(5)
    grads = rng.normal(size=(6, 8)) * 1e-4
    results = []
    for dtype in ("float16", "float32"):
        variable = keras.Variable(np.full(8, 0.5), dtype=dtype)
        optimizer = cls(learning_rate=1e-3)
        for g in grads:
            optimizer.apply_gradients([(tensor(g, dtype), variable)])
        results.append(numpy(variable))
    np.testing.assert_allclose(results[0], results[1], atol=2e-3)
    assert not np.allclose(results[1], 0.5)
