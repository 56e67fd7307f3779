"""overfit_one_batch, check_initial_loss, input_independent_baseline,
check_batch_dependence."""

import warnings

import keras
import numpy as np
import pytest

from keras_tricks import diagnostics
from tests.diagnostics._models import BatchMix, StopGradient, digits, mlp, weights_of


@pytest.fixture(scope="module")
def data():
    return digits()


@pytest.fixture(scope="module")
def batch(data):
    x, y = data
    return x[:32], y[:32]


def test_overfit_healthy_passes_and_leaves_weights_alone(batch):
    model = mlp()
    before = weights_of(model)
    report = diagnostics.overfit_one_batch(model, batch)
    assert report.passed, str(report)
    assert report.numbers["final_loss"] <= report.numbers["target_loss"]
    assert all(
        np.array_equal(a, b) for a, b in zip(before, weights_of(model), strict=True)
    )
    assert "PASS" in str(report)
    fig = report.figure()
    assert fig.axes[0].get_lines()


@pytest.mark.backends  # on PyTorch, backward() raised a RuntimeError through the check
def test_overfit_catches_stop_gradient_and_frozen_head(batch):
    model = mlp(middle=StopGradient(), head_trainable=False)
    report = diagnostics.overfit_one_batch(model, batch, steps=20)
    assert not report.passed
    assert any("gradient" in a for a in report.advice)


def test_overfit_catches_saturated_output(batch):
    x, y = batch
    model = mlp(
        optimizer=keras.optimizers.SGD(0.1),
        output_activation="sigmoid",
        output_initializer=keras.initializers.RandomNormal(stddev=30.0),
        loss="mse",
    )
    report = diagnostics.overfit_one_batch(model, (x, np.eye(10)[y]), steps=60)
    assert not report.passed
    assert any("saturated" in a for a in report.advice), str(report)


@pytest.mark.backends
def test_initial_loss_healthy(batch):
    report = diagnostics.check_initial_loss(mlp(), batch)
    assert report.passed, str(report)
    assert report.numbers["expected_loss"] == pytest.approx(np.log(10))


def test_initial_loss_catches_logits_into_probability_loss(batch):
    report = diagnostics.check_initial_loss(mlp(output_activation=None), batch)
    assert not report.passed
    assert not report.numbers["outputs_are_probabilities"]
    assert any("logits" in a and "from_logits=True" in a for a in report.advice)


def test_initial_loss_catches_probabilities_into_logit_loss(batch):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns too, on TensorFlow only.
        report = diagnostics.check_initial_loss(mlp(from_logits=True), batch)
    assert not report.passed
    assert any("softmax is applied twice" in a for a in report.advice)


def test_initial_loss_far_above_chance_is_a_warning(batch):
    model = mlp(output_initializer=keras.initializers.RandomNormal(stddev=5.0))
    report = diagnostics.check_initial_loss(model, batch)
    assert not report.passed and report.numbers["relative_error"] > 0.25
    assert report.severity == "warning" and report.status == "WARN"
    assert "[WARN] initial loss" in str(report)
    mismatch = diagnostics.check_initial_loss(mlp(output_activation=None), batch)
    assert mismatch.severity == "error" and mismatch.status == "FAIL"


def test_initial_loss_skips_other_losses(batch):
    report = diagnostics.check_initial_loss(mlp(loss="mse"), batch)
    assert report.passed and report.skipped


def test_input_independent_baseline_catches_shuffled_labels(data):
    x, y = data
    x, y = x[:600], y[:600]
    healthy = diagnostics.input_independent_baseline(mlp(), (x, y), steps=60)
    assert healthy.passed, str(healthy)
    assert healthy.numbers["ratio"] < 0.5
    shuffled = np.random.default_rng(0).permutation(y)
    # The same model memorizes one batch of shuffled labels: overfitting alone misses
    # it.
    fault = diagnostics.input_independent_baseline(mlp(), (x, shuffled), steps=60)
    assert not fault.passed
    assert fault.numbers["ratio"] > 0.9


@pytest.mark.parametrize(
    "method", [pytest.param("gradient", marks=pytest.mark.tf_only), "perturbation"]
)
@pytest.mark.backends
def test_batch_dependence(batch, method):
    x, _ = batch
    healthy = diagnostics.check_batch_dependence(mlp(), x, method=method)
    assert healthy.passed and healthy.numbers["leak"] == 0.0
    fault = diagnostics.check_batch_dependence(mlp(middle=BatchMix()), x, method=method)
    assert not fault.passed and fault.numbers["leak"] > 0.1


@pytest.mark.tf_only  # the gradient method uses tf.GradientTape
def test_batch_dependence_methods_agree(batch):
    x, _ = batch
    for model in (mlp(), mlp(middle=BatchMix())):
        grad = diagnostics.check_batch_dependence(model, x, method="gradient")
        pert = diagnostics.check_batch_dependence(model, x, method="perturbation")
        assert grad.passed == pert.passed
        np.testing.assert_array_equal(grad.matrix > 0, pert.matrix > 0)


def test_batch_dependence_explains_batchnorm(batch):
    x, _ = batch
    inputs = keras.Input((64,))
    h = keras.layers.Dense(16)(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    model = keras.Model(inputs, keras.layers.Dense(10)(h))
    inference = diagnostics.check_batch_dependence(model, x)
    assert inference.passed and "bn" in inference.summary
    training = diagnostics.check_batch_dependence(model, x, training=True)
    assert not training.passed
    assert any("batch statistics" in a for a in training.advice)


# ------------------------------------------------------------------ bad input
@pytest.mark.backends
def test_bad_input(batch):
    x, y = batch
    model = mlp()
    with pytest.raises(
        ValueError,
        match=r"`batch` must match the model's input shape .*Received: batch=",
    ):
        diagnostics.overfit_one_batch(model, (x[:, :10], y))
    with pytest.raises(
        ValueError, match=r"`batch` must hold at least one sample\. Received: batch="
    ):
        diagnostics.overfit_one_batch(model, (x[:0], y[:0]))
    with pytest.raises(ValueError, match=r"`batch` must be a pair \(x, y\)"):
        diagnostics.check_initial_loss(model, x)
    with pytest.raises(ValueError, match=r"`batch` must hold as many labels as inputs"):
        diagnostics.check_initial_loss(model, (x, y[:3]))
    uncompiled = keras.Sequential([keras.Input((64,)), keras.layers.Dense(10)])
    for check in (diagnostics.overfit_one_batch, diagnostics.check_initial_loss):
        with pytest.raises(
            ValueError,
            match=r"`model` must be compiled with a loss.*Received: model=<Sequential",
        ):
            check(uncompiled, (x, y))
    with pytest.raises(ValueError, match=r"`model` must be compiled"):
        diagnostics.input_independent_baseline(uncompiled, (x, y))
    with pytest.raises(ValueError, match=r"`x` must hold at least 2 samples"):
        diagnostics.check_batch_dependence(model, x[:1])
    with pytest.raises(ValueError, match=r"`x` must match the model's input shape"):
        diagnostics.check_batch_dependence(model, x[:, :5])


def test_bad_arguments(batch):
    model = mlp()
    with pytest.raises(
        ValueError, match=r"`steps` must be an integer >= 1\. Received: steps=0"
    ):
        diagnostics.overfit_one_batch(model, batch, steps=0)
    with pytest.raises(
        ValueError,
        match=r"`target_ratio` must be in \(0.0, 1.0\)\. Received: target_ratio=1.5",
    ):
        diagnostics.overfit_one_batch(model, batch, target_ratio=1.5)
    with pytest.raises(ValueError, match=r"`learning_rate` must be > 0"):
        diagnostics.overfit_one_batch(model, batch, learning_rate=-1.0)
    with pytest.raises(ValueError, match=r"`tolerance` must be >= 0"):
        diagnostics.check_initial_loss(model, batch, tolerance=-1)
    with pytest.raises(ValueError, match=r"`margin` must be in \(0.0, 1.0\]"):
        diagnostics.input_independent_baseline(model, batch, margin=2)
    with pytest.raises(ValueError, match=r"`validation_split` must be in"):
        diagnostics.input_independent_baseline(model, batch, validation_split=0)
    with pytest.raises(ValueError, match=r"`batch_size` must be an integer >= 1"):
        diagnostics.input_independent_baseline(model, batch, batch_size=0)
    with pytest.raises(ValueError, match=r"`data` must hold enough samples to split"):
        diagnostics.input_independent_baseline(model, (batch[0][:1], batch[1][:1]))
    with pytest.raises(
        ValueError, match=r"`method` must be one of .*Received: method='jacobian'"
    ):
        diagnostics.check_batch_dependence(model, batch[0], method="jacobian")
    with pytest.raises(ValueError, match=r"`num_samples` must be an integer >= 2"):
        diagnostics.check_batch_dependence(model, batch[0], num_samples=1)
    # A list is a multi-input x: two arrays for a one-input model do not fit it.
    with pytest.raises(ValueError, match=r"`x` must match the model's 1 input\(s\)"):
        diagnostics.check_batch_dependence(model, [batch[0], batch[0]])
