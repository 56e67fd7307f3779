"""Run every cross-backend case on the backend ``KERAS_BACKEND`` names.

``python -m tests.backends._compute OUT.npz`` (from the repository root) writes
each case's arrays as ``<case>::<key>``; a case that raises is written as
``<case>::__error__`` with its traceback, so one failure does not hide the rest.
"""

import os
import sys
import traceback

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from tests.backends._cases import load_all  # noqa: E402


def compute(names=None):
    """``{case: {key: array}}`` for the named cases (all when None)."""
    cases = load_all()
    results = {}
    for name in sorted(cases if names is None else names):
        function = cases[name][0]
        try:
            results[name] = {k: np.asarray(v) for k, v in function().items()}
        except Exception:  # reported by the comparing test, per case
            results[name] = {"__error__": np.asarray(traceback.format_exc())}
    return results


def main(path):
    import keras_tricks  # noqa: F401  (registers the classes the cases build)

    flat = {
        f"{name}::{key}": value
        for name, arrays in compute().items()
        for key, value in arrays.items()
    }
    np.savez(path, **flat)


if __name__ == "__main__":
    main(sys.argv[1])
