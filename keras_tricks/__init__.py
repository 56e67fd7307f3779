"""keras_tricks: the training tricks practitioners pass around, as Keras 3 objects.

Importing the package imports every subpackage, so every public class is
registered with Keras under the package name ``keras_tricks`` and a saved
``.keras`` model that uses one loads with no ``custom_objects``.
"""

__version__ = "0.2.0"

from keras_tricks import (  # noqa: E402
    augment,
    callbacks,
    datasets,
    diagnostics,
    layers,
    optimizers,
    pruning,
    schedules,
    tuning,
)

__all__ = [
    "__version__",
    "augment",
    "callbacks",
    "datasets",
    "diagnostics",
    "layers",
    "optimizers",
    "pruning",
    "schedules",
    "tuning",
]
