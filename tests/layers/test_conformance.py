"""Every public layer against the inputs users bring (issue 11's layer matrix).

Every name in ``keras_tricks.layers.__all__`` is enrolled automatically: a
``keras.layers.Wrapper`` wraps a ``Dense`` and a ``Conv2D``; any other layer
is built with no arguments (``_KWARGS`` gives the few arguments a layer needs
for 4-channel images). A layer exported tomorrow is in the matrix the moment
it is exported, and fails here until it copes or refuses clearly.

Cells (eager and symbolic calls only, no ``fit``), on images
``(batch, height, width, 4)``:

- ``int32`` and ``uint8`` input: float32 output, equal to the layer on the
  same values as float32 (Keras's ``Dense`` promotes integers the same way;
  the normalizations are held to a float64 NumPy reference in their own
  tests);
- ``float16`` / ``bfloat16`` as the layer's dtype and as mixed policies:
  output in the compute dtype, finite, close to the float32 layer with the
  same weights;
- unknown height and width (``keras.Input((None, None, 4))``), called eagerly
  (every backend) and inside one ``tf.function`` (TensorFlow) on two sizes;
- a batch of 1, a batch of 0 and an image of height 0, in inference and
  training.

The outcome of a cell is the documented result above, or a clear
``ValueError``/``TypeError``; never NaN, never a raw backend error.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_tricks import layers

CHANNELS = 4
SHAPE = (2, 5, 5, CHANNELS)

# Arguments a layer needs here (or that exercise its interesting path).
_KWARGS = {
    "GroupNormalization": {"groups": 2},
    "WeightNormalization": {"data_init": True},
    "DropConnect": {"rate": 0.5, "seed": 0},
}

# What a wrapper wraps, by the name of the case.
_WRAPPED = {
    "Dense": lambda dtype: keras.layers.Dense(3, dtype=dtype),
    "Conv2D": lambda dtype: keras.layers.Conv2D(3, 3, padding="same", dtype=dtype),
}


def _cases():
    cases = []
    for name in layers.__all__:
        cls = getattr(layers, name)
        if issubclass(cls, keras.layers.Wrapper):
            cases += [(name, cls, wrapped) for wrapped in _WRAPPED]
        else:
            cases.append((name, cls, None))
    return cases


CASES = _cases()
IDS = [name if wrapped is None else f"{name}-{wrapped}" for name, _, wrapped in CASES]


def _make(case, dtype=None, wrapped_dtype=None):
    """A fresh layer of ``case`` (under the dtype policy in force, or ``dtype``).

    A wrapped layer gets ``wrapped_dtype``: a user may set the dtype on the
    wrapper only, or on both.
    """
    name, cls, wrapped = case
    kwargs = dict(_KWARGS.get(name, {}))
    if dtype is not None:
        kwargs["dtype"] = dtype
    if wrapped is not None:
        return cls(_WRAPPED[wrapped](wrapped_dtype), **kwargs)
    return cls(**kwargs)


def _images(shape, seed=0):
    return np.random.default_rng(seed).normal(1.0, 2.0, size=shape).astype("float32")


def _float32(tensor):
    return keras.ops.convert_to_numpy(keras.ops.cast(tensor, "float32"))


def _dtype(tensor):
    return keras.backend.standardize_dtype(tensor.dtype)


def test_every_exported_layer_is_enrolled():
    enrolled = {name for name, _, _ in CASES}
    assert enrolled == set(layers.__all__)
    for name in layers.__all__:
        assert issubclass(getattr(layers, name), keras.layers.Layer), name


@pytest.mark.parametrize("dtype", ["int32", "uint8"])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_integer_input(case, dtype):
    values = np.random.default_rng(1).integers(0, 256, size=SHAPE)
    layer = _make(case)
    y = layer(values.astype(dtype))
    assert _dtype(y) == "float32", y.dtype
    expected = _float32(layer(values.astype("float32")))
    np.testing.assert_allclose(_float32(y), expected, rtol=1e-5, atol=1e-5)
    trained = layer(values.astype(dtype), training=True)
    assert _dtype(trained) == "float32"
    assert np.all(np.isfinite(_float32(trained)))


@pytest.mark.parametrize(
    "policy, tol",
    [
        ("float16", 2e-2),
        ("mixed_float16", 2e-2),
        ("bfloat16", 1e-1),
        ("mixed_bfloat16", 1e-1),
    ],
)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_low_precision(case, policy, tol):
    x = _images(SHAPE, seed=2)
    reference = _make(case)
    expected = _float32(reference(x))
    if policy.startswith("mixed_"):
        keras.mixed_precision.set_global_policy(policy)
        candidates = [_make(case)]
    else:
        candidates = [
            _make(case, dtype=policy),
            _make(case, dtype=policy, wrapped_dtype=policy),
        ]
    compute = policy.replace("mixed_", "")
    for layer in candidates:
        layer(x)  # build
        layer.set_weights(reference.get_weights())
        y = layer(x)
        assert _dtype(y) == compute, y.dtype
        np.testing.assert_allclose(_float32(y), expected, rtol=tol, atol=tol)
        trained = layer(x, training=True)
        assert _dtype(trained) == compute
        assert np.all(np.isfinite(_float32(trained)))


def _model_of_unknown_size(case):
    layer = _make(case)
    inputs = keras.Input((None, None, CHANNELS))
    outputs = layer(inputs)
    assert outputs.shape[:3] == (None, None, None), outputs.shape
    return keras.Model(inputs, outputs)


_SIZES = [(2, 5, 5, CHANNELS), (3, 7, 6, CHANNELS)]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_unknown_spatial_dims(case):
    model = _model_of_unknown_size(case)
    for seed, shape in enumerate(_SIZES):
        x = _images(shape, seed=3 + seed)
        eager = _float32(model(x))
        assert eager.shape[:3] == shape[:3]
        assert np.all(np.isfinite(_float32(model(x, training=True))))


@pytest.mark.tf_only
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_unknown_spatial_dims_in_one_tf_function(case):
    model = _model_of_unknown_size(case)
    spec = [tf.TensorSpec((None, None, None, CHANNELS))]
    graphs = {
        training: tf.function(
            lambda x, training=training: model(x, training=training),
            input_signature=spec,
        )
        for training in (False, True)
    }
    for seed, shape in enumerate(_SIZES):
        x = _images(shape, seed=3 + seed)
        eager = _float32(model(x))
        np.testing.assert_allclose(
            _float32(graphs[False](x)), eager, rtol=1e-5, atol=1e-5
        )
        assert np.all(np.isfinite(_float32(graphs[True](x))))


@pytest.mark.parametrize(
    "shape",
    [(1,) + SHAPE[1:], (0,) + SHAPE[1:], (2, 0, 5, CHANNELS)],
    ids=["batch-1", "batch-0", "height-0"],
)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_batch_of_one_and_of_zero(case, shape):
    # A zero-size spatial axis too: Keras's layers return the empty tensor.
    if keras.backend.backend() == "torch" and case[2] == "Conv2D" and shape[1] == 0:
        # Keras's own Conv2D is the floor a wrapper of it stands on; on
        # PyTorch it refuses a zero-height image. When it copes, this fails.
        with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
            _WRAPPED["Conv2D"](None)(_images(shape))
        pytest.skip("PyTorch: Keras's own Conv2D refuses a zero-height input")
    layer = _make(case)
    symbolic = layer(keras.KerasTensor(shape))
    expected_shape = tuple(layer.compute_output_shape(shape))
    assert tuple(symbolic.shape) == expected_shape
    x = _images(shape, seed=5)
    for training in (False, True, False):
        y = _float32(layer(x, training=training))
        assert y.shape == expected_shape
        assert np.all(np.isfinite(y))
    assert all(np.all(np.isfinite(_float32(w))) for w in layer.weights)
