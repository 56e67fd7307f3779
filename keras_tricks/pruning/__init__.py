"""keras_tricks.pruning."""

__all__ = []
