"""The data-kinds row of the conformance matrix for keras_tricks.diagnostics.

Every public function that takes data runs on every kind `fit` takes: arrays,
a dict for a multi-input model, a batched and an unbatched `tf.data.Dataset`,
and a `keras.utils.PyDataset`; each with enough samples, fewer than one batch,
and none. The result on a dataset must equal the result on the arrays the
dataset gives (the documented pooling rule); too little data gets a clear
`ValueError`, never a hang or an `IndexError`.
"""

import inspect
import math

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_tricks import diagnostics

N, SMALL, B = 64, 10, 16  # samples, fewer than one batch, the datasets' batch
# The checks that read a dataset by a number of samples (one pass of `steps` batches).
STEPS = {"input_independent_baseline": 3}


class Batches(keras.utils.PyDataset):
    """A PyDataset giving `(x, y)` batches of `batch_size`."""

    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return math.ceil(len(self.y) / self.batch_size)

    def __getitem__(self, index):
        part = slice(index * self.batch_size, (index + 1) * self.batch_size)
        x = (
            {k: v[part] for k, v in self.x.items()}
            if isinstance(self.x, dict)
            else self.x[part]
        )
        return x, self.y[part]


def _arrays(n, name=None):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 8)).astype("float32")
    y = np.argmax(x[:, :3], axis=1).astype("int32")
    if name == "lint_model":  # raw-scale inputs, so the data's finding shows
        x = 50.0 * x + 20.0
    return x[:n], y[:n]


def _single_model():
    inputs = keras.Input((8,))
    h = keras.layers.Dense(16, activation="relu", kernel_initializer="he_normal")(
        inputs
    )
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax")(h))
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    return model


def _dict_model():
    a, b = keras.Input((5,), name="a"), keras.Input((3,), name="b")
    h = keras.layers.Concatenate()([a, b])
    h = keras.layers.Dense(16, activation="relu", kernel_initializer="he_normal")(h)
    model = keras.Model(
        {"a": a, "b": b}, keras.layers.Dense(3, activation="softmax")(h)
    )
    model.compile(keras.optimizers.Adam(1e-2), "sparse_categorical_crossentropy")
    return model


def _as_dict(x):
    return {"a": x[:, :5], "b": x[:, 5:]}


# kind -> (model kind, make data from arrays, samples the check reads from "one batch")
KINDS = {
    "arrays": ("single", lambda x, y: (x, y), None),
    "dataset": (
        "single",
        lambda x, y: tf.data.Dataset.from_tensor_slices((x, y)).batch(B),
        B,
    ),
    # Not what fit takes: the checks batch single samples by their batch_size (32 by
    # default).
    "unbatched_dataset": (
        "single",
        lambda x, y: tf.data.Dataset.from_tensor_slices((x, y)),
        32,
    ),
    "py_dataset": ("single", lambda x, y: Batches(x, y, B), B),
    "dict_arrays": ("dict", lambda x, y: (_as_dict(x), y), None),
    "dict_dataset": (
        "dict",
        lambda x, y: tf.data.Dataset.from_tensor_slices((_as_dict(x), y)).batch(B),
        B,
    ),
    "dict_py_dataset": ("dict", lambda x, y: Batches(_as_dict(x), y, B), B),
}


def _run(name, model, data):
    if name == "overfit_one_batch":
        return diagnostics.overfit_one_batch(model, data, steps=3)
    if name == "check_initial_loss":
        return diagnostics.check_initial_loss(model, data)
    if name == "check_batch_dependence":
        return diagnostics.check_batch_dependence(model, data)
    if name == "lint_model":
        return diagnostics.lint_model(model, data=data)
    if name == "input_independent_baseline":
        return diagnostics.input_independent_baseline(
            model, data, steps=3, batch_size=B
        )
    # Without the baseline (tested on its own above), diagnose reads one batch_size.
    return diagnostics.diagnose(model, data, batch_size=B, steps=2, baseline=False)


FUNCTIONS = [
    "overfit_one_batch",
    "check_initial_loss",
    "check_batch_dependence",
    "lint_model",
    "input_independent_baseline",
    "diagnose",
]


def _samples_read(name, kind, n):
    """How many of the first samples a check reads: the documented rule."""
    one_batch = KINDS[kind][2]
    if name == "check_batch_dependence":
        return min(4, n)
    if one_batch is None:  # arrays are used whole
        return n
    if name == "diagnose":  # the first `batch_size` samples, whatever the kind
        return n
    if (
        name in STEPS
    ):  # a dataset is read for one pass of `steps` batches plus the held-out part
        return min(math.ceil(STEPS[name] * B / 0.75), n)
    return min(one_batch, n)


@pytest.fixture(scope="module")
def models():
    return {"single": _single_model(), "dict": _dict_model()}


_REFERENCES = {}


def _reference(name, models, model_kind, k):
    """The check's report on the plain arrays of the first `k` samples (cached)."""
    key = (name, model_kind, k)
    if key not in _REFERENCES:
        x, y = _arrays(k, name)
        x = _as_dict(x) if model_kind == "dict" else x
        _REFERENCES[key] = _run(name, models[model_kind], (x, y))
    return _REFERENCES[key]


def _numbers(report):
    reports = getattr(report, "reports", [report])
    return [{k: v for k, v in r.numbers.items() if k != "method"} for r in reports]


def test_every_public_function_taking_data_is_enrolled():
    taking_data = {
        name
        for name in diagnostics.__all__
        if inspect.isfunction(getattr(diagnostics, name))
        and {"data", "batch", "x"}
        & set(inspect.signature(getattr(diagnostics, name)).parameters)
    }
    assert taking_data == set(FUNCTIONS)


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("name", FUNCTIONS)
def test_enough_samples_match_the_arrays_they_give(models, name, kind):
    model_kind, make, _ = KINDS[kind]
    reference = _reference(name, models, model_kind, _samples_read(name, kind, N))
    x, y = _arrays(N, name)
    if kind in ("arrays", "dict_arrays"):  # the reference itself: run once
        report = _reference(name, models, model_kind, N)
    else:
        report = _run(name, models[model_kind], make(x, y))
    assert report.status == reference.status
    for got, want in zip(_numbers(report), _numbers(reference), strict=True):
        assert got.keys() == want.keys()
        for key in got:
            np.testing.assert_allclose(
                got[key], want[key], rtol=1e-4, err_msg=f"{name}: {key}"
            )
    assert [f["code"] for f in report.findings] == [
        f["code"] for f in reference.findings
    ]
    if name == "lint_model":
        assert {f["code"] for f in report.findings} == {"inputs_not_normalized"}
        for got, want in zip(report.findings, reference.findings, strict=True):
            np.testing.assert_allclose(
                [got["mean"], got["std"]], [want["mean"], want["std"]], rtol=1e-5
            )


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("name", FUNCTIONS)
def test_fewer_samples_than_one_batch(models, name, kind):
    model_kind, make, _ = KINDS[kind]
    x, y = _arrays(SMALL, name)
    if kind in ("arrays", "dict_arrays") and name not in (
        "input_independent_baseline",
        "diagnose",
    ):
        make = None  # the reference below is this very run
    if name in ("input_independent_baseline", "diagnose"):  # they need one batch_size
        with pytest.raises(
            ValueError, match=r"`data` must hold at least one batch \(batch_size=16"
        ):
            _run(name, models[model_kind], make(x, y))
        return
    reference = _reference(name, models, model_kind, _samples_read(name, kind, SMALL))
    # The documented result: the check runs on the samples there are.
    report = reference if make is None else _run(name, models[model_kind], make(x, y))
    assert report.status == reference.status
    np.testing.assert_allclose(
        list(_numbers(report)[0].values()),
        list(_numbers(reference)[0].values()),
        rtol=1e-4,
    )


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("name", FUNCTIONS)
def test_no_samples(models, name, kind):
    model_kind, make, _ = KINDS[kind]
    x, y = _arrays(0)
    argument = {"overfit_one_batch": "batch", "check_initial_loss": "batch"}.get(
        name, "data"
    )
    argument = "x" if name == "check_batch_dependence" else argument
    with pytest.raises(
        ValueError, match=rf"`{argument}` must hold at least one sample"
    ):
        _run(name, models[model_kind], make(x, y))


def test_dataset_without_labels_and_other_kinds_are_refused(models):
    model = models["single"]
    x, y = _arrays(N)
    features_only = tf.data.Dataset.from_tensor_slices(x).batch(B)
    with pytest.raises(
        ValueError, match=r"`batch` must give labels: elements \(x, y\)"
    ):
        diagnostics.check_initial_loss(model, features_only)
    # Features alone are enough where no label is needed.
    assert diagnostics.check_batch_dependence(model, features_only).passed
    with pytest.raises(
        ValueError, match=r"`data` must be a pair \(x, y\) of arrays .*PyDataset"
    ):
        diagnostics.diagnose(model, iter([(x, y)]))
    with pytest.raises(ValueError, match=r"`data` must be a pair \(x, y\) of arrays"):
        diagnostics.diagnose(model, x)


def test_diagnose_reads_a_dataset_for_the_baseline_steps(models):
    """From a dataset, diagnose pools ceil(steps * batch_size / 0.75) samples."""
    x, y = _arrays(N)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(B)
    report = diagnostics.diagnose(models["single"], dataset, batch_size=B, steps=2)
    k = math.ceil(2 * B / 0.75)
    reference = diagnostics.diagnose(
        models["single"], (x[:k], y[:k]), batch_size=B, steps=2
    )
    assert [r.check for r in report.reports][-1] == "input-independent baseline"
    for got, want in zip(_numbers(report), _numbers(reference), strict=True):
        np.testing.assert_allclose(list(got.values()), list(want.values()), rtol=1e-4)
    with pytest.raises(
        ValueError, match=r"`data` must hold at least one batch \(batch_size=16"
    ):
        diagnostics.diagnose(
            models["single"], dataset.unbatch().take(9).batch(4), batch_size=B
        )


def test_endless_dataset_is_read_only_as_far_as_needed(models):
    x, y = _arrays(N)
    endless = tf.data.Dataset.from_tensor_slices((x, y)).batch(B).repeat()
    report = diagnostics.input_independent_baseline(
        models["single"], endless, steps=3, batch_size=B
    )
    reference = _reference("input_independent_baseline", models, "single", N)
    np.testing.assert_allclose(
        list(report.numbers.values()), list(reference.numbers.values()), rtol=1e-4
    )
