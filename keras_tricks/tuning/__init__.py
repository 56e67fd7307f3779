"""keras_tricks.tuning: the tricks as Keras Tuner search spaces (extra `tuner`).

One function per trick draws it from a `keras_tuner.HyperParameters` with the
literature's defaults and ranges: `optimizer`, `normalization`, `dropout`,
`drop_connect`, `augmentation`, `warmup`, `cyclical_learning_rate` and
`batch_size_and_learning_rate`. `ImageClassifierHyperModel` composes them into
a `keras_tuner.HyperModel`. See docs/tuning.md.

The functions need only the `hp` they are given; `ImageClassifierHyperModel`
imports keras_tuner when first used, so `import keras_tricks` works without it.
"""

from keras_tricks.tuning._search_spaces import (
    augmentation,
    batch_size_and_learning_rate,
    cyclical_learning_rate,
    drop_connect,
    dropout,
    group_counts,
    normalization,
    optimizer,
    warmup,
)

__all__ = [
    "ImageClassifierHyperModel",
    "augmentation",
    "batch_size_and_learning_rate",
    "cyclical_learning_rate",
    "drop_connect",
    "dropout",
    "group_counts",
    "normalization",
    "optimizer",
    "warmup",
]


def __getattr__(name):
    # keras_tuner is an optional dependency (extra `tuner`): imported here,
    # on first use of the HyperModel.
    if name == "ImageClassifierHyperModel":
        from keras_tricks.tuning._hypermodel import ImageClassifierHyperModel

        return ImageClassifierHyperModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
