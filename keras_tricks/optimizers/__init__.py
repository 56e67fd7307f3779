"""keras_tricks.optimizers: DiffGrad, AdaBelief, RAdam, AngularGrad, AdaInject.

Each is a `keras.optimizers.Optimizer` written with `keras.ops`, registered
under the package `keras_tricks`, so a saved `.keras` model with its optimizer
loads without `custom_objects`. `get(name)` finds one by name and
`list_optimizers()` lists the names. `FineTuneOptimizer` wraps one of them (or
any Keras optimizer) to train pretrained layers at a fraction of the rate.

All take sparse gradients (`IndexedSlices`, as an `Embedding` gives; the result
is that of the dense gradient), float16 and bfloat16 variables (updated in
float32 with float32 slots) and zero-size variables: see docs/optimizers.md.
"""

from keras_tricks.optimizers._registry import get, list_optimizers
from keras_tricks.optimizers.adabelief import AdaBelief
from keras_tricks.optimizers.adainject import (
    AdaBeliefInject,
    AdamInject,
    DiffGradInject,
    RAdamInject,
)
from keras_tricks.optimizers.angulargrad import AngularGrad
from keras_tricks.optimizers.diffgrad import DiffGrad
from keras_tricks.optimizers.fine_tune import FineTuneOptimizer
from keras_tricks.optimizers.radam import RAdam

__all__ = [
    "AdaBelief",
    "AdaBeliefInject",
    "AdamInject",
    "AngularGrad",
    "DiffGrad",
    "DiffGradInject",
    "FineTuneOptimizer",
    "RAdam",
    "RAdamInject",
    "get",
    "list_optimizers",
]
