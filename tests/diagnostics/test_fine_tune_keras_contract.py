"""The Keras behaviour `FineTuneOptimizer` relies on
(keras_tricks/optimizers/fine_tune.py).

Each test names one point of the module docstring's list. If a Keras upgrade
breaks one, this file fails first, with the point's number: fix the wrapper
there (and only there), not the test.
"""

import keras
import numpy as np
import pytest

from keras_tricks.optimizers.fine_tune import FineTuneOptimizer, _own_variables

pytestmark = pytest.mark.backends


def _model():
    inputs = keras.Input((4,))
    h = keras.layers.Dense(3, name="body")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(h))


def test_1_base_variables_are_iterations_and_learning_rate():
    optimizer = FineTuneOptimizer(keras.optimizers.Adam(1e-3), ["body"])
    own = _own_variables(optimizer)
    assert [v.name for v in own] == ["iteration", "learning_rate"], (
        "Keras changed what Optimizer.variables holds (point 1)"
    )
    assert any(v is optimizer.iterations for v in own), (
        "Optimizer.iterations is no longer one of Optimizer.variables (point 1)"
    )
    optimizer.build(_model().trainable_variables)
    assert len(optimizer.variables) == 2 + len(
        optimizer.head_optimizer.variables
    ) + len(optimizer.body_optimizer.variables)


def test_2_base_init_does_not_call_the_learning_rate_setter():
    calls = []

    class Spy(keras.optimizers.SGD):
        @property
        def learning_rate(self):
            return super().learning_rate

        @learning_rate.setter
        def learning_rate(self, value):
            calls.append(value)

    Spy(0.5)
    assert calls == [], (
        "Optimizer.__init__ now sets learning_rate through the property (point 2)"
    )


def test_3_saving_goes_through_variables():
    model = _model()
    optimizer = FineTuneOptimizer(keras.optimizers.Adam(1e-3), ["body"])
    optimizer.build(model.trainable_variables)
    store = {}
    optimizer.save_own_variables(store)
    assert len(store) == len(optimizer.variables), (
        "Optimizer.save_own_variables no longer saves optimizer.variables (point 3)"
    )
    store = {k: np.full_like(v, 3) for k, v in store.items()}
    optimizer.load_own_variables(store)
    assert all(np.all(keras.ops.convert_to_numpy(v) == 3) for v in optimizer.variables)


class _Recording(FineTuneOptimizer):
    """Records which entry point the trainer calls."""

    calls = []

    def build(self, var_list):
        self.calls.append(("build", len(var_list)))
        super().build(var_list)

    def apply(self, grads, trainable_variables=None):
        self.calls.append(("apply", len(grads)))
        return super().apply(grads, trainable_variables)

    def stateless_apply(self, optimizer_variables, grads, trainable_variables):
        assert len(optimizer_variables) == len(self.variables)
        self.calls.append(("stateless_apply", len(grads)))
        return super().stateless_apply(optimizer_variables, grads, trainable_variables)


def test_4_trainers_build_then_apply_or_stateless_apply():
    model = _model()
    _Recording.calls = []
    optimizer = _Recording(keras.optimizers.SGD(0.1), ["body"])
    model.compile(optimizer, "mse")
    model.fit(np.ones((8, 4)), np.ones((8, 2)), batch_size=8, epochs=1, verbose=0)
    entry = "stateless_apply" if keras.backend.backend() == "jax" else "apply"
    kinds = [kind for kind, _ in _Recording.calls]
    assert ("build", 4) in _Recording.calls, (
        f"the trainer did not build the optimizer (point 4): {kinds}"
    )
    assert entry in kinds, (
        f"the {keras.backend.backend()} trainer no longer calls {entry} "
        f"(point 4): {kinds}"
    )
    assert int(optimizer.iterations) == 1


def test_wrapper_steps_match_its_two_copies():
    """What the points add up to: one step moves the head at the rate, the body at a
    tenth."""
    model = _model()
    weights = [np.array(w) for w in model.get_weights()]
    model.compile(FineTuneOptimizer(keras.optimizers.SGD(0.1), ["body"]), "mse")
    x, y = np.ones((8, 4), "float32"), np.zeros((8, 2), "float32")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    reference = _model()
    reference.set_weights(weights)
    with_grads = keras.optimizers.SGD(1.0)
    reference.compile(with_grads, "mse")
    reference.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    # SGD(1.0) moved each weight by its gradient g: the wrapper moves the head by 0.1 g,
    # the body by 0.01 g.
    grads = [
        w - np.array(r) for w, r in zip(weights, reference.get_weights(), strict=True)
    ]
    rates = [0.01, 0.01, 0.1, 0.1]  # body kernel, body bias, head kernel, head bias
    for w, g, rate, new in zip(weights, grads, rates, model.get_weights(), strict=True):
        np.testing.assert_allclose(np.array(new), w - rate * g, rtol=1e-5, atol=1e-7)
