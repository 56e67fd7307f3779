"""The ops switch of keras_tricks.augment, and the Keras behaviours it relies on.

``keras_tricks/augment/_ops.py`` is the one place where the package reaches
into Keras-private code. The tests named ``test_keras_*`` check the Keras
behaviours it relies on, so that a Keras upgrade that changes them fails
here, by name, rather than in a user's ``tf.data`` pipeline:

- Keras's TensorFlow implementation of ``keras.ops`` is importable as
  ``keras.src.backend.tensorflow`` on every backend, and holds every op the
  augmentation layers call;
- ``keras.random.SeedGenerator(seed, backend=<that module>)`` keeps its state
  in a TensorFlow variable that a traced graph advances.
"""

import pathlib
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_tricks import augment
from keras_tricks.augment import _base, _ops

PACKAGE = pathlib.Path(augment.__file__).parent


def _called_ops():
    """Every ``ops.<name>``, ``ops.image.<name>`` and ``ops.random.<name>`` the package
    calls.

    ``o.<name>`` too: ``_sampling`` takes the namespace as ``o``.
    """
    names = set()
    pattern = r"\b(?:ops|o)\.((?:image\.|random\.)?[a-z_0-9]+)\("
    for path in PACKAGE.glob("*.py"):
        names |= set(re.findall(pattern, path.read_text()))
    return sorted(names)


def _lookup(namespace, dotted):
    for part in dotted.split("."):
        namespace = getattr(namespace, part)
    return namespace


def test_the_scan_finds_the_ops_the_layers_call():
    called = _called_ops()
    for name in (
        "stack",
        "cast",
        "floor",
        "image.map_coordinates",
        "random.uniform",
        "random.normal",
    ):
        assert name in called, called


@pytest.mark.backends
@pytest.mark.parametrize("name", _called_ops())
def test_keras_tensorflow_backend_implements_every_op_the_layers_call(name):
    # Keras-private: keras.src.backend.tensorflow.{numpy,core,math,nn,linalg,
    # image,random} hold the TensorFlow implementation of keras.ops.
    assert callable(_lookup(_ops.tensorflow_ops(), name))
    # ... under the name keras.ops (keras.random) gives it.
    assert callable(_lookup(keras if name.startswith("random.") else keras.ops, name))


@pytest.mark.backends
def test_keras_tensorflow_ops_compute_as_keras_ops():
    tf_ops = _ops.tensorflow_ops()
    x = np.arange(6, dtype="float32").reshape(2, 3)
    pairs = [
        (lambda o: o.stack([x, x], axis=-1), None),
        (lambda o: o.einsum("ij,kj->ik", x, x), None),
        (lambda o: o.cast(o.argsort(-x, axis=-1), "int32"), None),
        (lambda o: o.clip(o.where(x > 2, x, -x), -1.0, 4.0), None),
        (lambda o: o.inv(o.eye(3) * 2.0), None),
        (lambda o: o.one_hot(o.convert_to_tensor([0, 2]), 3, dtype="float32"), None),
    ]
    for function, _ in pairs:
        expected = keras.ops.convert_to_numpy(function(keras.ops))
        got = function(tf_ops)
        assert isinstance(got, tf.Tensor)
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)


@pytest.mark.backends
def test_keras_seed_generator_takes_a_tensorflow_backend_and_advances_in_a_graph():
    # Keras-private: SeedGenerator(seed, backend=module) makes its state with
    # module.Variable, a TensorFlow variable here, advanced by each draw.
    generator = _ops.TensorFlowSeed(7).generator()
    assert tf.is_tensor(tf.convert_to_tensor(generator.state.value))
    draw = tf.function(
        lambda: _ops.tensorflow_ops().random.uniform((3,), seed=generator)
    )
    first, second = draw().numpy(), draw().numpy()
    assert not np.array_equal(first, second)
    # The same seed draws the same stream again.
    again = _ops.TensorFlowSeed(7).generator()
    replay = tf.function(lambda: _ops.tensorflow_ops().random.uniform((3,), seed=again))
    np.testing.assert_array_equal(replay().numpy(), first)


@pytest.mark.backends
def test_ops_dispatch_follows_the_scope():
    x = np.ones((2, 2), "float32")
    with _ops.tensorflow_scope():
        assert _ops.uses_tensorflow()
        assert isinstance(_ops.ops.add(x, x), tf.Tensor)
        with _ops.tensorflow_scope():  # nested scopes restore their outer one
            pass
        assert _ops.uses_tensorflow()
    assert _ops.uses_tensorflow() == (keras.backend.backend() == "tensorflow")
    out = _ops.ops.add(x, x)
    assert keras.ops.is_tensor(out)


@pytest.mark.backends
def test_foreign_graph_is_only_a_tensorflow_graph_on_another_backend():
    seen = []

    def record(x):
        seen.append(_ops.in_foreign_tensorflow_graph(x))
        return x

    list(tf.data.Dataset.from_tensors(np.zeros((2,), "float32")).map(record))
    assert seen == [keras.backend.backend() != "tensorflow"]
    assert not _ops.in_foreign_tensorflow_graph(np.zeros(2))
    assert not _ops.in_foreign_tensorflow_graph(keras.KerasTensor((None, 2)))


@pytest.mark.backends
def test_the_tensorflow_seed_is_not_among_the_layer_weights():
    # A plain holder: Keras does not track its variable, so the layer has no
    # weights to save or to pass to a stateless JAX call.
    layer = augment.RandomColorCast(0.2, value_range=(0, 1), seed=3)
    ds = tf.data.Dataset.from_tensors(np.full((2, 4, 4, 3), 0.5, "float32")).map(layer)
    list(ds)
    assert isinstance(layer, _base.DataPipelineLayer)
    fresh = augment.RandomColorCast(0.2, value_range=(0, 1), seed=3)
    assert len(layer.variables) == len(fresh.variables)
