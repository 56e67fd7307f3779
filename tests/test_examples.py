"""Every script in examples/ runs, as a user would, in its quick mode.

Each one runs as `python examples/X.py --quick --data-dir <tmp>` would: as
`__main__`, with that argv, in one fresh process that runs the five in turn
(TensorFlow is imported once, not five times), each with its own output,
warnings and Keras settings. The default offline dataset ("digits") is
written once into a directory the whole module shares, so every script reads
it back through tensorflow-datasets.
"""

import argparse
import importlib.util
import json
import math
import os
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow_datasets as tfds

import keras_tricks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A guard against a hung script, not a timing assertion (per script).
HANG_GUARD_S = 600


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    directory = str(tmp_path_factory.mktemp("tfds"))
    keras_tricks.datasets.load("digits", data_dir=directory)
    return directory


def _examples_data():
    spec = importlib.util.spec_from_file_location(
        "_data", os.path.join(ROOT, "examples", "_data.py")
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _args(module, *argv, image_size=8):
    parser = argparse.ArgumentParser()
    module.add_arguments(parser, image_size=image_size)
    return parser.parse_args(list(argv))


def test_digits_arrays_are_floats_in_0_1(data_dir):
    module = _examples_data()
    x_train, y_train, x_test, y_test, data = module.load_arrays(
        _args(module, "--data-dir", data_dir), max_train=100
    )
    assert x_train.shape == (100, 8, 8, 1) and x_test.shape == (359, 8, 8, 1)
    assert x_train.dtype == "float32" and y_train.dtype == "int64"
    # No resize at the dataset's own size: exactly the uint8 grey levels / 255.
    images = next(iter(data.train.batch(100)))[0].numpy()
    np.testing.assert_array_equal(x_train, images.astype("float32") / 255.0)
    assert set(np.unique(y_test)) == set(range(10))


def test_another_tfds_name_is_resized_to_the_script_size(tmp_path):
    module = _examples_data()
    with tfds.testing.mock_data(
        num_examples=6, policy=tfds.testing.MockPolicy.USE_CODE
    ):
        x_train, _, _, _, data = module.load_arrays(
            _args(module, "--dataset", "mnist", "--data-dir", str(tmp_path))
        )
        same, _, _, _, _ = module.load_arrays(
            _args(
                module,
                "--dataset",
                "mnist",
                "--data-dir",
                str(tmp_path),
                "--image-size",
                "28",
            )
        )
    assert data.input_shape == (28, 28, 1)
    assert x_train.shape == (6, 8, 8, 1) and same.shape == (6, 28, 28, 1)
    for images in (x_train, same):
        assert images.dtype == "float32" and 0.0 <= images.min() and images.max() <= 1.0


def test_an_unknown_dataset_is_a_one_line_exit(tmp_path):
    module = _examples_data()
    with pytest.raises(
        SystemExit, match=r"^error: .*Received: name='no_such_dataset'$"
    ):
        module.load_arrays(
            _args(module, "--dataset", "no_such_dataset", "--data-dir", str(tmp_path))
        )
    with pytest.raises(SystemExit, match=r"--image-size must be >= 1\. Received: 0"):
        module.load_arrays(_args(module, "--image-size", "0"))


# The child: runs each script as `__main__` (as `python examples/X.py` would,
# examples/ first on sys.path), in turn, each with its own argv, its own
# captured stdout and stderr, warnings shown afresh and Keras's global
# settings as a fresh process has them; prints one JSON line of results.
_RUNNER = textwrap.dedent(
    """
    import contextlib, io, json, os, runpy, sys, traceback, warnings
    root, runs = sys.argv[1], json.loads(sys.argv[2])
    sys.path.insert(0, os.path.join(root, "examples"))
    answers = os.fdopen(os.dup(1), "w")
    results = {}
    for script, *args in runs:
        if "keras" in sys.modules:
            import keras
            keras.backend.clear_session()
            keras.mixed_precision.set_global_policy("float32")
            keras.config.set_floatx("float32")
        if "matplotlib.pyplot" in sys.modules:
            sys.modules["matplotlib.pyplot"].close("all")
        path = os.path.join("examples", script)
        sys.argv = [path, "--quick", *args]
        out, err, code = io.StringIO(), io.StringIO(), 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \\
                warnings.catch_warnings():
            try:
                runpy.run_path(path, run_name="__main__")
            except SystemExit as exit:
                code = exit.code or 0  # a message (str) is a failure too
            except BaseException:
                traceback.print_exc()
                code = 1
        results[script] = dict(code=code, stdout=out.getvalue(), stderr=err.getvalue())
    answers.write("RESULTS" + json.dumps(results) + "\\n")
    """
)


@pytest.fixture(scope="module")
def example_runs(data_dir, tmp_path_factory):
    """Every script's `--quick` run, in one fresh process (TensorFlow imported
    once, not once per script); `{script: {"code", "stdout", "stderr"}}`."""
    out = tmp_path_factory.mktemp("example_outputs")
    runs = [
        ["quickstart.py", "--data-dir", data_dir],
        ["optimizers.py", str(out / "optimizers.png"), "--data-dir", data_dir],
        ["cyclical_lr.py", "--out", str(out), "--data-dir", data_dir],
        ["pruning.py", "--data-dir", data_dir],
        ["diagnostics.py", "--data-dir", data_dir],
    ]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([ROOT, env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env.setdefault("KERAS_BACKEND", "tensorflow")
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    done = subprocess.run(
        [sys.executable, "-c", _RUNNER, ROOT, json.dumps(runs)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_S * len(runs),
    )
    assert "RESULTS" in done.stdout, f"the runner failed:\n{done.stderr[-4000:]}"
    results = json.loads(done.stdout.split("RESULTS", 1)[1])
    results["outputs"] = out
    return results


def _run(example_runs, script):
    """The stdout and stderr of `script`'s run; it must have exited with 0."""
    result = example_runs[script]
    assert result["code"] == 0, (
        f"{script} failed:\n{result['stdout']}\n{result['stderr'][-4000:]}"
    )
    return result["stdout"], result["stderr"]


def _number(pattern, text):
    match = re.search(pattern, text)
    assert match, f"{pattern!r} not in:\n{text}"
    return float(match.group(1))


def test_quickstart(example_runs):
    out, _ = _run(example_runs, "quickstart.py")
    assert "digits: 512 train / 256 test images of (8, 8, 1)" in out
    assert _number(r"test accuracy: ([0-9.]+)", out) > 0.5  # chance is 0.1


def test_optimizers(example_runs):
    png = example_runs["outputs"] / "optimizers.png"
    out, _ = _run(example_runs, "optimizers.py")
    rows = re.findall(
        r"^(\S+)\s+train loss (\S+) -> (\S+)\s+test accuracy (\S+)$", out, re.M
    )
    assert [row[0] for row in rows] == [
        "Adam",
        "SGD+momentum",
        "AdaBelief",
        "RAdamInject",
    ]
    for name, first, last, accuracy in rows:
        first, last, accuracy = float(first), float(last), float(accuracy)
        assert math.isfinite(first) and last < first, name
        assert 0.0 <= accuracy <= 1.0, name
    assert png.stat().st_size > 0


def test_cyclical_lr(example_runs):
    out, _ = _run(example_runs, "cyclical_lr.py")
    match = re.search(r"CLR bounds \(([^,]+), ([^)]+)\); test accuracy ([0-9.]+)", out)
    assert match, out
    base, top, accuracy = map(float, match.groups())
    assert 0 < base < top
    assert accuracy > 0.5
    for name in ("lr_range_test.png", "lr_over_training.png"):
        assert (example_runs["outputs"] / name).stat().st_size > 0


def test_pruning(example_runs):
    out, err = _run(example_runs, "pruning.py")
    assert re.search(
        r"80% weight-pruned, stripped \| ([0-9.]+) .*\| 80\.0% zeros", out
    ), out
    assert _number(r"80% weight-pruned, stripped \| ([0-9.]+)", out) > 0.5
    assert _number(r"max \|diff\| ([0-9.e+-]+)", out) < 1e-4  # shrink keeps the outputs
    assert _number(r"gzip size, pruned / dense: ([0-9.]+)", out) < 0.6
    assert "stopped short" not in err  # the schedule reaches its end_step


def test_diagnostics(example_runs):
    out, _ = _run(example_runs, "diagnostics.py")
    rows = re.findall(r"^.+\| (yes|NO)$", out, re.M)
    assert rows == ["yes"] * 8, out
