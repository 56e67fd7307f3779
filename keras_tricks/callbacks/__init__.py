"""keras_tricks.callbacks."""

__all__ = []
