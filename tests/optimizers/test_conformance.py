"""The conformance suite: every exported optimizer, enrolled automatically.

For each: the config round-trips (before and after build, through Keras's own
serializer and through `get`), it minimizes a quadratic and the Rosenbrock
function, `fit` on real digits lowers the loss (under mixed_float16, with EMA
and clipnorm), and steps under XLA give the numbers they give eagerly. The
matrix of what users bring (dense and IndexedSlices gradients, float32,
float16, bfloat16 variables and the mixed_float16 setting, zero-size
variables, under XLA and in plain graphs) runs in one tf.function per mode.
"""

import json

import keras
import numpy as np
import pytest

from keras_tricks import optimizers
from keras_tricks.optimizers._registry import wraps_an_optimizer
from tests.optimizers.conftest import (
    BACKEND,
    OPTIMIZERS,
    assert_weights_close,
    compile_mlp,
    digits,
    digits_mlp,
    every_optimizer,
)


@pytest.mark.backends
def test_every_optimizer_is_enrolled_and_named():
    # Enrolment comes from the registry; an empty one would pass every
    # parametrized test vacuously.
    assert OPTIMIZERS, "the registry found no optimizer"
    assert sorted(cls.__name__.lower() for cls in OPTIMIZERS) == (
        optimizers.list_optimizers()
    )
    # Every optimizer class of this subpackage registered for saving (what a
    # new optimizer file does) is enrolled: it is exported, so `get` finds it.
    registered = {
        cls
        for key, cls in keras.saving.get_custom_objects().items()
        if key.startswith("keras_tricks>")
        and isinstance(cls, type)
        and cls.__module__.startswith("keras_tricks.optimizers.")
        and issubclass(cls, keras.optimizers.Optimizer)
    }
    wrappers = {cls for cls in registered if wraps_an_optimizer(cls)}
    assert wrappers == {optimizers.FineTuneOptimizer}, wrappers
    enrolled = set(OPTIMIZERS) | wrappers
    assert registered and registered <= enrolled, registered - enrolled


@pytest.mark.backends
@every_optimizer
def test_config_round_trip(cls):
    optimizer = cls(learning_rate=0.01, weight_decay=0.001, clipnorm=1.0)
    before = optimizer.get_config()
    json.dumps(before)  # JSON values only
    optimizer.build([keras.Variable(np.ones((2, 3), "float32"))])
    assert optimizer.get_config() == before
    assert cls.from_config(before).get_config() == before
    serialized = keras.optimizers.serialize(optimizer)
    assert serialized["registered_name"] == f"keras_tricks>{cls.__name__}"
    revived = keras.optimizers.deserialize(json.loads(json.dumps(serialized)))
    assert type(revived) is cls
    assert revived.get_config() == before
    by_name = optimizers.get(cls.__name__.upper(), learning_rate=0.01)
    assert type(by_name) is cls
    assert type(optimizers.get(serialized)) is cls
    assert optimizers.get(optimizer) is optimizer


def _rosenbrock(p):
    # Scaled by 1/100 so that AdaInject's g**2 term stays of the order of g.
    return 0.01 * (1.0 - p[0]) ** 2 + (p[1] - p[0] ** 2) ** 2


QUADRATIC_CENTRE = np.array([1.0, -1.0, 0.5, 2.0], "float32")
QUADRATIC_SCALE = np.array([1.0, 0.5, 0.2, 2.0], "float32")


def _quadratic(p):
    return keras.ops.sum(QUADRATIC_SCALE * (p - QUADRATIC_CENTRE) ** 2)


# TensorFlow only: 2000 steps need one traced loop with its own gradients
# (tf.while_loop, tf.GradientTape); tests/backends/cases_optimizers.py checks
# that JAX and PyTorch take the same steps as TensorFlow.
@pytest.mark.tf_only
@every_optimizer
def test_minimizes_quadratic_and_rosenbrock(cls):
    import tensorflow as tf

    start = np.array([-1.0, 1.5], "float32")
    rosen = keras.Variable(start)
    quad = keras.Variable(np.zeros(4, "float32"))
    optimizer = cls(learning_rate=0.02)

    @tf.function(autograph=False)
    def train():
        # The two losses share no variable, so one optimizer minimizes both.
        def body(t):
            with tf.GradientTape() as tape:
                loss = _rosenbrock(rosen.value) + _quadratic(quad.value)
            grads = tape.gradient(loss, [rosen.value, quad.value])
            optimizer.apply_gradients(zip(grads, [rosen, quad], strict=True))
            return (t + 1,)

        tf.while_loop(lambda t: t < 2000, body, (tf.constant(0),))

    train()
    np.testing.assert_allclose(quad.numpy(), QUADRATIC_CENTRE, atol=0.01)
    assert float(_rosenbrock(rosen.numpy())) < 0.05 * float(_rosenbrock(start))


@every_optimizer
def test_fit_on_digits_lowers_loss_mixed_float16_ema_clipnorm(cls):
    # One fit per optimizer covers both the plain training check and the
    # wrappers: under mixed_float16 Keras wraps it in a LossScaleOptimizer,
    # with use_ema and clipnorm on.
    keras.mixed_precision.set_global_policy("mixed_float16")
    x, y = digits()
    optimizer = cls(learning_rate=0.03, use_ema=True, clipnorm=1.0)
    # Plain graphs on TensorFlow (XLA compiles slowly on CPU), jitted on JAX.
    model = compile_mlp(digits_mlp(), optimizer, jit_compile=BACKEND == "jax")
    assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
    history = model.fit(x, y, batch_size=32, epochs=4, shuffle=False, verbose=0)
    losses = history.history["loss"]
    assert all(b < a for a, b in zip(losses, losses[1:], strict=False)), losses
    assert losses[-1] < 0.95 * losses[0], losses
    for w in model.get_weights():
        assert w.dtype == np.float32 and np.isfinite(w).all()
    # fit ends by writing the moving averages into the model.
    averages = optimizer._model_variables_moving_average
    assert_weights_close(model.get_weights(), [a.numpy() for a in averages])


@pytest.mark.skipif(
    BACKEND == "torch", reason="jit_compile on PyTorch is torch.compile, not XLA"
)
def test_fit_with_jit_compile_matches_without():
    # model.fit under XLA, for the optimizer with the most scalar switches
    # (injection start, rectification); every optimizer's step is compared
    # under XLA and eagerly in test_same_numbers_with_and_without_jit.
    x, y = digits(128)
    weights = []
    for jit_compile in (False, True):
        optimizer = optimizers.RAdamInject(learning_rate=0.01)
        model = compile_mlp(digits_mlp(), optimizer, jit_compile=jit_compile)
        history = model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
        assert history.history["loss"][1] < history.history["loss"][0]
        weights.append(model.get_weights())
    assert_weights_close(weights[1], weights[0], rtol=1e-4, atol=1e-5)


def _ten_steps(cls, run):
    """Ten steps on three small tensors, through `run(step_function)`.

    Ten steps cross every scalar switch: the injection start (2 or 3), RAdam's
    and AdaBelief's rectification (rho_t >= 5 from step 6), AngularGrad's
    per-tensor angle decision. Both weight-decay forms are on.
    """
    import tensorflow as tf

    rng = np.random.default_rng(7)
    shapes = [(6, 5), (5,), (3, 2, 4)]
    variables = [keras.Variable(rng.normal(size=s).astype("float32")) for s in shapes]
    grads = [tf.constant(rng.normal(size=(10, *s)).astype("float32")) for s in shapes]
    optimizer = cls(learning_rate=0.05, weight_decay=0.01, l2_weight_decay=0.01)
    optimizer.build(variables)

    def step(t):
        optimizer.apply_gradients(zip([g[t] for g in grads], variables, strict=True))

    def steps():
        # A loop, not ten unrolled steps: a small graph compiles fast.
        def body(t):
            step(t)
            return (t + 1,)

        tf.while_loop(lambda t: t < 10, body, (tf.constant(0),))

    run(steps)
    return [v.numpy() for v in variables] + [v.numpy() for v in optimizer.variables]


@pytest.mark.tf_only  # tf.function(jit_compile=True) against TF's eager steps
@every_optimizer
def test_same_numbers_with_and_without_jit(cls):
    import tensorflow as tf

    eager = _ten_steps(cls, lambda f: f())  # tf.while_loop runs eagerly
    compiled = _ten_steps(cls, lambda f: tf.function(f, jit_compile=True)())
    assert_weights_close(compiled, eager, rtol=1e-5, atol=1e-6)


# The matrix of what users bring: every optimizer x dense and IndexedSlices
# gradients x float32 / float16 / bfloat16 variables and the mixed_float16
# setting (float32 variables, Keras's LossScaleOptimizer around ours) x a
# zero-size variable, all in one tf.function per mode (XLA and plain graphs).
# Outcome: finite weights and slots, each sparse table equal to its dense
# twin, low-precision tables within their dtype's rounding of the float32 one.

MATRIX_DTYPES = ("float32", "float16", "bfloat16")
MATRIX_STEPS = 6  # past the injection start (2 or 3) and rectification (6)
# How far a table may end from the float32 one (values within 1, six
# roundings of the variable, float32 arithmetic in between).
MATRIX_ATOL = {"mixed_float16": 1e-6, "float16": 5e-3, "bfloat16": 4e-2}
MATRIX_START = (np.arange(18, dtype="float32").reshape(6, 3) - 9.0) / 9.0


def _matrix_gradients():
    """Six steps of an IndexedSlices gradient for a (6, 3) table, and its dense twin.

    Row 1 appears twice per step (duplicates sum), rows 0, 2, 3, 5 never get a
    gradient (exactly zero in the dense twin: the 0 / 0 case in float16).
    Values are multiples of 1/8 below 4, so that every dtype sums them exactly.
    """
    rng = np.random.default_rng(11)
    values = np.round(rng.normal(size=(MATRIX_STEPS, 3, 3)) * 8) / 8
    values = np.clip(values, -3.875, 3.875).astype("float32")
    indices = np.array([1, 4, 1], "int32")
    dense = np.zeros((MATRIX_STEPS, 6, 3), "float32")
    for t in range(MATRIX_STEPS):
        np.add.at(dense[t], indices, values[t])
    return values, indices, dense


class _Entry:
    """One optimizer of the matrix, its sparse and dense tables, zero-size variables."""

    def __init__(self, cls, case):
        self.cls, self.case = cls, case
        optimizer = cls(learning_rate=0.01, weight_decay=0.01)
        dtypes = MATRIX_DTYPES
        if case == "mixed_float16":
            # Keras wraps the optimizer so under this policy; variables float32.
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
            dtypes = ("float32",)
        self.optimizer = optimizer
        self.tables = {
            d: (
                keras.Variable(MATRIX_START, dtype=d),
                keras.Variable(MATRIX_START, dtype=d),
            )
            for d in dtypes
        }
        self.empty = [keras.Variable(np.zeros((0, 3)), dtype=d) for d in dtypes]
        self.variables = [v for pair in self.tables.values() for v in pair] + self.empty
        optimizer.build(self.variables)

    def apply(self, values, indices, dense, t):
        import tensorflow as tf

        # The LossScaleOptimizer divides by its scale: feed it scaled gradients.
        scale = 2.0**15 if self.case == "mixed_float16" else 1.0
        grads = []
        for d in self.tables:
            sparse = tf.IndexedSlices(tf.cast(values[t] * scale, d), indices, [6, 3])
            grads += [sparse, tf.cast(dense[t] * scale, d)]
        grads += [tf.zeros((0, 3), v.dtype) for v in self.empty]
        self.optimizer.apply_gradients(zip(grads, self.variables, strict=True))


def _run_matrix(jit_compile):
    import tensorflow as tf

    entries = [
        _Entry(cls, case) for cls in OPTIMIZERS for case in ("own", "mixed_float16")
    ]
    values, indices, dense = (tf.constant(a) for a in _matrix_gradients())

    def steps():
        def body(t):
            for entry in entries:
                entry.apply(values, indices, dense, t)
            return (t + 1,)

        tf.while_loop(lambda t: t < MATRIX_STEPS, body, (tf.constant(0),))

    tf.function(steps, jit_compile=jit_compile, autograph=False)()
    return entries


# TensorFlow only: IndexedSlices and tf.function; the dtypes and the zero-size
# variable meet every backend in test_low_precision.py and the cases.
@pytest.mark.tf_only
@pytest.mark.parametrize("jit_compile", [False, True], ids=["graph", "xla"])
def test_matrix_dtypes_sparse_and_zero_size(jit_compile):
    entries = _run_matrix(jit_compile)
    float32_tables = {}
    failures = []
    for entry in entries:
        slots = [v.numpy().astype("float32") for v in entry.optimizer.variables]
        if not all(np.isfinite(s).all() for s in slots):
            failures.append(f"{entry.cls.__name__} {entry.case}: non-finite slots")
        for v in entry.empty:
            if tuple(v.shape) != (0, 3):
                failures.append(f"{entry.cls.__name__}: zero-size became {v.shape}")
        for dtype, (sparse_var, dense_var) in entry.tables.items():
            case = "mixed_float16" if entry.case == "mixed_float16" else dtype
            label = f"{entry.cls.__name__} {case}"
            sparse = sparse_var.numpy().astype("float32")
            dense = dense_var.numpy().astype("float32")
            if sparse_var.dtype != dtype:
                failures.append(f"{label}: the variable became {sparse_var.dtype}")
            if not np.isfinite(sparse).all():
                failures.append(f"{label}: non-finite weights")
            if not np.array_equal(sparse, dense):
                gap = np.max(np.abs(sparse - dense))
                failures.append(f"{label}: sparse != dense (max gap {gap})")
            if case == "float32":
                float32_tables[entry.cls] = sparse
            else:
                gap = np.max(np.abs(sparse - float32_tables[entry.cls]))
                if not gap <= MATRIX_ATOL[case]:
                    failures.append(f"{label}: {gap} from the float32 result")
    assert not failures, "\n".join(failures)
    # The tables moved, also in rows with no gradient (decoupled decay).
    table = entries[0].tables["float32"][0].numpy()
    assert not np.allclose(table[0], MATRIX_START[0])
    assert not np.allclose(table[1], MATRIX_START[1])


@every_optimizer
def test_low_precision_slots_are_float32(cls):
    # What the matrix's float16/bfloat16 results rest on: the slots of a
    # low-precision variable are float32, those of float32/float64 follow it.
    optimizer = cls(use_ema=True)
    variables = [
        keras.Variable(np.ones(3), dtype=d)
        for d in ("float16", "bfloat16", "float32", "float64")
    ]
    optimizer.build(variables)
    for variable, want in zip(
        variables, ("float32", "float32", "float32", "float64"), strict=True
    ):
        index = optimizer._get_variable_index(variable)
        for name, slot in optimizer._slots.items():
            assert slot[index].dtype == want, (name, variable.dtype)
    # Not the EMA copies of the model weights: those follow Keras.
    averages = optimizer._model_variables_moving_average
    assert [a.dtype for a in averages] == [v.dtype for v in variables]
