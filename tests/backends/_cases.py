"""The registry of numbers compared across backends.

A case is a function of no arguments that returns a dict of NumPy arrays (an
optimizer's weights after some steps, a layer's output and gradients, a
schedule's values). Each ``cases_*.py`` module registers its own with
:func:`case`; ``_compute.py`` runs them all on one backend and
``test_cross_backend.py`` compares JAX's and PyTorch's against TensorFlow's.
Cases must be deterministic: fixed inputs, no random draws from Keras.
"""

import importlib
import pkgutil

CASES = {}


def case(name, rtol=1e-5, atol=1e-6):
    """Register the decorated function as the case ``name`` with its tolerance."""

    def register(function):
        if name in CASES:
            raise ValueError(f"case {name!r} registered twice")
        CASES[name] = (function, rtol, atol)
        return function

    return register


def load_all():
    """Import every ``cases_*`` module beside this one, registering its cases."""
    package = importlib.import_module("tests.backends")
    for module in pkgutil.iter_modules(package.__path__):
        if module.name.startswith("cases_"):
            importlib.import_module(f"tests.backends.{module.name}")
    return CASES
