"""keras_tricks: the training tricks practitioners pass around, as Keras 3 objects.

Importing the package imports every subpackage, so every public class is
registered with Keras under the package name ``keras_tricks`` and a saved
``.keras`` model that uses one loads with no ``custom_objects``.
"""

__version__ = "0.1.0"

from keras_tricks import (
    augment,  # noqa: E402
    callbacks,  # noqa: E402
    diagnostics,  # noqa: E402
    layers,  # noqa: E402
    optimizers,  # noqa: E402
    pruning,  # noqa: E402
    schedules,  # noqa: E402
)

__all__ = [
    "__version__",
    "augment",
    "callbacks",
    "diagnostics",
    "layers",
    "optimizers",
    "pruning",
    "schedules",
]
