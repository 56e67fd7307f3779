"""JAX and PyTorch compute the same numbers as TensorFlow, to float32 tolerance.

Each case in ``cases_*.py`` runs here on TensorFlow and, once per session, in a
subprocess on each other backend; every array must agree within the case's
tolerance. A backend that is not installed is skipped with its reason.
"""

import importlib.util
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from tests.backends._cases import load_all
from tests.backends._compute import compute

pytestmark = pytest.mark.tf_only

ROOT = pathlib.Path(__file__).resolve().parents[2]
OTHER_BACKENDS = {"jax": "jax", "torch": "torch"}  # backend -> module it needs
CASES = load_all()


@pytest.fixture(scope="module")
def tensorflow_results():
    return compute()


@pytest.fixture(scope="module")
def other_runs(tmp_path_factory):
    """Both other backends' subprocesses, started at once (they wait on each other's
    CPU, not on this process): `{backend: (returncode, stderr, npz path) | None}`."""
    runs = {}
    for backend, module in sorted(OTHER_BACKENDS.items()):
        if importlib.util.find_spec(module) is None:
            runs[backend] = None
            continue
        out = tmp_path_factory.mktemp(backend) / "results.npz"
        env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)}
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.backends._compute", str(out)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        runs[backend] = (process, out)
    finished = {}
    try:
        for backend, run in runs.items():
            if run is None:
                finished[backend] = None
                continue
            process, out = run
            _, stderr = process.communicate(timeout=600)
            finished[backend] = (process.returncode, stderr, out)
    finally:
        for run in runs.values():
            if run is not None and run[0].poll() is None:
                run[0].kill()
                run[0].wait()
    return finished


@pytest.fixture(scope="module", params=sorted(OTHER_BACKENDS))
def other_results(request, other_runs):
    backend = request.param
    if other_runs[backend] is None:
        pytest.skip(f"{backend} is not installed (pip install -e '.[{backend}]')")
    returncode, stderr, out = other_runs[backend]
    assert returncode == 0, stderr[-4000:]
    results = {}
    with np.load(out) as data:
        for flat_key in data.files:
            name, key = flat_key.split("::", 1)
            results.setdefault(name, {})[key] = data[flat_key]
    return backend, results


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_numbers_as_tensorflow(name, tensorflow_results, other_results):
    backend, results = other_results
    _, rtol, atol = CASES[name]
    expected = tensorflow_results[name]
    assert "__error__" not in expected, str(expected.get("__error__"))
    got = results.get(name, {})
    assert "__error__" not in got, f"{backend}:\n{got['__error__']}"
    assert sorted(got) == sorted(expected), (backend, sorted(got), sorted(expected))
    for key in expected:
        np.testing.assert_allclose(
            got[key],
            expected[key],
            rtol=rtol,
            atol=atol,
            err_msg=f"{backend}: {name}::{key}",
        )
