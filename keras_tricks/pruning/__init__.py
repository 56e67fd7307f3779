"""keras_tricks.pruning: magnitude pruning for Keras 3 models.

Schedules (`ConstantSparsity`, `PolynomialDecay`), the `PruneLowMagnitude`
wrapper and `prune_low_magnitude` to add it, `strip_pruning` to remove it,
`shrink` to delete pruned units, and `sparsity_report`. The training-loop part
is `keras_tricks.callbacks.Pruning`.
"""

from keras_tricks.pruning._schedules import (
    ConstantSparsity,
    PolynomialDecay,
    PruningSchedule,
)
from keras_tricks.pruning._wrapper import (
    PruneLowMagnitude,
    prune_low_magnitude,
    strip_pruning,
)

__all__ = [
    "ConstantSparsity",
    "PolynomialDecay",
    "PruneLowMagnitude",
    "PruningSchedule",
    "prune_low_magnitude",
    "strip_pruning",
]
