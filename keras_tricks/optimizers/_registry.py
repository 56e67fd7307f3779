"""Look optimizers up by name: `get("adabelief")` and `list_optimizers()`.

The optimizers are those `keras_tricks.optimizers` exports: a new optimizer
file enrols here, and in the tests' conformance suite, by its line in the
package's `__all__`.
"""

import importlib
import inspect

import keras

from keras_tricks._checks import check_choice


def optimizer_classes():
    """`{lower-case name: class}` of every optimizer the package exports that a
    name alone can build (wrappers such as `FineTuneOptimizer` are left out)."""
    package = importlib.import_module("keras_tricks.optimizers")
    exported = (getattr(package, name) for name in package.__all__)
    return {
        cls.__name__.lower(): cls
        for cls in exported
        if isinstance(cls, type)
        and issubclass(cls, keras.optimizers.Optimizer)
        and not wraps_an_optimizer(cls)
    }


def wraps_an_optimizer(cls):
    """Whether `cls` is a wrapper: its constructor requires another `optimizer`."""
    parameter = inspect.signature(cls.__init__).parameters.get("optimizer")
    return parameter is not None and parameter.default is inspect.Parameter.empty


# Keras's own optimizers that a name alone can build, keyed by lower-case class
# name ("adam", "adamw", "rmsprop", ...). Wrappers that need another optimizer
# (`LossScaleOptimizer`, `MultiOptimizer`) and the abstract base are left out.
_KERAS_WRAPPERS = ("Optimizer", "LossScaleOptimizer", "MultiOptimizer")
_KERAS_OPTIMIZERS = {
    name.lower(): cls
    for name, cls in vars(keras.optimizers).items()
    if isinstance(cls, type)
    and issubclass(cls, keras.optimizers.Optimizer)
    and name not in _KERAS_WRAPPERS
}


def list_optimizers():
    """Return the names `get` accepts, lower case and sorted.

    Returns:
        A list of strings, e.g. `["adabelief", "adabeliefinject", ...]`.

    Example:
    >>> "radam" in keras_tricks.optimizers.list_optimizers()
    True
    """
    return sorted(optimizer_classes())


def get(identifier, **kwargs):
    """Return an optimizer from a name, a config or an instance.

    One string covers every optimizer: the names of `list_optimizers()` build
    ours, and Keras's own names (`"adam"`, `"adamw"`, `"sgd"`, `"rmsprop"`,
    `"nadam"`, `"lion"`, ...: any `keras.optimizers` class, by its lower-case
    name, with or without underscores, as `"rms_prop"`) build Keras's.

    Args:
        identifier: a name from `list_optimizers()` or of a Keras optimizer
            (case-insensitive, so `"AdaBelief"`, `"adabelief"` and `"AdamW"`
            all work), a config dict as `keras.optimizers.serialize` writes
            it, or an optimizer instance (returned unchanged).
        **kwargs: constructor arguments, used with a name only.

    Returns:
        A `keras.optimizers.Optimizer`.

    Example:
    >>> optimizer = keras_tricks.optimizers.get("adabelief", learning_rate=1e-3)
    >>> sgd = keras_tricks.optimizers.get("sgd", learning_rate=0.1, momentum=0.9)

    Note:
        `list_optimizers()` lists ours only. An unknown name raises a
        `ValueError` that names it and lists the known ones, ours and Keras's.
    """
    if isinstance(identifier, keras.optimizers.Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return keras.optimizers.deserialize(identifier)
    known = list_optimizers() + sorted(_KERAS_OPTIMIZERS)
    if not isinstance(identifier, str):
        check_choice("identifier", identifier, known)
    name = identifier.lower()
    ours = optimizer_classes()
    if name in ours:
        return ours[name](**kwargs)
    name = name.replace("_", "")
    if name not in _KERAS_OPTIMIZERS:
        check_choice("identifier", identifier, known)
    return _KERAS_OPTIMIZERS[name](**kwargs)
