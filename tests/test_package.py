"""The package surface: version, explicit ``__all__``, every public class registered."""

import ast
import inspect
import pathlib
import re

import keras
import pytest

import keras_tricks

ROOT = pathlib.Path(__file__).resolve().parent.parent

SUBPACKAGES = [
    "augment",
    "callbacks",
    "diagnostics",
    "layers",
    "optimizers",
    "pruning",
    "schedules",
]


def test_version():
    assert isinstance(keras_tricks.__version__, str)
    assert keras_tricks.__version__.count(".") == 2


def _changelog_version():
    """The version of CHANGELOG.md's first `## [X.Y.Z]` heading."""
    text = (ROOT / "CHANGELOG.md").read_text()
    match = re.search(r"^## \[(\d+\.\d+\.\d+)\]", text, re.M)
    assert match, "CHANGELOG.md has no `## [X.Y.Z]` heading"
    return match.group(1)


def _docs_version():
    """The version docs/index.md names as `keras_tricks X.Y.Z`."""
    text = (ROOT / "docs" / "index.md").read_text()
    match = re.search(r"keras_tricks (\d+\.\d+\.\d+)", text)
    assert match, "docs/index.md names no `keras_tricks X.Y.Z`"
    return match.group(1)


def test_package_changelog_and_docs_give_one_version():
    assert setup_cfg_version() == "attr: keras_tricks.__version__"
    assert keras_tricks.__version__ == _changelog_version() == _docs_version()


def setup_cfg_version():
    """setup.cfg's `version =` line (the package's version, read at build time)."""
    match = re.search(r"^version\s*=\s*(.+)$", (ROOT / "setup.cfg").read_text(), re.M)
    return match.group(1).strip() if match else None


@pytest.mark.parametrize("name", SUBPACKAGES)
def test_public_names_come_from_all(name):
    module = getattr(keras_tricks, name)
    assert isinstance(module.__all__, list)
    for public in module.__all__:
        assert hasattr(module, public), f"{name}.__all__ names missing {public}"


def _public_classes():
    for name in SUBPACKAGES:
        module = getattr(keras_tricks, name)
        for public in module.__all__:
            obj = getattr(module, public)
            if inspect.isclass(obj) and not issubclass(obj, Exception):
                yield f"{name}.{public}", obj


@pytest.mark.parametrize("qualname, cls", list(_public_classes()))
def test_every_public_keras_class_is_registered(qualname, cls):
    keras_bases = (
        keras.layers.Layer,
        keras.optimizers.Optimizer,
        keras.optimizers.schedules.LearningRateSchedule,
        keras.callbacks.Callback,
        keras.constraints.Constraint,
        keras.regularizers.Regularizer,
    )
    if not issubclass(cls, keras_bases) and not hasattr(cls, "get_config"):
        pytest.skip(f"{qualname} is not a Keras object")
    registered = keras.saving.get_registered_name(cls)
    assert registered == f"keras_tricks>{cls.__name__}", (qualname, registered)


# The order of docs/architecture.md's table: each subpackage imports only the
# shared modules (leading underscore) and those before it.
LAYERING = [
    "layers",
    "optimizers",
    "augment",
    "schedules",
    "datasets",
    "pruning",
    "callbacks",
    "diagnostics",
    "tuning",
    "cli",
]


def _imported_subpackages(sub):
    found = set()
    for path in (ROOT / "keras_tricks" / sub).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                names = node.module.split(".")
                if names[0] != "keras_tricks":
                    continue
                found.update(names[1:2] or [alias.name for alias in node.names])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    names = alias.name.split(".")
                    if names[0] == "keras_tricks" and len(names) > 1:
                        found.add(names[1])
    return found - {sub}


@pytest.mark.parametrize("sub", LAYERING)
def test_subpackages_import_only_those_before_them(sub):
    allowed = set(LAYERING[: LAYERING.index(sub)])
    imported = {name for name in _imported_subpackages(sub) if not name.startswith("_")}
    assert imported <= allowed, f"{sub} imports {sorted(imported - allowed)}"


def test_the_layering_names_every_subpackage():
    subpackages = {
        path.name
        for path in (ROOT / "keras_tricks").iterdir()
        if path.is_dir()
        and not path.name.startswith("_")
        and (path / "__init__.py").exists()
    }
    assert set(LAYERING) == subpackages
