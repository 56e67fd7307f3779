"""Layers: normalizations and weight-level regularizers."""

__all__ = []
