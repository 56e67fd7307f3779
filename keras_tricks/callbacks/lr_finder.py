"""`keras_tricks.callbacks.LRFinder`: where the range test used to live.

The range test is not a callback; it lives in `keras_tricks.schedules.lr_finder`
beside the schedules it tunes (its docstring says why). This module keeps the
old import path working: the names here are the same classes.
"""

from keras_tricks.schedules.lr_finder import LRFinder
from keras_tricks.schedules.lr_finder_result import LRFinderResult

__all__ = ["LRFinder", "LRFinderResult"]
