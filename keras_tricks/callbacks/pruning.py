"""`keras_tricks.callbacks.Pruning`: implemented in `keras_tricks.pruning._callback`."""

from keras_tricks.pruning._callback import Pruning  # noqa: F401
