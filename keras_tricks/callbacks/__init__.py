"""keras_tricks.callbacks: what needs the training loop.

`CyclicalLR` and `WarmupLR` drive a float learning rate per batch from the
schedules in `keras_tricks.schedules`. `LRFinder` and `LRFinderResult` (Smith's
range test, not a callback) live in `keras_tricks.schedules`; they stay
importable from here as the same classes.
"""

from keras_tricks.callbacks.cyclical_lr import CyclicalLR
from keras_tricks.callbacks.lr_finder import LRFinder, LRFinderResult
from keras_tricks.callbacks.pruning import Pruning
from keras_tricks.callbacks.warmup_lr import WarmupLR

__all__ = [
    "CyclicalLR",
    "LRFinder",
    "LRFinderResult",
    "Pruning",
    "WarmupLR",
]
