"""Look optimizers up by name: `get("adabelief")` and `list_optimizers()`."""

import keras

from keras_tricks._checks import check_choice
from keras_tricks.optimizers.adabelief import AdaBelief
from keras_tricks.optimizers.adainject import (
    AdaBeliefInject,
    AdamInject,
    DiffGradInject,
    RAdamInject,
)
from keras_tricks.optimizers.angulargrad import AngularGrad
from keras_tricks.optimizers.diffgrad import DiffGrad
from keras_tricks.optimizers.radam import RAdam

_OPTIMIZERS = {
    cls.__name__.lower(): cls
    for cls in (
        AdaBelief,
        AdaBeliefInject,
        AdamInject,
        AngularGrad,
        DiffGrad,
        DiffGradInject,
        RAdam,
        RAdamInject,
    )
}


def list_optimizers():
    """Return the names `get` accepts, lower case and sorted.

    Returns:
        A list of strings, e.g. `["adabelief", "adabeliefinject", ...]`.

    Example:
    >>> "radam" in keras_tricks.optimizers.list_optimizers()
    True
    """
    return sorted(_OPTIMIZERS)


def get(identifier, **kwargs):
    """Return a keras_tricks optimizer from a name, a config or an instance.

    Args:
        identifier: a name from `list_optimizers()` (case-insensitive, so
            `"AdaBelief"` and `"adabelief"` both work), a config dict as
            `keras.optimizers.serialize` writes it, or an optimizer instance
            (returned unchanged).
        **kwargs: constructor arguments, used with a name only.

    Returns:
        A `keras.optimizers.Optimizer`.

    Example:
    >>> optimizer = keras_tricks.optimizers.get("adabelief", learning_rate=1e-3)

    Note:
        An unknown name raises a `ValueError` that names it and lists the known
        ones.
    """
    if isinstance(identifier, keras.optimizers.Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return keras.optimizers.deserialize(identifier)
    if not isinstance(identifier, str):
        check_choice("identifier", identifier, list_optimizers())
    name = identifier.lower()
    if name not in _OPTIMIZERS:
        check_choice("identifier", identifier, list_optimizers())
    return _OPTIMIZERS[name](**kwargs)
