"""keras_tricks.optimizers."""

__all__ = []
