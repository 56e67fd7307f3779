"""CyclicalLR and WarmupLR: per-batch rates, logs, strategy, BackupAndRestore."""

import csv
import json

import keras
import numpy as np
import pytest

from keras_tricks.callbacks import CyclicalLR, LRFinder, WarmupLR
from keras_tricks.schedules import CyclicalLearningRate, StepDecay
from tests.helpers.callbacks import Interrupt


# Smith, 2017 (arXiv 1506.01186), section 3.1.
def clr_numpy(step, base, top, step_size, mode="triangular", gamma=1.0):
    cycle = np.floor(1 + step / (2 * step_size))
    x = np.abs(step / step_size - 2 * cycle + 1)
    scale = {
        "triangular": 1.0,
        "triangular2": 1.0 / 2.0 ** np.minimum(cycle - 1, 1000),
        "exp_range": gamma**step,
    }
    return base + (top - base) * np.maximum(0.0, 1 - x) * scale[mode]


# Goyal et al., 2017 (arXiv 1706.02677): linear ramp then the target.
def warmup_numpy(step, target, warmup_steps, initial):
    return np.where(
        step < warmup_steps, initial + (target - initial) * step / warmup_steps, target
    )


class RecordRates(keras.callbacks.Callback):
    """Reads back what the LR callback put into the batch logs."""

    def __init__(self):
        super().__init__()
        self.rates = []

    def on_train_batch_end(self, batch, logs=None):
        self.rates.append(logs["learning_rate"])


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], "float32")).astype("float32")
    return x, y


def _model(optimizer=None):
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(optimizer or keras.optimizers.SGD(0.01, momentum=0.9), "mse")
    return model


@pytest.mark.parametrize(
    "callback, reference",
    [
        (CyclicalLR(0.01, 0.1, 5), lambda s: clr_numpy(s, 0.01, 0.1, 5)),
        (
            CyclicalLR(0.01, 0.1, 3, mode="exp_range", gamma=0.9),
            lambda s: clr_numpy(s, 0.01, 0.1, 3, "exp_range", 0.9),
        ),
        (
            WarmupLR(0.05, 6, initial_learning_rate=0.005),
            lambda s: warmup_numpy(s, 0.05, 6, 0.005),
        ),
    ],
    ids=["clr", "clr_exp_range", "warmup"],
)
def test_rates_per_batch_reach_the_logs(callback, reference, tmp_path):
    x, y = _data()
    model, record = _model(), RecordRates()
    csv_path = tmp_path / "log.csv"
    history = model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[callback, record, keras.callbacks.CSVLogger(str(csv_path))],
    )
    expected = reference(np.arange(16.0))
    np.testing.assert_allclose(record.rates, expected, rtol=1e-6)
    np.testing.assert_allclose(
        history.history["learning_rate"], expected[[7, 15]], rtol=1e-6
    )
    with open(csv_path) as handle:
        rows = list(csv.DictReader(handle))
    np.testing.assert_allclose(
        [float(r["learning_rate"]) for r in rows], expected[[7, 15]], rtol=1e-6
    )


def _tensorboard_scalars(log_dir, tag):
    import tensorflow as tf

    values = {}
    for path in sorted((log_dir / "train").glob("events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(str(path)):
            event = tf.compat.v1.Event.FromString(record.numpy())
            for value in event.summary.value:
                if value.tag == tag:
                    values[event.step] = float(tf.make_ndarray(value.tensor))
    return [values[step] for step in sorted(values)]


def test_tensorboard_sees_the_rate(tmp_path):
    x, y = _data()
    model = _model(keras.optimizers.SGD(0.5))
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[
            CyclicalLR(0.01, 0.1, 5),
            keras.callbacks.TensorBoard(log_dir=str(tmp_path)),
        ],
    )
    expected = clr_numpy(np.arange(16.0), 0.01, 0.1, 5)[[7, 15]]
    written = _tensorboard_scalars(tmp_path, "epoch_learning_rate")
    np.testing.assert_allclose(written, expected, rtol=1e-6)


def test_warmup_callback_hands_over_to_a_schedule():
    x, y = _data()
    record = RecordRates()
    callback = WarmupLR(StepDecay(0.08, 4, 0.5), warmup_steps=4)
    _model().fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[callback, record],
    )
    after = 0.08 * 0.5 ** np.floor(np.maximum(np.arange(16.0) - 4, 0) / 4)
    expected = np.where(np.arange(16.0) < 4, 0.08 * np.arange(16.0) / 4, after)
    np.testing.assert_allclose(record.rates, expected, rtol=1e-6)


def test_callbacks_under_mirrored_strategy(strategy):
    x, y = _data()
    with strategy.scope():
        model = _model()
    record = RecordRates()
    model.fit(
        x,
        y,
        batch_size=16,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[CyclicalLR(0.01, 0.1, 3, mode="triangular2"), record],
    )
    np.testing.assert_allclose(
        record.rates, clr_numpy(np.arange(8.0), 0.01, 0.1, 3, "triangular2"), rtol=1e-6
    )
    # The next step would use the rate at step 8: the optimizer holds step 7's.
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == 8
    assert float(
        keras.ops.convert_to_numpy(model.optimizer.learning_rate)
    ) == pytest.approx(record.rates[-1])


def _current(variable):
    return keras.ops.convert_to_numpy(variable).item()


@pytest.mark.parametrize(
    "make_callback",
    [
        pytest.param(
            lambda: CyclicalLR(0.01, 0.1, 5), id="clr", marks=pytest.mark.backends
        ),
        pytest.param(
            lambda: WarmupLR(StepDecay(0.08, 6, 0.5), warmup_steps=10), id="warmup"
        ),
    ],
)
def test_position_survives_backup_and_restore(make_callback, tmp_path):
    # A fit killed mid-epoch (raised from a callback) and resumed in a fresh
    # "process" with BackupAndRestore ends with the rate and weights of an
    # uninterrupted run: the position is the optimizer's restored
    # `iterations`, not a counter that restarts at 0.
    x, y = _data()
    fit = dict(x=x, y=y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    keras.utils.set_random_seed(7)
    reference_model = _model()
    initial = reference_model.get_weights()
    uninterrupted = RecordRates()
    reference_model.fit(**fit, callbacks=[make_callback(), uninterrupted])

    backup = str(tmp_path / "backup")
    model, before = _model(), RecordRates()
    model.set_weights(initial)
    with pytest.raises(RuntimeError, match="interrupted"):
        model.fit(
            **fit,
            callbacks=[
                keras.callbacks.BackupAndRestore(backup),
                make_callback(),
                before,
                Interrupt(epoch=1, batch=3),
            ],
        )
    np.testing.assert_allclose(before.rates, uninterrupted.rates[:12])

    # A new process: fresh model and callbacks; BackupAndRestore restores the
    # weights and optimizer (with its step counter) of the end of epoch 0.
    restarted, after = _model(), RecordRates()
    restarted.fit(
        **fit,
        callbacks=[keras.callbacks.BackupAndRestore(backup), make_callback(), after],
    )
    assert after.rates[0] == pytest.approx(uninterrupted.rates[8])
    np.testing.assert_allclose(after.rates, uninterrupted.rates[8:])
    assert (
        _current(restarted.optimizer.iterations)
        == _current(reference_model.optimizer.iterations)
        == 24
    )
    assert _current(restarted.optimizer.learning_rate) == _current(
        reference_model.optimizer.learning_rate
    )
    for got, want in zip(
        restarted.get_weights(), reference_model.get_weights(), strict=True
    ):
        np.testing.assert_array_equal(got, want)


@pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="Keras takes steps_per_execution > 1 only on TensorFlow and JAX",
)
@pytest.mark.parametrize(
    "callback_type", [pytest.param(CyclicalLR, marks=pytest.mark.backends), WarmupLR]
)
def test_steps_per_execution_sets_the_rate_once_per_execution(callback_type):
    # Keras calls batch callbacks once per execution of `steps_per_execution`
    # steps: the rate is the schedule's at the step each execution starts.
    callback = (
        CyclicalLR(0.01, 0.1, 5)
        if callback_type is CyclicalLR
        else WarmupLR(0.05, 6, 0.005)
    )
    x, y = _data()
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    model.compile(
        keras.optimizers.SGD(0.01, momentum=0.9), "mse", steps_per_execution=2
    )
    record = RecordRates()
    model.fit(
        x,
        y,
        batch_size=8,
        epochs=2,
        shuffle=False,
        verbose=0,
        callbacks=[callback, record],
    )
    starts = np.arange(0.0, 16.0, 2.0)
    expected = [callback.learning_rate_at(int(step)) for step in starts]
    if callback_type is CyclicalLR:
        np.testing.assert_allclose(expected, clr_numpy(starts, 0.01, 0.1, 5), rtol=1e-6)
    else:
        np.testing.assert_allclose(
            expected, warmup_numpy(starts, 0.05, 6, 0.005), rtol=1e-6
        )
    np.testing.assert_allclose(record.rates, expected, rtol=1e-6)
    assert _current(model.optimizer.iterations) == 16
    assert _current(model.optimizer.learning_rate) == pytest.approx(
        expected[-1], rel=1e-6
    )


@pytest.mark.backends
@pytest.mark.parametrize(
    "callback",
    [
        CyclicalLR(1e-3, 1e-1, 50, mode="exp_range", gamma=0.99, verbose=1),
        WarmupLR(0.2, 10, initial_learning_rate=0.01, mode="constant"),
        WarmupLR(CyclicalLearningRate(1e-3, 1e-1, 50), 10),
        WarmupLR(keras.optimizers.schedules.CosineDecay(0.1, 100), 10),
    ],
    ids=["clr", "warmup_float", "warmup_clr", "warmup_cosine"],
)
def test_config_round_trip(callback):
    config = callback.get_config()
    json.dumps(config)
    clone = type(callback).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(
        json.loads(json.dumps(keras.saving.serialize_keras_object(callback)))
    )
    assert type(restored) is type(callback) and restored.get_config() == config


def test_lr_finder_config_round_trip():
    finder = LRFinder(
        1e-5, 1.0, 50, smoothing=0.9, divergence_threshold=5.0, verbose=0, seed=3
    )
    assert LRFinder.from_config(finder.get_config()).get_config() == finder.get_config()
    assert keras.saving.get_registered_object("keras_tricks>LRFinder") is LRFinder


def test_lr_finder_lives_in_schedules_and_stays_importable_from_callbacks():
    import keras_tricks
    from keras_tricks.callbacks.lr_finder import LRFinder as from_old_module

    assert keras_tricks.schedules.LRFinder is LRFinder is from_old_module
    assert (
        keras_tricks.schedules.LRFinderResult is keras_tricks.callbacks.LRFinderResult
    )
    assert keras.saving.get_registered_name(LRFinder) == "keras_tricks>LRFinder"


def test_warmup_name_deserializes_to_the_schedule():
    from keras_tricks.schedules import Warmup

    assert keras.saving.get_registered_object("keras_tricks>Warmup") is Warmup
    assert keras.saving.get_registered_object("keras_tricks>WarmupLR") is WarmupLR


@pytest.mark.backends
@pytest.mark.parametrize("callback", [CyclicalLR(), WarmupLR()], ids=["clr", "warmup"])
def test_refuses_a_schedule_valued_learning_rate(callback):
    x, y = _data()
    model = _model(
        keras.optimizers.SGD(keras.optimizers.schedules.CosineDecay(0.1, 100))
    )
    with pytest.raises(
        ValueError, match="already a schedule.*Received: learning_rate='CosineDecay'"
    ):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[callback])


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda: CyclicalLR(0.1, 0.01),
            "max_learning_rate.*Received: max_learning_rate=0.01",
        ),
        (lambda: CyclicalLR(step_size=0), "Received: step_size=0"),
        (lambda: CyclicalLR(gamma=0), "Received: gamma=0"),
        (lambda: CyclicalLR(mode="sine"), "Received: mode='sine'"),
        (lambda: WarmupLR(warmup_steps=-5), "warmup_steps.*Received: warmup_steps=-5"),
        (lambda: WarmupLR(mode="exp"), "Received: mode='exp'"),
        (
            lambda: CyclicalLR(max_learning_rate=float("inf")),
            "max_learning_rate.*finite. Received: max_learning_rate=inf",
        ),
        (
            lambda: CyclicalLR(base_learning_rate=float("nan")),
            "Received: base_learning_rate=nan",
        ),
        (lambda: CyclicalLR(gamma=2.0), r"gamma.*\(0.0, 1.0\]. Received: gamma=2.0"),
        (
            lambda: WarmupLR(learning_rate=float("inf")),
            "learning_rate.*finite. Received: learning_rate=inf",
        ),
        (
            lambda: WarmupLR(initial_learning_rate=float("-inf")),
            "Received: initial_learning_rate=-inf",
        ),
        (
            lambda: CyclicalLR(verbose="1"),
            "verbose.*integer >= 0.*Received: verbose='1'",
        ),
        (lambda: WarmupLR(verbose=-1), "verbose.*Received: verbose=-1"),
        (lambda: WarmupLR(verbose=None), "verbose.*Received: verbose=None"),
    ],
)
def test_bad_input(build, message):
    with pytest.raises(ValueError, match=message):
        build()


@pytest.mark.parametrize(
    "callback, reference",
    [
        (CyclicalLR(0.01, 0.1, 37), lambda s: clr_numpy(s, 0.01, 0.1, 37)),
        (
            WarmupLR(CyclicalLearningRate(0.01, 0.1, 37), 5),
            lambda s: clr_numpy(s - 5, 0.01, 0.1, 37),
        ),
    ],
    ids=["clr", "warmup"],
)
def test_rate_is_exact_at_optimizer_steps_past_two_to_the_24(callback, reference):
    # The callbacks read the optimizer's int64 `iterations`; float32 would
    # round 2**24 + 1 to 2**24 and 2**25 + 2**24 + 1 by two steps.
    x, y = _data()
    model = _model(keras.optimizers.SGD(0.01))
    model.optimizer.build(model.trainable_variables)
    start = 2**25 + 2**24 + 1
    model.optimizer.iterations.assign(start)
    recorder = RecordRates()
    model.fit(
        x[:8],
        y[:8],
        batch_size=4,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[callback, recorder],
    )
    expected = reference(np.array([start, start + 1], "float64"))
    np.testing.assert_allclose(recorder.rates, expected, rtol=1e-6)
