"""Users' own models and hostile input (issue 11): augmentation in the model,
subclassed models, severities, the monitor under steps_per_execution, the
FineTuneOptimizer's step count and names, and every numeric argument."""

import math
import warnings

import keras
import numpy as np
import pytest

from keras_tricks import augment, diagnostics
from tests.diagnostics._models import digits

# ------------------------------------------------------------- augmentation
_RNG = np.random.default_rng(0)
_IMAGES = _RNG.random((40, 16, 16, 3)).astype("float32")
_LABELS = (_IMAGES[:, :8, :, 0].mean(axis=(1, 2)) > 0.5).astype("int32")


def _augmented_model(nested):
    """RandomResizedCrop changes 16x16 to 8x8; RandomAffine keeps the shape."""
    layers = [
        augment.RandomResizedCrop(8, 8, seed=1),
        augment.RandomAffine(rotation=0.2, seed=2),
    ]
    inputs = keras.Input((16, 16, 3))
    if nested:  # the usual `augmentation = keras.Sequential([...])` block
        h = keras.Sequential(layers, name="augmentation")(inputs)
    else:
        h = inputs
        for layer in layers:
            h = layer(h)
    h = keras.layers.Conv2D(4, 3, activation="relu", kernel_initializer="he_normal")(h)
    h = keras.layers.Flatten()(h)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(h))
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("nested", [False, True], ids=["flat", "nested"])
def test_augmentation_runs_at_inference_in_the_copies(nested):
    model = _augmented_model(nested)
    x, y = _IMAGES[:8], _LABELS[:8]
    report = diagnostics.overfit_one_batch(model, (x, y), steps=3)
    # The copy starts from the model's inference-mode loss (central crop, no affine) ...
    expected = model.compute_loss(x=x, y=y, y_pred=model(x, training=False))
    assert report.numbers["initial_loss"] == pytest.approx(float(expected), rel=1e-5)
    # ... and its first training step sees the same, unaugmented batch.
    assert report.curves["loss"][0] == pytest.approx(
        report.numbers["initial_loss"], rel=1e-5
    )
    baseline = diagnostics.input_independent_baseline(
        model, (_IMAGES, _LABELS), steps=2, batch_size=8
    )
    assert math.isfinite(baseline.numbers["ratio"])


def test_diagnose_model_with_resized_crop():
    report = diagnostics.diagnose(
        _augmented_model(False), (_IMAGES, _LABELS), batch_size=8, steps=2
    )
    assert [r.check for r in report.reports][-1] == "input-independent baseline"
    assert all(
        math.isfinite(v)
        for r in report.reports
        for v in r.numbers.values()
        if isinstance(v, float)
    )


# ---------------------------------------------------------- subclassed models
class Subclassed(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(
            32, activation="relu", kernel_initializer="he_normal"
        )
        self.out = keras.layers.Dense(10, activation="softmax")

    def call(self, inputs):
        return self.out(self.hidden(inputs))


class NotRebuildable(Subclassed):
    def __init__(self, width, **kwargs):  # no get_config for `width`
        super().__init__(**kwargs)
        self.width = width


def test_subclassed_model_is_rebuilt_from_its_config():
    x, y = digits()
    model = Subclassed()
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    model(x[:1])
    before = [w.copy() for w in model.get_weights()]
    report = diagnostics.overfit_one_batch(model, (x[:32], y[:32]))
    assert report.passed, str(report)
    expected = model.compute_loss(x=x[:32], y=y[:32], y_pred=model(x[:32]))
    assert report.numbers["initial_loss"] == pytest.approx(float(expected), rel=1e-5)
    assert all(
        np.array_equal(a, b) for a, b in zip(before, model.get_weights(), strict=True)
    )


def test_subclassed_model_that_cannot_be_rebuilt_gets_a_clear_error():
    x, y = digits()
    model = NotRebuildable(3)
    model.compile("adam", "sparse_categorical_crossentropy")
    for check in (
        diagnostics.overfit_one_batch,
        diagnostics.input_independent_baseline,
    ):
        with pytest.raises(
            ValueError,
            match=r"`model` must be a Functional or Sequential model, "
            r"or a subclassed model "
            r"whose `get_config\(\)` and `from_config\(\)` rebuild it.*"
            r"Received: model=<NotRebuildable",
        ):
            check(model, (x[:64], y[:64]))
    # The checks that need no copy work on it.
    assert diagnostics.check_initial_loss(model, (x[:64], y[:64])).passed


@pytest.mark.parametrize(
    "call",
    [
        lambda m: diagnostics.lint_model(m),
        lambda m: diagnostics.overfit_one_batch(m, (np.zeros((2, 4)), np.zeros(2))),
        lambda m: diagnostics.check_initial_loss(m, (np.zeros((2, 4)), np.zeros(2))),
        lambda m: diagnostics.check_batch_dependence(m, np.zeros((2, 4))),
        lambda m: diagnostics.input_independent_baseline(
            m, (np.zeros((2, 4)), np.zeros(2))
        ),
        lambda m: diagnostics.diagnose(m, (np.zeros((2, 4)), np.zeros(2))),
        lambda m: diagnostics.plan_transfer_learning(m, 1, "much", "similar", "adam"),
    ],
)
def test_not_a_model_is_a_type_error(call):
    with pytest.raises(
        TypeError, match=r"`model` must be a keras.Model\. Received: model='model'"
    ):
        call("model")


# ------------------------------------------------------------------ severity
def _default_mlp(loss="sparse_categorical_crossentropy", activation="softmax"):
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(10, activation=activation),
        ]
    )
    model.compile("adam", loss)
    return model


def test_healthy_default_mlp_passes_diagnose_with_glorot_advice():
    from sklearn.datasets import load_digits

    raw = load_digits()  # pixels 0-16, as sklearn gives them
    model = _default_mlp()
    # Keras's default Glorot-uniform draw, made with NumPy so every backend starts
    # alike.
    rng = np.random.default_rng(0)
    model.set_weights(
        [
            rng.uniform(-1, 1, w.shape) * np.sqrt(6.0 / sum(w.shape))
            if len(w.shape) == 2
            else np.zeros(w.shape)
            for w in model.weights
        ]
    )
    report = diagnostics.diagnose(model, (raw.data.astype("float32"), raw.target))
    assert report.passed, str(report)
    severities = {f["code"]: f["severity"] for f in report["lint"].findings}
    assert severities == {"glorot_relu": "info", "inputs_not_normalized": "warning"}
    assert report["lint"].passed and report["lint"].severity == "warning"
    # Raw pixels start the loss far above chance: a warning, not a failure.
    assert (
        report["initial loss"].status == "WARN"
        and report["initial loss"].severity == "warning"
    )
    assert (
        report.severity == "warning" and "warning from initial loss" in report.summary
    )
    text = str(report)
    assert (
        "[PASS] diagnose" in text and "[info]" in text and "[WARN] initial loss" in text
    )


@pytest.mark.parametrize(
    "loss, activation, code",
    [
        (
            keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            "softmax",
            "probabilities_from_logits",
        ),
        ("sparse_categorical_crossentropy", None, "logits_as_probabilities"),
    ],
)
def test_broken_output_and_loss_fail_lint_and_diagnose(loss, activation, code):
    x, y = digits()
    model = _default_mlp(loss, activation)
    lint = diagnostics.lint_model(model)
    assert not lint.passed and lint.severity == "error"
    assert [f["severity"] for f in lint.findings if f["code"] == code] == ["error"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns of softmax + from_logits itself
        report = diagnostics.diagnose(
            model, (x[:200], y[:200]), steps=5, baseline=False
        )
    assert (
        not report.passed and not report["lint"].passed and report.severity == "error"
    )
    assert "[error]" in str(report)


def test_report_severity_is_checked():
    with pytest.raises(
        ValueError,
        match=r"`severity` must be one of 'warning', 'error'\. "
        r"Received: severity='fatal'",
    ):
        diagnostics.Report("check", False, "summary", severity="fatal")


def _logits_crossentropy(y_true, y_pred):
    return keras.losses.sparse_categorical_crossentropy(
        y_true, y_pred, from_logits=True
    )


def test_output_rules_only_judge_losses_whose_from_logits_is_known():
    # A user's own function: its name says crossentropy, but from_logits is not visible.
    assert diagnostics.lint_model(_default_mlp(_logits_crossentropy, None)).passed
    assert diagnostics.lint_model(_default_mlp("mse", None)).passed


# ------------------------------------------------- monitor, steps_per_execution
_ONE_STEP = pytest.mark.skipif(
    keras.backend.backend() == "torch",
    reason="Keras's PyTorch trainer takes steps_per_execution=1 only",
)


@pytest.mark.parametrize(
    "steps_per_execution, num_batches",
    [
        (1, 16),
        pytest.param(4, 16, marks=_ONE_STEP),
        pytest.param(4, 18, marks=_ONE_STEP),
    ],
)
def test_monitor_recovers_per_execution_losses(steps_per_execution, num_batches):
    x, y = digits()
    x, y = x[: 16 * num_batches], y[: 16 * num_batches]
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((64,)), keras.layers.Dense(10, activation="softmax")]
    )
    # A zero learning rate keeps the weights, so every batch's loss can be computed by
    # hand.
    model.compile(
        keras.optimizers.SGD(0.0),
        "sparse_categorical_crossentropy",
        steps_per_execution=steps_per_execution,
    )
    per_batch = [
        float(
            model.compute_loss(
                x=x[i : i + 16], y=y[i : i + 16], y_pred=model(x[i : i + 16])
            )
        )
        for i in range(0, len(x), 16)
    ]
    expected = [
        np.mean(per_batch[i : i + steps_per_execution])
        for i in range(0, num_batches, steps_per_execution)
    ]
    monitor = diagnostics.LossCurveMonitor(warn=False)
    model.fit(
        x, y, batch_size=16, epochs=1, shuffle=False, verbose=0, callbacks=[monitor]
    )
    np.testing.assert_allclose(monitor.batch_losses, expected, rtol=1e-4)


# ------------------------------------------------------------ FineTuneOptimizer
def _two_layers():
    inputs = keras.Input((4,))
    h = keras.layers.Dense(3, name="conv2")(inputs)
    return keras.Model(inputs, keras.layers.Dense(2, name="head")(h))


@pytest.mark.backends
def test_fine_tune_every_layer_counts_iterations():
    model = _two_layers()
    optimizer = diagnostics.FineTuneOptimizer(
        keras.optimizers.SGD(0.1), fine_tune_layers=["conv2", "head"]
    )
    model.compile(optimizer, "mse")
    model.fit(np.ones((8, 4)), np.ones((8, 2)), batch_size=4, epochs=1, verbose=0)
    assert int(optimizer.iterations) == 2
    assert int(optimizer.head_optimizer.iterations) == 0  # no head variable
    assert int(optimizer.body_optimizer.iterations) == 2


def test_fine_tune_unknown_layer_name_is_refused():
    model = _two_layers()
    optimizer = diagnostics.FineTuneOptimizer(
        keras.optimizers.SGD(0.1), fine_tune_layers=["conv_2"]
    )
    model.compile(optimizer, "mse")
    with pytest.raises(
        ValueError,
        match=r"`fine_tune_layers` must name layers of the model that have "
        r"trainable weights; "
        r"unknown: \['conv_2'\] \('conv_2' -> did you mean 'conv2'\?\)\. "
        r"Layers with trainable weights: \['conv2', 'head'\]",
    ):
        model.fit(np.ones((8, 4)), np.ones((8, 2)), epochs=1, verbose=0)


# ------------------------------------------------------- numeric arguments
_X = np.zeros((4, 64), "float32")
_Y = np.zeros(4, "int32")


def _model():
    if not hasattr(_model, "cached"):
        inputs = keras.Input((64,))
        _model.cached = keras.Model(
            inputs, keras.layers.Dense(10, activation="softmax")(inputs)
        )
        _model.cached.compile("adam", "sparse_categorical_crossentropy")
    return _model.cached


NUMERIC = {
    "overfit_one_batch": (
        lambda **kw: diagnostics.overfit_one_batch(_model(), (_X, _Y), **kw),
        ["steps", "target_ratio", "learning_rate"],
    ),
    "check_initial_loss": (
        lambda **kw: diagnostics.check_initial_loss(_model(), (_X, _Y), **kw),
        ["tolerance"],
    ),
    "input_independent_baseline": (
        lambda **kw: diagnostics.input_independent_baseline(_model(), (_X, _Y), **kw),
        ["steps", "batch_size", "validation_split", "margin", "seed"],
    ),
    "check_batch_dependence": (
        lambda **kw: diagnostics.check_batch_dependence(_model(), _X, **kw),
        ["num_samples", "tolerance", "seed"],
    ),
    "lint_model": (
        lambda **kw: diagnostics.lint_model(_model(), **kw),
        ["batch_size", "min_batch_per_replica"],
    ),
    "diagnose": (
        lambda **kw: diagnostics.diagnose(_model(), (_X, _Y), **kw),
        ["batch_size", "steps"],
    ),
    "LossCurveMonitor": (
        diagnostics.LossCurveMonitor,
        [
            "divergence_factor",
            "flat_batches",
            "flat_tolerance",
            "oscillation_window",
            "oscillation_tolerance",
            "patience",
            "gap_tolerance",
            "high_loss_fraction",
            "validation_size",
            "min_validation_size",
        ],
    ),
    "FineTuneOptimizer": (
        lambda **kw: diagnostics.FineTuneOptimizer("adam", ["dense"], **kw),
        ["multiplier"],
    ),
    "plan_transfer_learning": (
        lambda **kw: diagnostics.plan_transfer_learning(
            _model(),
            **{"head_layers": 1, **kw},
            data_size="much",
            similarity="similar",
            optimizer="adam",
        ),
        ["few_layers", "many_fraction", "multiplier", "head_layers"],
    ),
}
_CASES = [(owner, arg) for owner, (_, args) in NUMERIC.items() for arg in args]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, True, "1"], ids=repr)
@pytest.mark.parametrize("owner, argument", _CASES, ids=[f"{o}-{a}" for o, a in _CASES])
def test_numeric_arguments_refuse_nan_inf_bool_string(owner, argument, value):
    make, _ = NUMERIC[owner]
    with pytest.raises(ValueError, match=rf"`{argument}` must .*Received: {argument}="):
        make(**{argument: value})


@pytest.mark.parametrize(
    "value", [(math.nan, 0.5), (0.2, math.inf), True, "ab"], ids=repr
)
def test_dropout_range_refuses_nan_inf_bool_string(value):
    with pytest.raises(
        ValueError, match=r"`dropout_range` must .*Received: dropout_range="
    ):
        diagnostics.lint_model(_model(), dropout_range=value)


_FLAGS = [
    (
        "disable_augmentation",
        lambda v: diagnostics.overfit_one_batch(
            _model(), (_X, _Y), disable_augmentation=v
        ),
    ),
    (
        "training",
        lambda v: diagnostics.check_batch_dependence(_model(), _X, training=v),
    ),
    ("baseline", lambda v: diagnostics.diagnose(_model(), (_X, _Y), baseline=v)),
    ("warn", lambda v: diagnostics.LossCurveMonitor(warn=v)),
]


@pytest.mark.parametrize("value", ["False", 1, None], ids=repr)
@pytest.mark.parametrize("argument, call", _FLAGS, ids=[f[0] for f in _FLAGS])
def test_flags_refuse_non_bools(argument, call, value):
    with pytest.raises(
        ValueError, match=rf"`{argument}` must be a bool.*Received: {argument}="
    ):
        call(value)
