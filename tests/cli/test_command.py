"""The `keras-tricks` command: the whole recipe in --quick mode, options, errors."""

import base64
import json
import math
import os
import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow_datasets as tfds

import keras_tricks
from keras_tricks import optimizers
from keras_tricks.cli import _args, _data, _model, _recipe, main

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PNGS = ("lr_range_test.png", "training.png", "sparsity.png", "confusion_matrix.png")
OPTIONS = (
    "--dataset",
    "--data-dir",
    "--output",
    "--epochs",
    "--batch-size",
    "--optimizer",
    "--learning-rate",
    "--schedule",
    "--warmup-epochs",
    "--normalization",
    "--augment",
    "--dropout",
    "--patience",
    "--no-diagnose",
    "--tune",
    "--tune-epochs",
    "--sparsity",
    "--prune-epochs",
    "--image-size",
    "--seed",
    "--quick",
    "--verbose",
)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("tfds"))


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory, data_dir):
    """One --quick run of the whole recipe on the offline digits, shared."""
    output = str(tmp_path_factory.mktemp("report"))
    code = main(
        ["--quick", "--output", output, "--data-dir", data_dir, "--verbose", "0"]
    )
    return code, output


def _finite_numbers(value, path="summary"):
    """Every number in a JSON tree, with its path; `None` where JSON holds null."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _finite_numbers(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _finite_numbers(item, f"{path}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


def test_quick_run_writes_summary_with_every_number(quick_run):
    code, output = quick_run
    assert code == 0
    with open(os.path.join(output, "summary.json")) as f:
        summary = json.load(f)
    assert {
        "config",
        "dataset",
        "replicas",
        "diagnostics",
        "lr_range_test",
        "training",
        "tuning",
        "pruning",
        "confusion_matrix",
        "seconds",
    } <= set(summary)
    assert summary["dataset"]["input_shape"] == [8, 8, 1]
    assert summary["replicas"] >= 1
    assert {c["check"] for c in summary["diagnostics"]["checks"]} >= {
        "lint",
        "initial loss",
    }
    lr = summary["lr_range_test"]
    assert 0 < lr["clr_bounds"][0] <= lr["clr_bounds"][1]
    assert lr["suggested_learning_rate"] > 0
    training = summary["training"]
    low, high = training["clr_bounds"]
    assert 0 < low < high
    # Warmup from 0, then the cycle stays within its bounds.
    rates = np.array(training["learning_rate_per_step"])
    assert rates[0] == 0.0 and rates.max() <= high * (1 + 1e-6)
    assert len(rates) == training["epochs_run"] * training["steps_per_epoch"]
    # Well above chance (0.1) after two short epochs (about 0.8 seen).
    assert training["test_accuracy"] > 0.4
    pruning = summary["pruning"]
    assert pruning["sparsity"] == pytest.approx(0.5, abs=0.02)
    assert pruning["sparsity_per_step"][-1] == pytest.approx(0.5, abs=0.02)
    # Half the weights are zeros: fewer bytes gzipped. (The dense file holds no
    # optimizer state: with Adam's moments it gzipped to 3 times more.)
    assert (
        pruning["pruned_weights_gzip_bytes"] < 0.8 * pruning["dense_weights_gzip_bytes"]
    )
    assert pruning["gzip_compression_ratio"] < 3.0
    assert pruning["test_accuracy"] > 0.2
    matrix = np.array(summary["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == summary["dataset"]["num_test"]
    for path, number in _finite_numbers(summary):
        assert math.isfinite(number), path


def test_quick_run_writes_pngs_html_and_a_loadable_model(quick_run):
    _, output = quick_run
    for name in PNGS:
        with open(os.path.join(output, name), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", name
    with open(os.path.join(output, "report.html")) as f:
        page = f.read()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == len(PNGS)
    assert all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)
    assert 'src="http' not in page and "<script" not in page  # self-contained
    model = keras.saving.load_model(os.path.join(output, "model.keras"))
    sparsity = keras_tricks.pruning.sparsity_report(model)[-1]["sparsity"]
    assert sparsity == pytest.approx(0.5, abs=0.02)


def test_help_documents_every_option(capsys):
    assert main(["--help"]) == 0
    text = capsys.readouterr().out
    for option in OPTIONS:
        assert option in text, option
    # Every option of the parser is in the list above (so in docs/command.md too).
    parser_options = {
        o
        for a in _args.build_parser()._actions
        for o in a.option_strings
        if o.startswith("--")
    }
    assert parser_options - {"--help"} == set(OPTIONS)


def test_docs_page_documents_every_option():
    with open(os.path.join(REPO, "docs", "command.md")) as f:
        page = f.read()
    for option in OPTIONS:
        assert f"`{option}" in page, option


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--epochs", "0"], r"argument --epochs: must be >= 1\. Received: '0'"),
        (["--sparsity", "1"], r"argument --sparsity: must be < 1\.0\. Received: '1'"),
        (
            ["--learning-rate", "nan"],
            r"argument --learning-rate: must be finite\. Received: 'nan'",
        ),
        (
            ["--optimizer", "adagrad"],
            r"argument --optimizer: invalid choice: 'adagrad'",
        ),
        (["--no-such-option"], r"unrecognized arguments: --no-such-option"),
    ],
)
def test_bad_option_is_one_line_and_exit_2(argv, message, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("keras-tricks: error: ")
    assert re.search(message, lines[0])


def test_unknown_dataset_is_one_line_and_exit_1_in_a_fresh_process(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_tricks",
            "--dataset",
            "no_such_dataset",
            "--data-dir",
            str(tmp_path / "tfds"),
            "--output",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [
        line for line in result.stderr.splitlines() if line.startswith("keras-tricks")
    ]
    assert errors == [
        "keras-tricks: error: `name` must be 'digits' or a TFDS dataset name. "
        "Received: name='no_such_dataset'"
    ]


def test_no_network_for_a_remote_dataset_is_exit_1(monkeypatch, tmp_path, capsys):
    # What keras_tricks.datasets.load raises when a download fails.
    def offline(name, data_dir=None, download=True):
        raise RuntimeError(
            f"Could not download the dataset {name!r} (ConnectionError: no network). "
            "Without network, use name='digits'.\nsecond line"
        )

    monkeypatch.setattr(keras_tricks.datasets, "load", offline)
    assert main(["--dataset", "cifar10", "--output", str(tmp_path)]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "keras-tricks: error: Could not download the dataset 'cifar10' "
        "(ConnectionError: no network). Without network, use name='digits'."
    ]


def test_missing_matplotlib_is_exit_1_before_any_work(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import raises ImportError
    assert main(["--output", str(tmp_path / "out")]) == 1
    assert capsys.readouterr().err.startswith(
        "keras-tricks: error: the report needs matplotlib"
    )
    assert not (tmp_path / "out").exists()


def test_remote_dataset_is_loaded_and_resized_through_tfds(data_dir):
    args = _args.parse(
        [
            "--dataset",
            "mnist",
            "--data-dir",
            data_dir,
            "--image-size",
            "16",
            "--batch-size",
            "8",
        ]
    )
    with tfds.testing.mock_data(
        num_examples=40, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        splits = _data.load(args)
    assert splits.input_shape == (16, 16, 1) and splits.resized
    assert (splits.num_train, splits.num_validation) == (36, 4)
    images, labels = next(iter(splits.train))
    assert images.shape == (8, 16, 16, 1) and images.dtype == "float32"
    assert float(np.max(images)) <= 255.0 and labels.dtype == "int64"
    model = _model.build(
        splits.input_shape, splits.num_classes, "group", "light", 0.2, 0
    )
    assert model(images).shape == (8, 10)


def test_default_image_size_keeps_small_fixed_sizes_and_resizes_the_rest():
    assert _data.image_size((8, 8, 1), None) is None
    assert _data.image_size((32, 32, 3), None) is None
    assert _data.image_size((None, None, 3), None) == 64
    assert _data.image_size((500, 375, 3), None) == 64
    assert _data.image_size((8, 8, 1), 16) == 16


def test_optimizer_choices_are_keras_and_every_keras_tricks_optimizer():
    assert set(optimizers.list_optimizers()) == set(_args.TRICKS_OPTIMIZERS)
    for name in _args.KERAS_OPTIMIZERS + _args.TRICKS_OPTIMIZERS:
        optimizer = _model.optimizer(name, 1e-3)
        assert isinstance(optimizer, keras.optimizers.Optimizer)
        assert float(optimizer.learning_rate) == pytest.approx(1e-3)


@pytest.mark.parametrize("kind", _args.NORMALIZATIONS)
def test_every_normalization_builds(kind):
    model = _model.build((8, 8, 1), 10, kind, "none", 0.0, 0)
    names = {type(layer).__name__ for layer in model.layers}
    expected = {
        "batch": "BatchNormalization",
        "group": "GroupNormalization",
        "instance": "InstanceNormalization",
        "layer": "LayerNormalization",
    }
    if kind == "none":
        assert not names & set(expected.values())
    else:
        assert expected[kind] in names


def test_chosen_rates():
    args = _args.parse([])
    sweep = {"min_learning_rate": 1e-6, "max_learning_rate": 1.0}
    numbers = {**sweep, "suggested_learning_rate": 1e-3, "clr_bounds": [1e-6, 1e-2]}
    # The lower bound is raised to a tenth of the upper one.
    assert _recipe.chosen_rates(numbers, args) == (1e-3, (1e-3, 1e-2), "range test")
    numbers = {
        **sweep,
        "suggested_learning_rate": float("nan"),
        "clr_bounds": [1e-6, 1e-2],
    }
    rate, bounds, source = _recipe.chosen_rates(numbers, args)
    assert (rate, *bounds) == pytest.approx((3e-3, 3e-4, 3e-3)) and source.startswith(
        "fallback"
    )
    # The loss never fell: its minimum is at the start of the sweep.
    numbers = {**sweep, "suggested_learning_rate": 1e-6, "clr_bounds": [1e-6, 2e-6]}
    rate, bounds, source = _recipe.chosen_rates(numbers, args)
    assert (rate, *bounds) == pytest.approx((3e-3, 3e-4, 3e-3)) and source.startswith(
        "fallback"
    )
    args = _args.parse(["--learning-rate", "0.5"])
    assert _recipe.chosen_rates(numbers, args)[:2] == (0.5, (0.05, 0.5))


def test_quick_caps_the_run():
    args = _args.parse(["--quick", "--epochs", "50", "--batch-size", "256"])
    assert (args.epochs, args.batch_size, args.range_test_steps) == (2, 32, 80)
    args = _args.parse(["--epochs", "50"])
    assert (args.epochs, args.max_train) == (50, None)


def test_tune_runs_a_random_search(tmp_path, data_dir):
    pytest.importorskip("keras_tuner")
    pytest.importorskip("keras_tricks.tuning")
    output = str(tmp_path)
    code = main(
        [
            "--quick",
            "--tune",
            "1",
            "--no-diagnose",
            "--sparsity",
            "0",
            "--output",
            output,
            "--data-dir",
            data_dir,
            "--verbose",
            "0",
        ]
    )
    assert code == 0
    with open(os.path.join(output, "summary.json")) as f:
        tuning = json.load(f)["tuning"]
    assert (tuning["trials"], tuning["failed_trials"]) == (1, 0)
    assert 0.0 <= tuning["best_val_accuracy"] <= 1.0
    assert tuning["best_hyperparameters"]
