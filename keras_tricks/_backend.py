"""Which Keras backend runs, and one clear error where only TensorFlow will do.

Most of keras_tricks is written with ``keras.ops`` and runs on every backend;
the few parts that need TensorFlow (``tf.distribute`` strategies, gradients
taken with ``tf.GradientTape``) call :func:`require_tensorflow` before they
start, so a user on JAX or PyTorch gets this error rather than a failure deep
inside.
"""

import keras


def is_tensorflow():
    """Whether Keras runs on TensorFlow."""
    return keras.backend.backend() == "tensorflow"


def require_tensorflow(what):
    """Raise ``NotImplementedError`` naming ``what`` unless Keras runs on TensorFlow."""
    backend = keras.backend.backend()
    if backend != "tensorflow":
        raise NotImplementedError(
            f"{what} needs the TensorFlow backend. Set KERAS_BACKEND=tensorflow "
            f"before importing keras. Received: KERAS_BACKEND={backend!r}"
        )
