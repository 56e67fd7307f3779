"""Training with every optimizer: distribution, saving mid-training and resuming
in a fresh process, NaN gradients."""

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np

from keras_tricks import optimizers
from tests.optimizers.conftest import (
    OPTIMIZERS,
    QUICK,
    apply_steps,
    assert_weights_close,
    compile_mlp,
    digits,
    digits_mlp,
    every_optimizer,
)


@every_optimizer
def test_mirrored_strategy_matches_single_device(cls, strategy):
    x, y = digits(64)
    initial = digits_mlp().get_weights()
    weights = []
    # The single-device reference runs eagerly: no second graph to trace.
    for scope, eager in (
        (strategy.scope(), False),
        (keras.utils.custom_object_scope({}), True),
    ):
        with scope:
            model = digits_mlp()
            model.set_weights(initial)
            compile_mlp(model, cls(learning_rate=0.01), run_eagerly=eager)
        # Global batches of 16: each replica sees 8 under the strategy.
        model.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    assert_weights_close(weights[0], weights[1], rtol=1e-5, atol=1e-6)
    assert not np.allclose(weights[1][0], initial[0])


_RESUME = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    import keras_tricks  # registers the classes; no custom_objects needed

    folder, names = sys.argv[1], json.loads(sys.argv[2])
    data = np.load(f"{folder}/data.npz")
    out = {}
    for name in names:
        model = keras.saving.load_model(f"{folder}/{name}.keras")
        # As before saving: eager, but jitted on JAX (see conftest.QUICK).
        model.run_eagerly = keras.backend.backend() != "jax"
        model.fit(data["x"], data["y"], batch_size=32, epochs=1, shuffle=False,
                  verbose=0)
        for i, w in enumerate(model.get_weights()):
            out[f"{name}/{i}"] = w
        out[f"{name}/iterations"] = model.optimizer.iterations.numpy()
    np.savez(f"{folder}/resumed.npz", **out)
    """
)


def test_save_mid_training_and_resume_in_fresh_process(tmp_path):
    x, y = digits(128)
    np.savez(tmp_path / "data.npz", x=x, y=y)
    names = [cls.__name__ for cls in OPTIMIZERS]
    uninterrupted = {}
    for cls in OPTIMIZERS:
        # Eager steps (QUICK): the state round trip is what is tested, and
        # tracing 16 train functions (here and in the fresh process) costs most.
        model = compile_mlp(
            digits_mlp(), cls(learning_rate=0.01, weight_decay=0.01), **QUICK
        )
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        model.save(tmp_path / f"{cls.__name__}.keras")
        model.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
        uninterrupted[cls.__name__] = model.get_weights()
    # This checkout's keras_tricks, whatever is installed.
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, KERAS_BACKEND=keras.backend.backend(), PYTHONPATH=root)
    subprocess.run(
        [sys.executable, "-c", _RESUME, str(tmp_path), json.dumps(names)],
        check=True,
        env=env,
        cwd=tmp_path,
    )
    resumed = np.load(tmp_path / "resumed.npz")
    for name, weights in uninterrupted.items():
        assert resumed[f"{name}/iterations"] == 8
        got = [resumed[f"{name}/{i}"] for i in range(len(weights))]
        assert_weights_close(got, weights, rtol=1e-6, atol=1e-7)


@every_optimizer
def test_nan_gradient_does_not_crash(cls):
    # Documented behaviour: the NaN element turns NaN in the variable (as with
    # Keras's Adam), the other tensors are untouched by it; wrapped in a
    # LossScaleOptimizer the whole step is skipped, state and variables kept.
    variables = [keras.Variable(np.ones(4, "float32")), keras.Variable(np.ones(3))]
    good = np.full(3, 0.5, "float32")
    bad = np.array([0.1, np.nan, 0.2, 0.3], "float32")
    optimizer = cls(learning_rate=0.01)
    optimizer.apply_gradients(zip([bad, good], variables, strict=True))
    first, second = (v.numpy() for v in variables)
    assert np.isnan(first[1]) and np.isfinite(np.delete(first, 1)).all()
    assert np.isfinite(second).all()

    wrapped = keras.optimizers.LossScaleOptimizer(cls(learning_rate=0.01))
    fresh = [keras.Variable(np.ones(4, "float32")), keras.Variable(np.ones(3))]
    if keras.backend.backend() == "jax":
        # Keras's LossScaleOptimizer cannot step eagerly on JAX (its own Adam
        # raises UnexpectedTracerError); fit steps it jitted, as here.
        apply_steps(wrapped, fresh, [bad[None], good[None]])
    else:
        wrapped.apply_gradients(zip([bad, good], fresh, strict=True))
    for v in fresh:
        np.testing.assert_array_equal(v.numpy(), 1.0)
    inner = wrapped.inner_optimizer
    assert all(np.isfinite(v.numpy()).all() for v in inner.variables)


def test_get_by_name_is_case_insensitive():
    assert type(optimizers.get("adabelief")) is optimizers.AdaBelief
    assert type(optimizers.get("RAdam")) is optimizers.RAdam
    assert optimizers.get("angulargrad", method="tan").method == "tan"
