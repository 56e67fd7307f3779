"""LossCurveMonitor, lint_model, diagnose."""

import warnings

import keras
import numpy as np
import pytest

from keras_tricks import diagnostics
from tests.diagnostics._models import digits, mlp


@pytest.fixture(scope="module")
def data():
    return digits()


def _fit(model, x, y, monitor, epochs, batch_size=32, validation=None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(
            x,
            y,
            validation_data=validation,
            epochs=epochs,
            batch_size=batch_size,
            verbose=0,
            callbacks=[monitor],
        )


def test_monitor_healthy_run_has_no_diagnosis(data):
    x, y = data
    monitor = diagnostics.LossCurveMonitor()
    history = _fit(
        mlp(), x[:1200], y[:1200], monitor, 3, validation=(x[1200:], y[1200:])
    )
    assert monitor.report().passed, str(monitor.report())
    assert history.history["loss_diagnosis"] == [0, 0, 0]


def test_monitor_learning_rate_10_diverges_and_stops(data):
    x, y = data
    monitor = diagnostics.LossCurveMonitor(stop_on=["nan", "divergence"])
    model = mlp(optimizer=keras.optimizers.SGD(10.0))
    with pytest.warns(UserWarning, match="divergence"):
        history = model.fit(
            x[:1200], y[:1200], epochs=3, batch_size=32, verbose=0, callbacks=[monitor]
        )
    names = [d["name"] for d in monitor.diagnoses]
    assert names[0] in ("divergence", "nan")
    assert len(history.history["loss"]) == 1  # stopped in the first epoch
    assert monitor.stopped_reason.startswith("stopped training on")
    assert history.history["loss_diagnosis"][0] in (1, 2)


@pytest.mark.backends
def test_monitor_nan(data):
    x, y = data
    x = x[:256].copy()
    x[100] = np.nan
    monitor = diagnostics.LossCurveMonitor(warn=False)
    history = _fit(mlp(), x, y[:256], monitor, 2)
    assert monitor.diagnoses[0]["name"] == "nan"
    assert monitor.diagnoses[0]["code"] == diagnostics.DIAGNOSIS_CODES["nan"]
    assert len(history.history["loss"]) == 1
    assert "nan" in monitor.stopped_reason


def test_monitor_tiny_training_set_overfits(data):
    x, y = data
    monitor = diagnostics.LossCurveMonitor()
    history = _fit(
        mlp(), x[:40], y[:40], monitor, 8, batch_size=8, validation=(x[1200:], y[1200:])
    )
    assert "overfitting" in [d["name"] for d in monitor.diagnoses]
    assert 5 in history.history["loss_diagnosis"]
    report = monitor.report()
    assert not report.passed and "increase regularization" in str(report)
    assert report.figure() is not None


def test_monitor_flat_start_and_small_validation(data):
    x, y = data
    monitor = diagnostics.LossCurveMonitor(validation_size=20, warn=False)
    model = mlp(optimizer=keras.optimizers.SGD(1e-6))
    # One batch repeated: batch-to-batch noise of the data cannot hide the flat loss.
    x_same, y_same = np.tile(x[:32], (10, 1)), np.tile(y[:32], 10)
    model.fit(
        x_same,
        y_same,
        validation_data=(x[-20:], y[-20:]),
        epochs=1,
        batch_size=32,
        shuffle=False,
        verbose=0,
        callbacks=[monitor],
    )
    names = [d["name"] for d in monitor.diagnoses]
    assert "flat_start" in names and "small_validation" in names


@pytest.mark.backends
def test_monitor_config_round_trip():
    monitor = diagnostics.LossCurveMonitor(
        stop_on=["nan", "divergence"], patience=5, validation_size=300
    )
    config = monitor.get_config()
    again = diagnostics.LossCurveMonitor.from_config(config)
    assert again.get_config() == config
    restored = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(monitor)
    )
    assert isinstance(restored, diagnostics.LossCurveMonitor)


def test_monitor_bad_arguments():
    with pytest.raises(
        ValueError, match=r"`stop_on` must be one of .*Received: stop_on='boom'"
    ):
        diagnostics.LossCurveMonitor(stop_on=["boom"])
    with pytest.raises(
        ValueError,
        match=r"`stop_on` must be a list of diagnosis names\. Received: stop_on='nan'",
    ):
        diagnostics.LossCurveMonitor(stop_on="nan")
    with pytest.raises(
        ValueError, match=r"`divergence_factor` must be in \(1.0, inf\)"
    ):
        diagnostics.LossCurveMonitor(divergence_factor=1.0)
    with pytest.raises(ValueError, match=r"`flat_batches` must be an integer >= 2"):
        diagnostics.LossCurveMonitor(flat_batches=1)
    with pytest.raises(ValueError, match=r"`flat_tolerance` must be in"):
        diagnostics.LossCurveMonitor(flat_tolerance=1.5)
    with pytest.raises(
        ValueError, match=r"`oscillation_window` must be an integer >= 4"
    ):
        diagnostics.LossCurveMonitor(oscillation_window=2)
    with pytest.raises(ValueError, match=r"`oscillation_tolerance` must be > 0"):
        diagnostics.LossCurveMonitor(oscillation_tolerance=0)
    with pytest.raises(ValueError, match=r"`patience` must be an integer >= 1"):
        diagnostics.LossCurveMonitor(patience=0)
    with pytest.raises(ValueError, match=r"`gap_tolerance` must be >= 0"):
        diagnostics.LossCurveMonitor(gap_tolerance=-1)
    with pytest.raises(ValueError, match=r"`high_loss_fraction` must be in"):
        diagnostics.LossCurveMonitor(high_loss_fraction=0)
    with pytest.raises(ValueError, match=r"`validation_size` must be an integer >= 1"):
        diagnostics.LossCurveMonitor(validation_size=0)
    with pytest.raises(
        ValueError, match=r"`min_validation_size` must be an integer >= 1"
    ):
        diagnostics.LossCurveMonitor(min_validation_size=0)
    with pytest.raises(
        ValueError, match=r"`log_key` must be a non-empty string\. Received: log_key=''"
    ):
        diagnostics.LossCurveMonitor(log_key="")


def test_monitor_oscillation_on_synthetic_curve():
    monitor = diagnostics.LossCurveMonitor(warn=False, flat_batches=1000)
    monitor.on_train_begin()
    monitor.on_epoch_begin(0)
    running = 0.0
    for batch in range(40):
        loss = 2.0 + (1.0 if batch % 2 else -1.0)  # 1, 3, 1, 3, ...
        running = (running * batch + loss) / (batch + 1)
        monitor.on_train_batch_end(batch, {"loss": running})
    np.testing.assert_allclose(
        monitor.batch_losses[:4], [1.0, 3.0, 1.0, 3.0], rtol=1e-6
    )
    assert [d["name"] for d in monitor.diagnoses] == ["oscillation"]


# ---------------------------------------------------------------------- lint
def _healthy_cnn():
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(8, 3, activation="relu", kernel_initializer="he_normal")(
        inputs
    )
    h = keras.layers.Flatten()(h)
    h = keras.layers.Dropout(0.3)(h)
    outputs = keras.layers.Dense(10, activation="softmax")(h)
    return keras.Model(inputs, outputs)


def test_lint_healthy_model_passes(data):
    x, _ = data
    report = diagnostics.lint_model(
        _healthy_cnn(), batch_size=64, data=x[:64].reshape(-1, 8, 8, 1)
    )
    assert report.passed, str(report)


def test_lint_separable_1x1_shows_both_counts():
    inputs = keras.Input((8, 8, 128))
    outputs = keras.layers.SeparableConv2D(256, 1, name="sep")(inputs)
    report = diagnostics.lint_model(keras.Model(inputs, outputs))
    (finding,) = report.findings
    assert finding["code"] == "separable_params"
    assert finding["severity"] == "warning" and report.passed  # advice, not failure
    # Separable: 1*1*128 depthwise + 128*256 pointwise + 256 bias; plain: 128*256 + 256.
    assert finding["params"] == 128 + 128 * 256 + 256
    assert finding["plain_conv_params"] == 128 * 256 + 256
    assert "33152" in finding["message"] and "33024" in finding["message"]
    inputs = keras.Input((8, 8, 128))
    outputs = keras.layers.SeparableConv2D(256, 3)(inputs)
    assert diagnostics.lint_model(keras.Model(inputs, outputs)).passed


@pytest.mark.backends
def test_lint_findings(data):
    x, _ = data
    inputs = keras.Input((8, 8, 1))
    h = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(
        inputs
    )  # glorot + relu
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.Dropout(0.6)(h)
    outputs = keras.layers.Conv2D(1, 1, kernel_initializer="he_normal")(h)
    report = diagnostics.lint_model(
        keras.Model(inputs, outputs), data=(x[:32] * 16).reshape(-1, 8, 8, 1)
    )
    codes = {f["code"] for f in report.findings}
    assert codes == {
        "glorot_relu",
        "dropout_batchnorm",
        "dropout_rate",
        "batchnorm_image_to_image",
        "inputs_not_normalized",
    }


def test_lint_batchnorm_per_replica_batch(strategy):
    with strategy.scope():
        inputs = keras.Input((16,))
        h = keras.layers.Dense(8, kernel_initializer="he_normal")(inputs)
        model = keras.Model(inputs, keras.layers.BatchNormalization()(h))
    report = diagnostics.lint_model(model, batch_size=24, strategy=strategy)
    (finding,) = report.findings
    assert finding["code"] == "batchnorm_small_batch"
    assert finding["replicas"] == 2 and finding["per_replica_batch"] == 12
    assert "GroupNormalization" in finding["message"]
    assert diagnostics.lint_model(model, batch_size=64, strategy=strategy).passed
    assert diagnostics.lint_model(
        model, batch_size=24
    ).passed  # one replica outside the scope


def test_lint_bad_arguments():
    model = _healthy_cnn()
    with pytest.raises(ValueError, match=r"`batch_size` must be an integer >= 1"):
        diagnostics.lint_model(model, batch_size=0)
    with pytest.raises(ValueError, match=r"`dropout_range` must be ordered"):
        diagnostics.lint_model(model, dropout_range=(0.5, 0.2))
    with pytest.raises(
        ValueError, match=r"`strategy` must be a tf.distribute strategy"
    ):
        keras_model = keras.Sequential(
            [keras.Input((4,)), keras.layers.BatchNormalization()]
        )
        diagnostics.lint_model(keras_model, batch_size=8, strategy="mirrored")
    with pytest.raises(
        ValueError, match=r"`model` must be built.*Received: model=<Sequential"
    ):
        diagnostics.lint_model(keras.Sequential([keras.layers.Dense(2)]))
    with pytest.raises(ValueError, match=r"`data` must match the model's input shape"):
        diagnostics.lint_model(model, data=np.zeros((4, 64)))


# ------------------------------------------------------------------ diagnose
def test_diagnose_healthy_and_faulty(data):
    x, y = data
    x, y = x[:600], y[:600]
    healthy = diagnostics.diagnose(mlp(), (x, y), steps=50)
    assert healthy.passed, str(healthy)
    assert [r.check for r in healthy.reports] == [
        "lint",
        "batch dependence",
        "initial loss",
        "overfit one batch",
        "input-independent baseline",
    ]
    faulty = diagnostics.diagnose(mlp(output_activation=None), (x, y), baseline=False)
    assert not faulty["initial loss"].passed
    assert "FAIL" in str(faulty)


def test_diagnose_bad_input(data):
    x, y = data
    uncompiled = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    with pytest.raises(ValueError, match=r"`model` must be compiled with a loss"):
        diagnostics.diagnose(uncompiled, (x, y))
    with pytest.raises(ValueError, match=r"`data` must match the model's input shape"):
        diagnostics.diagnose(mlp(), (x.reshape(-1, 8, 8), y))
    with pytest.raises(ValueError, match=r"`data` must hold at least one sample"):
        diagnostics.diagnose(mlp(), (x[:0], y[:0]))
    with pytest.raises(ValueError, match=r"`batch_size` must be an integer >= 2"):
        diagnostics.diagnose(mlp(), (x, y), batch_size=1)
