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


@pytest.fixture(scope="module", params=sorted(OTHER_BACKENDS))
def other_results(request, tmp_path_factory):
    backend = request.param
    if importlib.util.find_spec(OTHER_BACKENDS[backend]) is None:
        pytest.skip(f"{backend} is not installed (pip install -e '.[{backend}]')")
    out = tmp_path_factory.mktemp(backend) / "results.npz"
    env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "tests.backends._compute", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-4000:]
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
