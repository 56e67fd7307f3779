"""Issue 14: linter rules users extend, layers judged by type (a user's
subclass like its base), and the backend contract of the checks (issue 13)."""

import keras
import numpy as np
import pytest

from keras_tricks import diagnostics, optimizers
from keras_tricks.diagnostics import _data, _layers
from keras_tricks.optimizers import fine_tune
from tests.diagnostics._models import digits, mlp, weights_of


# ---------------------------------------------------------- user rules
def _dense_model(units=8):
    inputs = keras.Input((4,))
    h = keras.layers.Dense(units, kernel_initializer="he_normal", name="wide")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="out")(h))


def _wide_dense(context):
    for layer in context.layers:
        if isinstance(layer, keras.layers.Dense) and layer.units > 4:
            context.add(
                "wide_dense",
                layer,
                f"{layer.name} has {layer.units} units",
                units=layer.units,
            )


@pytest.mark.backends
def test_user_rule_adds_findings_after_the_built_in_ones():
    model = _dense_model()
    assert diagnostics.lint_model(model).findings == []
    report = diagnostics.lint_model(model, rules=[_wide_dense])
    (finding,) = report.findings
    assert finding == {
        "code": "wide_dense",
        "severity": "warning",
        "layer": "wide",
        "message": "wide has 8 units",
        "units": 8,
    }
    assert report.passed and report.severity == "warning"
    assert diagnostics.LINT_RULES[0] is not _wide_dense and callable(
        diagnostics.LINT_RULES[-1]
    )


def test_user_rule_with_error_severity_fails_the_report():
    def no_bias(context):
        for layer in context.layers:
            if getattr(layer, "use_bias", False):
                context.add("bias", layer, f"{layer.name} has a bias", severity="error")

    report = diagnostics.lint_model(_dense_model(), rules=[no_bias])
    assert not report.passed and [f["layer"] for f in report.findings] == [
        "wide",
        "out",
    ]
    assert report.status == "FAIL"


def test_user_rule_sees_the_context():
    seen = {}

    def spy(context):
        seen.update(
            model=context.model,
            layers=[lay.name for lay in context.layers],
            batch_size=context.batch_size,
            replicas=context.replicas,
            sample=context.sample,
            dropout_range=context.dropout_range,
        )

    model = _dense_model()
    x = np.ones((3, 4), "float32")
    diagnostics.lint_model(model, batch_size=8, data=x, rules=[spy])
    assert seen["model"] is model and seen["layers"][1:] == [
        "wide",
        "out",
    ]  # after the InputLayer
    assert seen["batch_size"] == 8 and seen["replicas"] == 1
    np.testing.assert_array_equal(seen["sample"], x)
    assert seen["dropout_range"] == (0.2, 0.5)


def test_bad_rules_and_severity_are_refused():
    model = _dense_model()
    with pytest.raises(
        ValueError, match=r"`rules` must be a list of rule functions.*Received: rules="
    ):
        diagnostics.lint_model(model, rules=_wide_dense)
    with pytest.raises(
        ValueError,
        match=r"`rules` must be a list of rule functions.*Received: rules=\[3\]",
    ):
        diagnostics.lint_model(model, rules=[3])

    def loud(context):
        context.add("loud", None, "loud", severity="fatal")

    with pytest.raises(
        ValueError, match=r"`severity` must be one of .*Received: severity='fatal'"
    ):
        diagnostics.lint_model(model, rules=[loud])


# ------------------------------------------- a user's subclass, judged by type
class MyNorm(keras.layers.BatchNormalization):
    pass


class MyDrop(keras.layers.Dropout):
    pass


class MySep(keras.layers.SeparableConv2D):
    pass


class MyInit(keras.initializers.GlorotUniform):
    pass


class MyRectifier(keras.layers.ReLU):
    pass


class MyScale(keras.layers.Rescaling):
    pass


class LookalikeBatchNormalization(keras.layers.Layer):
    """Not a batch norm, whatever its name says; has a `rate` like a dropout."""

    rate = 0.9

    def call(self, inputs):
        return inputs


@pytest.mark.backends
def test_lint_judges_user_subclasses_like_their_bases():
    inputs = keras.Input((8, 8, 3))
    h = MySep(4, 1, name="sep")(inputs)
    h = keras.layers.Dense(4, kernel_initializer=MyInit(), name="glorot")(h)
    h = MyRectifier(name="relu")(h)
    h = MyNorm(name="norm")(h)
    h = MyDrop(0.7, name="drop")(h)
    report = diagnostics.lint_model(keras.Model(inputs, keras.layers.Dense(1)(h)))
    codes = {f["code"]: f["layer"] for f in report.findings}
    assert codes == {
        "separable_params": "sep",
        "glorot_relu": "glorot",
        "dropout_rate": "drop",
        "dropout_batchnorm": "drop",
        "batchnorm_image_to_image": "norm",
    }


def test_lint_ignores_lookalike_names_and_sees_a_rescaling_subclass():
    x = (digits()[0][:32] * 16).astype("float32")
    inputs = keras.Input((64,))
    h = LookalikeBatchNormalization()(inputs)
    h = keras.layers.Dropout(0.3)(h)
    model = keras.Model(
        inputs, keras.layers.Dense(2, kernel_initializer="he_normal")(h)
    )
    assert {f["code"] for f in diagnostics.lint_model(model, data=x).findings} == {
        "inputs_not_normalized"
    }
    inputs = keras.Input((64,))
    h = MyScale(1 / 16)(inputs)
    model = keras.Model(
        inputs, keras.layers.Dense(2, kernel_initializer="he_normal")(h)
    )
    assert diagnostics.lint_model(model, data=x).findings == []


def test_batch_dependence_names_a_batchnorm_subclass():
    inputs = keras.Input((4,))
    h = MyNorm(name="norm")(keras.layers.Dense(4)(inputs))
    model = keras.Model(inputs, keras.layers.Dense(2)(h))
    report = diagnostics.check_batch_dependence(
        model, np.random.default_rng(0).random((4, 4)).astype("float32")
    )
    assert "norm used moving statistics" in report.summary


def test_augmentation_subclass_is_recognised():
    class MyFlip(keras.layers.RandomFlip):
        pass

    assert _layers.is_augmentation(MyFlip())
    assert _layers.is_augmentation(keras.layers.RandomZoom(0.1))
    assert not _layers.is_augmentation(keras.layers.Dense(2))


# ------------------------------------------------------------ data helpers
def test_structure_helpers_keep_the_structure():
    x = {"a": np.arange(6).reshape(3, 2), "b": [np.arange(3), np.zeros((3, 1))]}
    taken = _data.take(x, [2, 0])
    np.testing.assert_array_equal(taken["a"], [[4, 5], [0, 1]])
    np.testing.assert_array_equal(taken["b"][0], [2, 0])
    assert _data.num_samples(x) == 3 and len(_data.flat_arrays(x)) == 3
    doubled = _data.concat([x, x])
    assert _data.num_samples(doubled) == 6 and isinstance(doubled["b"], list)
    zeros = _data.map_arrays(x, np.zeros_like)
    assert all(not a.any() for a in _data.flat_arrays(zeros))
    assert repr(_data.describe((np.zeros((2, 3)), 1))) == "(array of shape (2, 3), 1)"


# ------------------------------------------------------------- backends
@pytest.mark.backends
def test_overfit_one_batch_on_every_backend():
    """A quick healthy run (the full one is in test_checks.py)."""
    x, y = digits()
    model = mlp(learning_rate=0.05)
    before = weights_of(model)
    report = diagnostics.overfit_one_batch(model, (x[:8], y[:8]), steps=100)
    assert report.passed, str(report)
    assert all(
        np.array_equal(a, b) for a, b in zip(before, weights_of(model), strict=True)
    )


def test_input_independent_baseline_quick_run():
    x, y = digits()
    baseline = diagnostics.input_independent_baseline(
        mlp(), (x[:64], y[:64]), steps=3, batch_size=16
    )
    assert np.isfinite(baseline.numbers["ratio"])


@pytest.mark.backends
def test_gradient_method_needs_tensorflow():
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    x = np.ones((4, 4), "float32")
    if keras.backend.backend() == "tensorflow":
        assert (
            diagnostics.check_batch_dependence(model, x, method="gradient").numbers[
                "method"
            ]
            == "gradient"
        )
        return
    with pytest.raises(
        NotImplementedError, match=r"needs the TensorFlow backend.*KERAS_BACKEND="
    ):
        diagnostics.check_batch_dependence(model, x, method="gradient")
    assert (
        diagnostics.check_batch_dependence(model, x).numbers["method"] == "perturbation"
    )


# ------------------------------------------------------ FineTuneOptimizer home
def test_fine_tune_optimizer_is_one_class_under_one_registered_name():
    assert diagnostics.FineTuneOptimizer is fine_tune.FineTuneOptimizer
    assert (
        keras.saving.get_registered_name(fine_tune.FineTuneOptimizer)
        == "keras_tricks>FineTuneOptimizer"
    )
    assert (
        keras.saving.get_registered_object("keras_tricks>FineTuneOptimizer")
        is fine_tune.FineTuneOptimizer
    )
    assert optimizers is not None  # the subpackage imports with the new module
