"""keras_tricks.schedules."""

__all__ = []
