"""Sparse gradients (`IndexedSlices`, what an `Embedding` gives) equal dense ones.

Keras's own optimizers treat an `IndexedSlices` gradient as the dense tensor it
stands for: rows that got no gradient still see their moments decay. Each
optimizer here must give the numbers it gives on that dense tensor, in `fit`
(plain graphs, XLA, `MirroredStrategy`) and in `apply_gradients`.
"""

import keras
import numpy as np
import pytest
from keras import ops

from keras_tricks import optimizers
from keras_tricks.optimizers import _base
from tests.optimizers.conftest import assert_weights_close, every_optimizer

VOCABULARY, WIDTH = 12, 3


class _DenseEmbedding(keras.layers.Embedding):
    """An `Embedding` whose lookup is a one-hot matmul: its gradient is dense.

    The forward values are the same as the lookup's (each output is one row
    times 1 plus zeros), and the gradient is the lookup's gradient made dense.
    """

    def call(self, inputs):
        one_hot = ops.one_hot(ops.cast(inputs, "int32"), self.input_dim)
        return ops.matmul(one_hot, self.embeddings)


def _embedding_model(embedding_class):
    keras.utils.set_random_seed(3)
    return keras.Sequential(
        [
            keras.Input((4,), dtype="int32"),
            embedding_class(VOCABULARY, WIDTH),
            keras.layers.Flatten(),
            keras.layers.Dense(1),
        ]
    )


def _ids_and_targets():
    rng = np.random.default_rng(0)
    # Ids below 8 only, so rows 8-11 never get a gradient (dense: zero rows),
    # and every batch repeats some ids (duplicate indices in the slices).
    x = rng.integers(0, 8, size=(32, 4)).astype("int32")
    y = rng.normal(size=(32, 1)).astype("float32")
    return x, y


def _fit(cls, embedding_class, jit_compile, strategy=None):
    x, y = _ids_and_targets()
    scope = strategy.scope() if strategy is not None else _no_scope()
    with scope:
        model = _embedding_model(embedding_class)
        model.compile(
            optimizer=cls(learning_rate=0.01, l2_weight_decay=0.0),
            loss="mse",
            jit_compile=jit_compile,
        )
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


class _no_scope:
    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


@pytest.mark.tf_only  # IndexedSlices are TensorFlow's; JAX and PyTorch give dense rows
def test_embedding_gradient_is_indexed_slices():
    # What the fit tests below rely on: the lookup's gradient is sparse, the
    # one-hot version's is dense.
    x, _ = _ids_and_targets()
    import tensorflow as tf

    for embedding_class, kind in (
        (keras.layers.Embedding, tf.IndexedSlices),
        (_DenseEmbedding, tf.Tensor),
    ):
        model = _embedding_model(embedding_class)
        with tf.GradientTape() as tape:
            loss = ops.sum(model(x[:8]))
        gradient = tape.gradient(loss, model.layers[0].embeddings.value)
        assert isinstance(gradient, kind)


# `fit` in each mode, sparse against dense, for one of the six optimizers that
# crashed on sparse gradients (two fits per case; an XLA fit costs seconds on
# two cores). Every optimizer meets sparse gradients under XLA and in plain
# graphs in test_conformance.py's apply_gradients matrix, and eagerly below.
# On JAX and PyTorch the Embedding's gradient is dense: the fits check that an
# Embedding model trains there as its one-hot twin does.
FIT_CASES = [
    pytest.param(optimizers.AngularGrad, "plain"),
    pytest.param(
        optimizers.DiffGrad,
        "xla",
        marks=pytest.mark.skipif(
            keras.backend.backend() == "torch",
            reason="jit_compile on PyTorch is torch.compile, not XLA",
        ),
    ),
    pytest.param(optimizers.RAdamInject, "mirrored", marks=pytest.mark.tf_only),
]


@pytest.mark.parametrize(
    "cls, mode",
    FIT_CASES,
    ids=[f"{p.values[0].__name__}-{p.values[1]}" for p in FIT_CASES],
)
def test_fit_on_embedding_equals_dense(cls, mode, request):
    strategy = request.getfixturevalue("strategy") if mode == "mirrored" else None
    jit_compile = mode == "xla"
    sparse = _fit(cls, keras.layers.Embedding, jit_compile, strategy)
    dense = _fit(cls, _DenseEmbedding, jit_compile, strategy)
    assert all(np.isfinite(w).all() for w in sparse)
    assert_weights_close(sparse, dense, rtol=1e-5, atol=1e-6)
    # Rows that never got a gradient moved only through decoupled decay,
    # which is off: they keep their initial values in both runs.
    initial = _embedding_model(keras.layers.Embedding).get_weights()[0]
    np.testing.assert_array_equal(sparse[0][8:], initial[8:])


def _slices_and_dense():
    """An `IndexedSlices` gradient with a repeated index, and its dense sum."""
    import tensorflow as tf

    values = np.array([[0.5, -1.0, 2.0], [0.25, 0.5, -0.5], [1.0, 1.0, 1.0]], "float32")
    indices = np.array([1, 4, 1], "int32")  # row 1 twice: its values sum
    dense = np.zeros((6, 3), "float32")
    np.add.at(dense, indices, values)
    slices = tf.IndexedSlices(
        tf.constant(values), tf.constant(indices), tf.constant([6, 3])
    )
    return slices, tf.constant(dense)


@pytest.mark.tf_only  # IndexedSlices
@every_optimizer
@pytest.mark.parametrize("l2_weight_decay", [0.0, 0.01], ids=["no_l2", "l2"])
def test_apply_gradients_indexed_slices_with_duplicates(cls, l2_weight_decay):
    import tensorflow as tf

    # Eagerly, three steps, decoupled decay on: a sparse and a dense copy of
    # the same table, one optimizer for both. (A coupled L2 term densifies the
    # gradient on its own, which hid the crash: both settings are tested.)
    slices, dense = _slices_and_dense()
    start = np.arange(18, dtype="float32").reshape(6, 3) / 10.0
    sparse_table, dense_table = keras.Variable(start), keras.Variable(start)
    kwargs = {"learning_rate": 0.1, "weight_decay": 0.01}
    optimizer = cls(l2_weight_decay=l2_weight_decay, **kwargs)
    for _ in range(3):
        optimizer.apply_gradients([(slices, sparse_table), (dense, dense_table)])
    np.testing.assert_allclose(sparse_table.numpy(), dense_table.numpy(), rtol=1e-6)
    assert not np.allclose(sparse_table.numpy(), start)
    # The duplicates summed: one of them alone gives another row 1.
    single = keras.Variable(start)
    alone = cls(l2_weight_decay=l2_weight_decay, **kwargs)
    last_only = tf.IndexedSlices(
        slices.values[1:], slices.indices[1:], slices.dense_shape
    )
    for _ in range(3):
        alone.apply_gradients([(last_only, single)])
    assert not np.allclose(single.numpy()[1], sparse_table.numpy()[1])


@pytest.mark.tf_only  # the TensorFlow path against its keras.ops reference
@pytest.mark.parametrize("jit_compile", [False, True], ids=["eager", "xla"])
def test_dense_gradient_equals_keras_ops_reference(jit_compile):
    # _base.dense_gradient turns IndexedSlices dense with TensorFlow's own
    # segment sum; _base.sum_rows is the same in keras.ops, the reference.
    import tensorflow as tf

    slices, dense = _slices_and_dense()
    variable = keras.Variable(np.zeros((6, 3), "float32"))

    def both():
        fast = _base.dense_gradient(slices, variable)
        reference = _base.sum_rows(slices.values, slices.indices, 6)
        return fast, reference

    fast, reference = tf.function(both, jit_compile=jit_compile)()
    np.testing.assert_array_equal(fast.numpy(), reference.numpy())
    np.testing.assert_array_equal(reference.numpy(), dense.numpy())
    # A dense gradient passes through untouched, on every path.
    assert _base.dense_gradient(dense, variable) is dense


@pytest.mark.tf_only  # IndexedSlices
def test_indexed_slices_without_dense_shape():
    import tensorflow as tf

    # A hand-made IndexedSlices may omit dense_shape; the variable's shape fills it.
    slices, dense = _slices_and_dense()
    bare = tf.IndexedSlices(slices.values, slices.indices)
    a, b = (
        keras.Variable(np.ones((6, 3), "float32")),
        keras.Variable(np.ones((6, 3), "float32")),
    )
    optimizer = optimizers.RAdam(learning_rate=0.1)
    optimizer.apply_gradients([(bare, a), (dense, b)])
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
