"""keras_tricks.diagnostics."""

__all__ = []
