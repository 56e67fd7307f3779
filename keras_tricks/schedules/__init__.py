"""keras_tricks.schedules: learning-rate schedules, the linear scaling rule, the range
test.

`LRFinder` runs Smith's learning-rate range test, which picks the bounds of a
`CyclicalLearningRate` (also importable as `keras_tricks.callbacks.LRFinder`).
Keras already ships `ExponentialDecay`, `InverseTimeDecay`,
`PiecewiseConstantDecay` and `CosineDecay`; these compose with the schedules
here (see docs/schedules.md).
"""

from keras_tricks.schedules.cyclical_learning_rate import CyclicalLearningRate
from keras_tricks.schedules.lr_finder import LRFinder
from keras_tricks.schedules.lr_finder_result import LRFinderResult
from keras_tricks.schedules.scaling import (
    global_batch_size,
    scale_learning_rate,
    scale_learning_rate_for_strategy,
)
from keras_tricks.schedules.step_decay import StepDecay
from keras_tricks.schedules.warmup import Warmup

__all__ = [
    "CyclicalLearningRate",
    "LRFinder",
    "LRFinderResult",
    "StepDecay",
    "Warmup",
    "global_batch_size",
    "scale_learning_rate",
    "scale_learning_rate_for_strategy",
]
