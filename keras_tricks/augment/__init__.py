"""keras_tricks.augment."""

__all__ = []
