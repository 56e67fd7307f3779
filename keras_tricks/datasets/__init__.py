"""Image-classification data through tensorflow-datasets, offline by default.

`load("digits")` (the default) needs no network: scikit-learn's bundled 8×8
digits are written once as a local TFDS dataset and read back with
`tfds.load`, the same code path that reads `"mnist"`, `"cifar10"`,
`"tf_flowers"` or any TFDS image-classification dataset a user can download.
Needs the `datasets` extra (`tensorflow-datasets`, `importlib_resources`).
"""

from keras_tricks.datasets._load import ImageData, load

__all__ = ["ImageData", "load"]
