"""The optimizers on every backend: the focused subset CI also runs on JAX and PyTorch.

`KERAS_BACKEND=jax python3 -m pytest tests/optimizers -m backends` (and
`=torch`) runs these with the config round trips of test_conformance.py and
the Embedding fit of test_sparse.py. The numbers themselves are compared with
TensorFlow's in tests/backends/cases_optimizers.py.
"""

import keras
import numpy as np
import pytest

from keras_tricks import optimizers
from tests.optimizers.conftest import (
    apply_steps,
    assert_weights_close,
    every_optimizer,
    numpy,
)

pytestmark = pytest.mark.backends

DTYPES = ("float32", "float16", "bfloat16")
# How far a low-precision variable may end from the float32 one after four
# steps (values within 1, one rounding per write, float32 arithmetic between).
ATOL = {"float16": 5e-3, "bfloat16": 4e-2}


@every_optimizer
def test_apply_gradients_on_every_dtype_and_zero_size(cls):
    # One optimizer for a float32, a float16, a bfloat16 and a zero-size
    # variable: four steps past the injection start, with both weight decays.
    # (AngularGrad's step failed here on JAX: a Variable reached `ops.where`.)
    start = np.linspace(-1.0, 1.0, 12).reshape(4, 3)
    variables = [keras.Variable(start, dtype=d) for d in DTYPES]
    variables.append(keras.Variable(np.zeros((0, 3)), dtype="float32"))
    rng = np.random.default_rng(2)
    steps = np.round(rng.normal(size=(4, 4, 3)) * 8) / 8  # exact in every dtype
    grads = [steps] * len(DTYPES) + [np.zeros((4, 0, 3))]
    optimizer = cls(learning_rate=0.05, weight_decay=0.01, l2_weight_decay=0.01)
    apply_steps(optimizer, variables, grads)

    for variable, dtype in zip(variables, DTYPES, strict=False):
        assert keras.backend.standardize_dtype(variable.dtype) == dtype
    assert tuple(variables[-1].shape) == (0, 3)
    for v in [*variables, *optimizer.variables]:
        assert np.isfinite(numpy(v)).all(), v.name
    float32 = numpy(variables[0])
    assert not np.allclose(float32, start)
    for variable, dtype in zip(variables[1:3], DTYPES[1:], strict=True):
        np.testing.assert_allclose(numpy(variable), float32, atol=ATOL[dtype])


def _embedding_model():
    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((4,), dtype="int32"),
            keras.layers.Embedding(12, 3),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )


def test_fit_save_and_load_keep_the_state(tmp_path):
    # fit an Embedding model (sparse gradients on TensorFlow), save, load: the
    # loaded optimizer holds the same state and takes the same next step.
    # AngularGrad has the most state, and its fit failed on JAX.
    rng = np.random.default_rng(0)
    x = rng.integers(0, 8, size=(32, 4)).astype("int32")
    y = rng.normal(size=(32, 1)).astype("float32")
    model = _embedding_model()
    model.compile(optimizer=optimizers.AngularGrad(learning_rate=0.01), loss="mse")
    model.fit(x, y, batch_size=16, epochs=1, shuffle=False, verbose=0)
    model.save(tmp_path / "model.keras")
    loaded = keras.saving.load_model(tmp_path / "model.keras")

    assert type(loaded.optimizer) is optimizers.AngularGrad
    assert int(numpy(loaded.optimizer.iterations)) == 2
    assert_weights_close(loaded.optimizer.variables, model.optimizer.variables, 0, 0)
    grads = [np.full(w.shape, 0.5, "float32") for w in model.get_weights()]
    for m in (model, loaded):
        m.optimizer.apply_gradients(zip(grads, m.trainable_variables, strict=True))
    assert_weights_close(loaded.get_weights(), model.get_weights(), 0, 0)
    assert not np.allclose(
        model.get_weights()[0][8:], _embedding_model().get_weights()[0][8:]
    )
