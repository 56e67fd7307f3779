"""The Pruning callback: logs, config, errors."""

import json
import warnings

import keras
import numpy as np
import pytest

from keras_tricks.callbacks import Pruning
from keras_tricks.pruning import ConstantSparsity, PolynomialDecay, prune_low_magnitude
from tests.pruning._helpers import expected_zeros


def _pruned(schedule):
    base = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(10, name="a"),
            keras.layers.Dense(2, name="b"),
        ]
    )
    model = prune_low_magnitude(base, schedule)
    model.compile(keras.optimizers.SGD(0.01), "mse")
    return model


def test_sparsity_is_logged_into_history():
    # Kernels: a has 40 weights, b 20; at 50% each keeps max(round(n/2), 1).
    schedule = PolynomialDecay(0.0, 0.5, begin_step=0, end_step=3, frequency=1)
    model = _pruned(schedule)
    rng = np.random.default_rng(0)
    history = model.fit(
        rng.normal(size=(16, 4)),
        rng.normal(size=(16, 2)),
        batch_size=4,
        epochs=2,
        callbacks=[Pruning(log_per_layer=True)],
        verbose=0,
    )
    expected = (40 - 20 + 20 - 10) / 60
    assert history.history["pruning/sparsity"] == [pytest.approx(expected)] * 2
    assert history.history["pruning/prune_low_magnitude_a"] == [0.5, 0.5]
    assert history.history["pruning/prune_low_magnitude_b"] == [0.5, 0.5]


def test_logs_before_the_first_pruning_step_report_zero():
    model = _pruned(ConstantSparsity(0.5, begin_step=100))
    rng = np.random.default_rng(1)
    history = model.fit(
        rng.normal(size=(8, 4)),
        rng.normal(size=(8, 2)),
        epochs=1,
        callbacks=[Pruning()],
        verbose=0,
    )
    assert history.history["pruning/sparsity"] == [0.0]
    assert "pruning/prune_low_magnitude_a" not in history.history


@pytest.mark.backends
def test_config_round_trip():
    callback = Pruning(log_per_layer=True)
    config = callback.get_config()
    json.dumps(config)
    assert Pruning.from_config(config).get_config() == config
    assert keras.saving.get_registered_name(Pruning) == "keras_tricks>Pruning"


def test_bad_inputs():
    with pytest.raises(
        ValueError, match=r"log_per_layer.*bool.*Received: log_per_layer=1"
    ):
        Pruning(log_per_layer=1)
    with pytest.raises(ValueError, match=r"bool.*Received: log_per_layer='False'"):
        Pruning(log_per_layer="False")
    plain = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    plain.compile("sgd", "mse")
    with pytest.raises(
        ValueError, match=r"no PruneLowMagnitude layers.*Received: model="
    ):
        plain.fit(np.zeros((2, 4)), np.zeros((2, 2)), callbacks=[Pruning()], verbose=0)


def _dense_model(schedule, steps_per_execution=1):
    if steps_per_execution > 1 and keras.backend.backend() == "torch":
        pytest.skip("Keras's PyTorch trainer refuses steps_per_execution > 1")
    keras.utils.set_random_seed(3)
    base = keras.Sequential([keras.Input((4,)), keras.layers.Dense(8, name="a")])
    model = prune_low_magnitude(base, schedule)
    model.compile(
        keras.optimizers.SGD(0.01), "mse", steps_per_execution=steps_per_execution
    )
    return model


class _Sparsity(keras.callbacks.Callback):
    """(step, sparsity) seen at each batch begin, after `Pruning` ran."""

    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        step = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
        mask = keras.ops.convert_to_numpy(self.model.layers[0]._masks[0])
        self.seen.append((step, float((mask == 0).mean())))


def _fit(model, steps, callbacks, batch_size=2, epochs=1):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(steps * batch_size, 4)).astype("float32")
    y = rng.normal(size=(steps * batch_size, 8)).astype("float32")
    model.fit(
        x,
        y,
        batch_size=batch_size,
        epochs=epochs,
        shuffle=False,
        callbacks=callbacks,
        verbose=0,
    )


@pytest.mark.parametrize(
    "steps_per_execution", [1, pytest.param(3, marks=pytest.mark.backends), 4]
)
def test_steps_between_executions_prune_at_the_next_boundary(steps_per_execution):
    # The case: begin_step=5 is no multiple of 3 or 4; it used to be
    # skipped for good (sparsity 0.0 after 48 steps).
    model = _dense_model(
        ConstantSparsity(0.5, begin_step=5, frequency=100), steps_per_execution
    )
    record = _Sparsity()
    _fit(model, 48, [Pruning(), record])
    first = -(-5 // steps_per_execution) * steps_per_execution  # first boundary >= 5
    assert record.seen[0][0] == 0
    assert [s for step, s in record.seen if step < first] == [0.0] * (
        first // steps_per_execution
    )
    assert [s for step, s in record.seen if step >= first] == [0.5] * len(
        range(first, 48, steps_per_execution)
    )


@pytest.mark.parametrize("steps_per_execution", [1, 3, 4])
def test_polynomial_decay_reaches_its_final_sparsity(steps_per_execution):
    schedule = PolynomialDecay(
        0.0, 0.75, begin_step=0, end_step=10, frequency=5, power=1
    )
    model = _dense_model(schedule, steps_per_execution)
    record = _Sparsity()
    # 7 steps per epoch: an epoch's last execution is shorter than the others.
    _fit(model, 7, [Pruning(), record], epochs=2)
    assert int(model.optimizer.iterations) == 14
    for step, sparsity in record.seen:
        # The latest scheduled step (0, 5 or 10) at or before this boundary.
        latest = min(step // 5 * 5, 10)
        assert sparsity == expected_zeros(32, schedule.sparsity(latest)) / 32, step
    assert record.seen[-1][1] == expected_zeros(32, 0.75) / 32


def test_a_step_inside_the_last_execution_of_a_fit_is_pruned_by_the_next_fit():
    model = _dense_model(ConstantSparsity(0.5, begin_step=5, frequency=100), 4)
    _fit(model, 8, [Pruning()])  # executions 0-3 and 4-7: step 5 runs inside the second
    assert int(model.optimizer.iterations) == 8
    record = _Sparsity()
    _fit(model, 4, [Pruning(), record])
    assert record.seen == [(8, 0.5)]


def _error_on_the_warning():
    warnings.filterwarnings(
        "error", message="A model with PruneLowMagnitude", category=UserWarning
    )


def test_training_without_the_callback_warns_once():
    model = _dense_model(ConstantSparsity(0.5, begin_step=0))
    with pytest.warns(
        UserWarning, match=r"without the `keras_tricks.callbacks.Pruning`"
    ):
        _fit(model, 2, [])
    with warnings.catch_warnings():
        _error_on_the_warning()
        _fit(model, 2, [])  # once per model
        model.predict(np.zeros((2, 4)), verbose=0)
        model.evaluate(np.zeros((2, 4)), np.zeros((2, 8)), verbose=0)


def test_training_with_the_callback_or_by_hand_does_not_warn():
    model = _dense_model(ConstantSparsity(0.5, begin_step=0))
    with warnings.catch_warnings():
        _error_on_the_warning()
        _fit(model, 2, [Pruning()])
        # A custom training loop that updates the masks itself.
        by_hand = _dense_model(ConstantSparsity(0.5, begin_step=0))
        by_hand.layers[0].update_masks(0.5)
        by_hand(np.ones((2, 4), "float32"), training=True)  # where the warning is given


def test_a_custom_schedule_that_overrides_should_prune():
    class Odd(ConstantSparsity):
        def should_prune(self, step):
            return step % 2 == 1

    model = _dense_model(Odd(0.5), 4)
    record = _Sparsity()
    _fit(model, 8, [Pruning(), record])
    assert record.seen == [(0, 0.0), (4, 0.5)]


def _short_warnings(record):
    return [str(w.message) for w in record if "stopped short" in str(w.message)]


def _fit_eight_steps(model):
    """Train 8 steps with the callback; return the history and the stop-short
    warnings."""
    rng = np.random.default_rng(0)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        history = model.fit(
            rng.normal(size=(16, 4)),
            rng.normal(size=(16, 2)),
            batch_size=2,
            epochs=1,
            callbacks=[Pruning()],
            verbose=0,
        )
    return history, _short_warnings(record)


def test_warns_when_fit_ends_before_end_step():
    # 8 steps of a schedule that reaches 80% only at step 100.
    model = _pruned(PolynomialDecay(0.0, 0.8, begin_step=0, end_step=100, frequency=1))
    history, messages = _fit_eight_steps(model)
    assert len(messages) == 1, (
        messages
    )  # one warning for the schedule both layers share
    reached = history.history["pruning/sparsity"][-1]
    assert 0.0 < reached < 0.8
    assert (
        "PolynomialDecay reaches its target sparsity 80.0% at end_step=100, "
        "but training "
        "ended at step 8 (masks last updated at step 7); "
        "the weights it prunes (2 layers) "
        f"are at {reached:.1%} sparsity. Train for more steps (at least 101 in all)"
    ) in messages[0]


@pytest.mark.parametrize(
    "schedule",
    [
        PolynomialDecay(0.0, 0.8, begin_step=0, end_step=6, frequency=2),  # reached
        ConstantSparsity(
            0.5, begin_step=0, end_step=100, frequency=1
        ),  # at target from 0
        ConstantSparsity(0.5, begin_step=100),  # end_step=-1: never warns
    ],
    ids=["polynomial_reached", "constant_finite_end", "constant_no_end"],
)
def test_no_warning_when_end_step_is_reached_or_has_no_end(schedule):
    _, messages = _fit_eight_steps(_pruned(schedule))
    assert messages == []


def test_warns_when_begin_step_is_never_reached():
    model = _pruned(ConstantSparsity(0.5, begin_step=50, end_step=60, frequency=1))
    rng = np.random.default_rng(0)
    with pytest.warns(
        UserWarning,
        match=r"target sparsity 50\.0% at end_step=60.*"
        r"ended at step 8 \(masks never updated\).*at 0\.0% sparsity",
    ):
        model.fit(
            rng.normal(size=(16, 4)),
            rng.normal(size=(16, 2)),
            batch_size=2,
            callbacks=[Pruning()],
            verbose=0,
        )


def test_no_warning_when_the_masks_are_already_as_sparse_as_asked():
    # The last update (step 6 of 8) asks for 78.75%, short of 80%, but the
    # rounding of small kernels gives exactly 80%: keep round(40 * 0.2125) = 8
    # of kernel a's 40 weights and round(20 * 0.2125) = 4 of b's 20.
    model = _pruned(PolynomialDecay(0.0, 0.8, begin_step=0, end_step=8, frequency=2))
    history, messages = _fit_eight_steps(model)
    assert history.history["pruning/sparsity"][-1] == pytest.approx(0.8)
    assert messages == []
