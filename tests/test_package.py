"""The package surface: version, explicit ``__all__``, every public class registered."""

import inspect

import keras
import pytest

import keras_tricks

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
