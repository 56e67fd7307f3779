"""keras_tricks.pruning: magnitude pruning for Keras 3 models.

Schedules (`ConstantSparsity`, `PolynomialDecay`), the `PruneLowMagnitude`
wrapper and `prune_low_magnitude` to add it, `strip_pruning` to remove it,
`shrink` to delete pruned units, and `sparsity_report`. The training-loop part
is `keras_tricks.callbacks.Pruning`.
"""

from keras_tricks.pruning._clone import prune_low_magnitude, strip_pruning
from keras_tricks.pruning._report import format_sparsity_report, sparsity_report
from keras_tricks.pruning._schedules import (
    ConstantSparsity,
    PolynomialDecay,
    PruningSchedule,
)
from keras_tricks.pruning._shrink import shrink
from keras_tricks.pruning._wrapper import PruneLowMagnitude

__all__ = [
    "ConstantSparsity",
    "PolynomialDecay",
    "PruneLowMagnitude",
    "PruningSchedule",
    "format_sparsity_report",
    "prune_low_magnitude",
    "shrink",
    "sparsity_report",
    "strip_pruning",
]
