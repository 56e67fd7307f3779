"""Every layer on every backend: fit, save/load, and the bugs fixed for JAX/PyTorch.

The ``backends`` subset of the layer tests (CI runs it under
``KERAS_BACKEND=jax`` and ``=torch`` too); the numbers themselves are compared
with TensorFlow's in ``tests/backends/cases_layers.py``.
"""

import keras
import numpy as np
import pytest

from keras_tricks.layers import (
    DropConnect,
    GroupNormalization,
    InstanceNormalization,
    WeightNormalization,
)
from tests.helpers.layer_checks import check_save_load

pytestmark = pytest.mark.backends

BACKEND = keras.backend.backend()

LAYERS = [
    (DropConnect, {"layer": keras.layers.Dense(3), "rate": 0.5, "seed": 1}, (4, 5)),
    (GroupNormalization, {"groups": 2, "axis": 1}, (4, 4, 3, 5)),
    (InstanceNormalization, {}, (4, 5, 5, 3)),
    (WeightNormalization, {"layer": keras.layers.Dense(4, activation="tanh")}, (4, 5)),
]


@pytest.mark.parametrize(
    "cls, kwargs, input_shape",
    LAYERS,
    ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(LAYERS)],
)
def test_fit_then_save_and_load(cls, kwargs, input_shape, tmp_path):
    # One epoch of fit (training=True: DropConnect draws masks), then the
    # .keras round trip gives identical predictions. (Conv layers inside the
    # wrappers: the cross-backend cases in tests/backends/cases_layers.py.)
    check_save_load(cls, kwargs, input_shape, tmp_path)


def test_drop_connect_in_training_masks_the_kernel():
    # It used to hand the kernel Variable to keras.random.dropout, which JAX
    # ("Could not convert <Variable ...> to a NumPy dtype") and PyTorch
    # ("zeros_like(): argument 'dtype' must be torch.dtype") refuse.
    inner = keras.layers.Dense(64, use_bias=False, kernel_initializer="ones")
    layer = DropConnect(inner, rate=0.5, seed=3)
    y = keras.ops.convert_to_numpy(layer(np.eye(16, dtype="float32"), training=True))
    assert set(np.unique(y)) == {0.0, 2.0}


def _data_init_model():
    inputs = keras.Input((4,))
    wrapper = WeightNormalization(keras.layers.Dense(3), data_init=True)
    model = keras.Model(inputs, wrapper(inputs))
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse")
    return model, wrapper


def _data():
    rng = np.random.default_rng(4)
    return rng.normal(3.0, 2.0, size=(32, 4)).astype("float32"), rng.normal(
        size=(32, 3)
    )


def _assert_normalized(model, x):
    y = keras.ops.convert_to_numpy(model(x))
    np.testing.assert_allclose(y.mean(axis=0), 0.0, atol=1e-4)
    np.testing.assert_allclose(y.std(axis=0), 1.0, atol=1e-4)


def test_weight_normalization_data_init_after_an_eager_training_call():
    # Every backend: one eager call with training=True initializes on that
    # batch; fit (learning rate 0) then keeps g and the bias as they are.
    model, wrapper = _data_init_model()
    x, y = _data()
    model(x, training=True)
    assert float(keras.ops.convert_to_numpy(wrapper.initialized)) == 1.0
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    _assert_normalized(model, x)


@pytest.mark.skipif(BACKEND == "jax", reason="JAX: see the test below")
def test_weight_normalization_data_init_inside_fit():
    model, wrapper = _data_init_model()
    x, y = _data()
    model.fit(x, y, batch_size=32, epochs=1, verbose=0)
    assert float(keras.ops.convert_to_numpy(wrapper.initialized)) == 1.0
    _assert_normalized(model, x)


@pytest.mark.skipif(BACKEND != "jax", reason="the JAX training step is stateless")
def test_weight_normalization_data_init_inside_a_jax_fit_is_refused_clearly():
    # Keras's JAX step drops assignments to trainable variables: the init
    # used to leave g and the bias as they were and set `initialized` anyway.
    model, _ = _data_init_model()
    x, y = _data()
    with pytest.raises(
        NotImplementedError,
        match=r"cannot initialize inside a JAX training step.*"
        r"Received: KERAS_BACKEND='jax'",
    ):
        model.fit(x, y, batch_size=32, epochs=1, verbose=0)
