"""The ops the augmentation layers compute with: ``keras.ops``, or TensorFlow's inside
``tf.data``.

Users feed images through ``tf.data`` on every Keras backend. A ``tf.data``
``map`` traces its function into a TensorFlow graph, where JAX and PyTorch
cannot run, so Keras's own preprocessing layers switch to the TensorFlow
implementation of their ops there; ours do the same. Every augmentation
module computes with :data:`ops` (imported from here, in place of
``keras.ops``): it forwards each name to ``keras.ops`` (and ``ops.random`` to
``keras.random``), except inside :func:`tensorflow_scope`, which a layer
enters when it is called in a TensorFlow graph while Keras runs another
backend (:func:`in_foreign_tensorflow_graph`). The scope is per thread.

What other modules of ``keras_tricks.augment`` may use: :data:`ops`,
:func:`in_foreign_tensorflow_graph`, :func:`tensorflow_scope`,
:func:`uses_tensorflow` and :class:`TensorFlowSeed`.

Keras-private, and only in this module, because the alternative is a copy of
Keras core (about forty ops written again in TensorFlow, the mistake of
TensorFlow Addons): Keras's TensorFlow implementation of ``keras.ops`` is the
module ``keras.src.backend.tensorflow`` (submodules ``numpy``, ``core``,
``math``, ``nn``, ``linalg``, ``image``, ``random``), the one Keras's own
``DataLayer`` switches to; and ``keras.random.SeedGenerator`` accepts a
``backend=`` module, so that its state is a TensorFlow variable that a
``tf.data`` graph can advance. ``tests/augment/test_ops.py`` checks both by
name, so that a Keras upgrade that changes them fails there, not in a user's
pipeline.
"""

import contextlib
import importlib
import sys
import threading

import keras

_TF_BACKEND_MODULE = "keras.src.backend.tensorflow"  # Keras-private, see above
_OP_MODULES = ("numpy", "core", "math", "nn", "linalg")  # where keras.ops names live
_STATE = threading.local()


class _KerasOps:
    """``keras.ops``, with ``keras.random`` as ``.random``."""

    random = keras.random

    def __getattr__(self, name):
        return getattr(keras.ops, name)


class _TensorFlowOps:
    """Keras's TensorFlow implementation of ``keras.ops``, whatever backend Keras
    runs."""

    def __init__(self):
        backend = importlib.import_module(_TF_BACKEND_MODULE)
        self.backend = backend
        self.image = backend.image
        self.random = backend.random
        self._modules = [getattr(backend, name) for name in _OP_MODULES]

    def __getattr__(self, name):
        for module in self.__dict__.get("_modules", ()):
            if hasattr(module, name):
                function = getattr(module, name)
                setattr(self, name, function)  # found once, then a plain attribute
                return function
        raise AttributeError(f"no TensorFlow implementation of keras.ops.{name}")


_KERAS = _KerasOps()
_TENSORFLOW = []  # built on first use: importing it imports TensorFlow


def tensorflow_ops():
    """The TensorFlow namespace (built once)."""
    if not _TENSORFLOW:
        _TENSORFLOW.append(_TensorFlowOps())
    return _TENSORFLOW[0]


def _active():
    return getattr(_STATE, "namespace", None) or _KERAS


class _Dispatch:
    """``ops.<name>``: the name from the namespace active in this thread."""

    def __getattr__(self, name):
        return getattr(_active(), name)


ops = _Dispatch()


@contextlib.contextmanager
def tensorflow_scope():
    """Within it, :data:`ops` is TensorFlow's, whatever backend Keras runs."""
    previous = getattr(_STATE, "namespace", None)
    _STATE.namespace = tensorflow_ops()
    try:
        yield
    finally:
        _STATE.namespace = previous


def uses_tensorflow():
    """Whether :data:`ops` computes with TensorFlow now: the one test for the TF
    kernels."""
    return (
        keras.backend.backend() == "tensorflow"
        or getattr(_STATE, "namespace", None) is not None
    )


def in_foreign_tensorflow_graph(sample):
    """Whether a call on ``sample`` is traced into a TensorFlow graph while Keras runs
    another backend.

    That is a ``tf.data`` ``map`` (or a ``tf.function``) on JAX or PyTorch;
    a symbolic ``keras.KerasTensor`` (building a model) is not.
    """
    if keras.backend.backend() == "tensorflow" or "tensorflow" not in sys.modules:
        return False
    if isinstance(sample, keras.KerasTensor):
        return False
    return bool(sys.modules["tensorflow"].inside_function())


class TensorFlowSeed:
    """A layer's random state for TensorFlow graphs, made on first use from the layer's
    seed.

    The layer's own ``keras.random.SeedGenerator`` holds its state in a
    variable of Keras's backend (a JAX array, a torch tensor), which a
    TensorFlow graph cannot advance; this one holds it in a TensorFlow
    variable, created outside the graph being traced. It is a plain object,
    so Keras does not track its variable among the layer's weights.
    """

    def __init__(self, seed):
        self._seed = seed
        self._generator = None

    def generator(self):
        if self._generator is None:
            tf = sys.modules["tensorflow"]
            with tf.init_scope():  # a variable made in a traced graph would stay there
                self._generator = keras.random.SeedGenerator(
                    self._seed, backend=tensorflow_ops().backend
                )
        return self._generator
