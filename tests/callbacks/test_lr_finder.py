"""LRFinder on a real small model and dataset (sklearn digits)."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from matplotlib.figure import Figure
from sklearn.datasets import load_digits

from keras_tricks.callbacks import LRFinder, LRFinderResult
from tests.helpers.bounded import bounded


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return (data.data / 16.0).astype("float32"), data.target.astype("int32")


def _mlp(optimizer):
    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu"),
            keras.layers.Dense(10),
        ]
    )
    model.compile(
        optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    return model


def _state(model):
    return [v.numpy() for v in model.variables], [
        v.numpy() for v in model.optimizer.variables
    ]


def _assert_same_state(before, after):
    for saved, now in zip(before[0] + before[1], after[0] + after[1], strict=True):
        np.testing.assert_array_equal(saved, now)


def test_finds_a_rate_where_the_loss_falls_and_restores_everything(digits):
    x, y = digits
    model = _mlp(keras.optimizers.Adam(1e-3))
    model.fit(x[:256], y[:256], batch_size=64, verbose=0)  # non-trivial optimizer state
    before = _state(model)
    finder = LRFinder(1e-5, 10.0, num_steps=80, verbose=0, seed=0)
    result = finder.find(model, x, y, batch_size=64)
    _assert_same_state(before, _state(model))
    assert int(model.optimizer.iterations.numpy()) == 4

    assert isinstance(result, LRFinderResult)
    rates, curve = result.learning_rates, result.smoothed_losses
    np.testing.assert_allclose(rates, finder.learning_rates()[: len(rates)])
    # Exponential sweep: constant ratio between consecutive rates.
    np.testing.assert_allclose(rates[1:] / rates[:-1], (1e6) ** (1 / 79), rtol=1e-9)
    # Bias-corrected moving average of the recorded losses.
    average, expected = 0.0, []
    for i, loss in enumerate(result.losses):
        average = 0.9 * average + 0.1 * loss
        expected.append(average / (1 - 0.9 ** (i + 1)))
    np.testing.assert_allclose(curve, expected, rtol=1e-12)

    # The suggestion lies where the smoothed loss falls: between the CLR
    # bounds, below the starting loss, on a falling slope.
    base, top = result.clr_bounds
    assert 1e-5 < base < top <= 10.0
    index = int(np.argmin(np.abs(rates - result.suggested_learning_rate)))
    assert base <= result.suggested_learning_rate <= top
    assert curve[index] < curve[0]
    assert curve[index + 1] < curve[index - 1]
    assert result.min_over_ten_learning_rate == pytest.approx(
        result.min_loss_learning_rate / 10
    )
    assert curve.min() < 0.8 * curve[0]

    figure = result.plot()
    assert isinstance(figure, Figure)
    assert figure.axes[0].get_xscale() == "log"


def test_stops_when_the_loss_diverges(digits):
    x, y = digits
    model = _mlp(keras.optimizers.SGD(0.01))
    before = _state(model)  # builds nothing: the finder builds the optimizer
    result = LRFinder(1e-3, 1e4, num_steps=60, smoothing=0.5, verbose=1).find(
        model, x, y, batch_size=128
    )
    assert len(result.learning_rates) < 60
    last = result.smoothed_losses[-1]
    assert not np.isfinite(last) or last > 4.0 * result.smoothed_losses[:-1].min()
    np.testing.assert_array_equal(before[0][0], model.variables[0].numpy())


def test_under_mirrored_strategy_with_a_dataset(strategy, digits):
    x, y = digits
    with strategy.scope():
        model = _mlp(keras.optimizers.SGD(0.01, momentum=0.9))
    dataset = tf.data.Dataset.from_tensor_slices((x[:512], y[:512])).batch(64)
    model.fit(dataset.take(1), shuffle=False, verbose=0)
    before = _state(model)
    result = LRFinder(1e-4, 1.0, num_steps=20, verbose=0).find(model, dataset)
    assert (
        len(result.learning_rates) == 20
    )  # 8 batches per pass: the dataset is re-iterated
    assert np.all(np.isfinite(result.losses))
    _assert_same_state(before, _state(model))


def test_refuses_a_schedule_valued_learning_rate(digits):
    x, y = digits
    model = _mlp(
        keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    )
    with pytest.raises(
        ValueError,
        match="already a schedule.*Received: learning_rate='ExponentialDecay'",
    ):
        LRFinder(verbose=0).find(model, x, y)


def test_refuses_an_unbuilt_model(digits):
    x, y = digits
    model = keras.Sequential([keras.layers.Dense(10)])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="`model` must be built.*Received: model="):
        LRFinder(verbose=0).find(model, x, y)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(min_learning_rate=1.0, max_learning_rate=0.1),
            "max_learning_rate.*> min_learning_rate=1.0. "
            "Received: max_learning_rate=0.1",
        ),
        (
            dict(min_learning_rate=0.1, max_learning_rate=0.1),
            "Received: max_learning_rate=0.1",
        ),
        (
            dict(min_learning_rate=0.0),
            "min_learning_rate.*> 0. Received: min_learning_rate=0.0",
        ),
        (dict(num_steps=1), "num_steps.*>= 2. Received: num_steps=1"),
        (dict(smoothing=1.0), r"smoothing.*\[0.0, 1.0\). Received: smoothing=1.0"),
        (
            dict(divergence_threshold=1.0),
            "divergence_threshold.*Received: divergence_threshold=1.0",
        ),
    ],
)
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LRFinder(**kwargs)


# --- small data, multi-input models, data kinds, clear errors (issue 11) ---

import itertools  # noqa: E402

from keras_tricks.schedules._range_test_data import range_test_batches as _batches  # noqa: E402


def _drain(generator, limit=1000):
    """Up to `limit` items of `generator`, failing (not hanging) if it spins."""
    return bounded(lambda: list(itertools.islice(generator, limit)))


@pytest.mark.parametrize(
    "count, batch_size, sizes",
    [(5, 32, [5] * 7), (70, 32, [32] * 7), (64, 32, [32] * 7), (1, 1, [1] * 7)],
)
def test_batches_are_bounded_and_use_small_data_whole(count, batch_size, sizes):
    x = np.arange(count * 2, dtype="float32").reshape(count, 2)
    y = np.arange(count)
    batches = _drain(_batches(x, y, batch_size, None, 7))
    assert [len(b[1]) for b in batches] == sizes
    # Without a seed the samples come in order; each batch keeps x and y paired.
    for inputs, targets in batches:
        np.testing.assert_array_equal(inputs[:, 0] / 2, targets)
    assert set(batches[0][1]) == set(range(min(count, batch_size)))


def test_batches_of_no_sample_raise():
    with pytest.raises(
        ValueError,
        match="`x` must hold at least one sample. Received: x with 0 samples",
    ):
        _drain(_batches(np.zeros((0, 3)), np.zeros((0,)), 32, None, 5))


def test_batches_of_a_multi_input_structure_slice_every_array():
    x = {"a": np.arange(10.0)[:, None], "b": np.arange(10.0)[:, None] * 10}
    y = [np.arange(10.0), -np.arange(10.0)]
    batches = _drain(_batches(x, y, 4, 0, 3))
    assert len(batches) == 3
    for inputs, targets in batches:
        assert set(inputs) == {"a", "b"}
        np.testing.assert_array_equal(inputs["b"], inputs["a"] * 10)
        np.testing.assert_array_equal(targets[0], inputs["a"][:, 0])
        np.testing.assert_array_equal(targets[1], -inputs["a"][:, 0])


def test_batches_of_an_iterable_end_when_a_one_shot_iterator_ends():
    batches = _drain(
        _batches(iter([(np.ones((2, 1)), np.ones(2))] * 3), None, 32, None, 10)
    )
    assert len(batches) == 3
    assert _drain(_batches([], None, 32, None, 10)) == []


@pytest.fixture(scope="module")
def tiny_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    model.compile(
        keras.optimizers.SGD(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


@pytest.mark.parametrize("count", [1, 5, 31])
def test_fewer_samples_than_one_batch_train_on_all_of_them(tiny_model, count):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(count, 4)).astype("float32"), rng.integers(0, 3, count)
    before = _state(tiny_model)
    first_loss = tiny_model.evaluate(x, y, batch_size=count, verbose=0)
    finder = LRFinder(1e-4, 1e-2, num_steps=4, verbose=0)
    result = bounded(lambda: finder.find(tiny_model, x, y))
    assert len(result.learning_rates) == 4
    assert result.losses[0] == pytest.approx(first_loss, rel=1e-5)
    _assert_same_state(before, _state(tiny_model))


@pytest.mark.parametrize(
    "x, y, error, message",
    [
        (
            np.zeros((0, 4), "float32"),
            np.zeros((0,)),
            ValueError,
            "at least one sample. Received: x with 0 samples",
        ),
        (
            np.zeros((10, 4), "float32"),
            np.zeros((9,)),
            ValueError,
            "`x` and `y` must hold the same number of samples. "
            "Received: 10 samples in x, 9 in y",
        ),
        (
            [np.zeros((10, 4)), np.zeros((8, 4))],
            np.zeros((10,)),
            ValueError,
            r"arrays in `x` must all hold the same number of samples. "
            r"Received: x with \[8, 10\] samples",
        ),
        (
            np.zeros((10, 4), "float32"),
            "labels",
            TypeError,
            "`y` must be an array.*Received: y='labels'",
        ),
        (None, None, TypeError, "`x` must be arrays.*Received: x=None"),
        (3.0, None, TypeError, "`x` must be arrays.*Received: x=3.0"),
        (
            tf.data.Dataset.from_tensor_slices(np.zeros((0, 4))).batch(2),
            None,
            ValueError,
            "`x` yielded no batch",
        ),
        (
            tf.data.Dataset.from_tensor_slices((np.zeros((4, 4)), np.zeros(4))).batch(
                2
            ),
            np.zeros(4),
            ValueError,
            "`y` must be None when `x` is a dataset",
        ),
    ],
)
def test_bad_data_gets_a_clear_error(tiny_model, x, y, error, message):
    before = _state(tiny_model)
    with pytest.raises(error, match=message):
        bounded(lambda: LRFinder(num_steps=3, verbose=0).find(tiny_model, x, y))
    _assert_same_state(before, _state(tiny_model))


def test_bad_batch_size_gets_a_clear_error(tiny_model):
    with pytest.raises(ValueError, match="batch_size.*>= 1. Received: batch_size=0"):
        LRFinder(verbose=0).find(
            tiny_model, np.zeros((4, 4)), np.zeros(4), batch_size=0
        )


def test_refuses_an_uncompiled_model_and_a_non_model():
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    with pytest.raises(ValueError, match="`model` must be compiled.*Received: model="):
        LRFinder(verbose=0).find(model, np.zeros((4, 4)), np.zeros(4))
    with pytest.raises(
        TypeError, match="`model` must be a keras.Model. Received: model='model'"
    ):
        LRFinder(verbose=0).find("model", np.zeros((4, 4)), np.zeros(4))


def _two_input_models():
    """The same two-input network taking a dict and, sharing its layers, a list."""
    a, b = keras.Input((3,), name="a"), keras.Input((2,), name="b")
    hidden = keras.layers.Concatenate()([keras.layers.Dense(4)(a), b])
    output = keras.layers.Dense(1)(hidden)
    models = keras.Model({"a": a, "b": b}, output), keras.Model([a, b], output)
    for model in models:
        model.compile(keras.optimizers.SGD(0.01), "mse")
    return models


def test_multi_input_models_take_dicts_lists_and_datasets():
    rng = np.random.default_rng(0)
    a, b = (
        rng.normal(size=(40, 3)).astype("float32"),
        rng.normal(size=(40, 2)).astype("float32"),
    )
    y = rng.normal(size=(40, 1)).astype("float32")
    dict_model, list_model = _two_input_models()
    first_loss = dict_model.evaluate(
        {"a": a[:16], "b": b[:16]}, y[:16], batch_size=16, verbose=0
    )
    before = _state(dict_model)
    finder = LRFinder(1e-4, 1e-1, num_steps=5, verbose=0)
    from_dict = finder.find(dict_model, {"a": a, "b": b}, y, batch_size=16)
    from_list = finder.find(list_model, [a, b], y, batch_size=16)
    dataset = tf.data.Dataset.from_tensor_slices(({"a": a, "b": b}, y)).batch(
        16, drop_remainder=True
    )
    from_dataset = finder.find(dict_model, dataset)
    _assert_same_state(before, _state(dict_model))
    assert from_dict.losses[0] == pytest.approx(first_loss, rel=1e-5)
    np.testing.assert_allclose(from_list.losses, from_dict.losses, rtol=1e-6)
    np.testing.assert_allclose(from_dataset.losses, from_dict.losses, rtol=1e-6)


@pytest.mark.backends
def test_a_tf_data_dataset_feeds_the_sweep_on_every_backend():
    # On JAX, `train_on_batch` refuses TensorFlow tensors: the range test
    # converts a tf.data batch as `fit` does, and the sweep equals the arrays'.
    rng = np.random.default_rng(0)
    x, y = (
        rng.normal(size=(32, 3)).astype("float32"),
        rng.normal(size=(32, 1)).astype("float32"),
    )
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(keras.optimizers.SGD(0.01), "mse")
    finder = LRFinder(1e-4, 1e-1, num_steps=4, verbose=0)
    from_arrays = finder.find(model, x, y, batch_size=16)
    from_dataset = finder.find(
        model, tf.data.Dataset.from_tensor_slices((x, y)).batch(16)
    )
    np.testing.assert_allclose(from_dataset.losses, from_arrays.losses, rtol=1e-6)


class _Batches(keras.utils.PyDataset):
    def __init__(self, x, y):
        super().__init__()
        self.x, self.y = x, y

    def __len__(self):
        return 2

    def __getitem__(self, index):
        return self.x[index * 8 : (index + 1) * 8], self.y[index * 8 : (index + 1) * 8]


def test_pydataset_cycles_and_a_generator_ends_early_with_a_warning(tiny_model):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(16, 4)).astype("float32"), rng.integers(0, 3, 16)
    result = LRFinder(1e-4, 1e-2, num_steps=5, verbose=0).find(
        tiny_model, _Batches(x, y)
    )
    assert len(result.learning_rates) == 5  # two batches per pass, re-iterated
    generator = ((x[i : i + 8], y[i : i + 8]) for i in (0, 8))
    with pytest.warns(UserWarning, match="ran out after 2 of 5 batches"):
        result = LRFinder(1e-4, 1e-2, num_steps=5, verbose=0).find(
            tiny_model, generator
        )
    assert len(result.learning_rates) == 2


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            dict(max_learning_rate=float("inf")),
            "max_learning_rate.*finite. Received: max_learning_rate=inf",
        ),
        (
            dict(max_learning_rate=float("nan")),
            "max_learning_rate.*NaN. Received: max_learning_rate=nan",
        ),
        (dict(min_learning_rate=float("-inf")), "Received: min_learning_rate=-inf"),
        (
            dict(max_learning_rate=1e39),
            "max_learning_rate.*largest float32.*Received: max_learning_rate=1e\\+39",
        ),
        (
            dict(min_learning_rate=1e-40),
            "min_learning_rate.*smallest normal float32. "
            "Received: min_learning_rate=1e-40",
        ),
        (dict(smoothing=float("nan")), "Received: smoothing=nan"),
        (dict(divergence_threshold=float("inf")), "Received: divergence_threshold=inf"),
        (dict(num_steps=True), "num_steps.*integer. Received: num_steps=True"),
        (dict(verbose="1"), "verbose.*integer >= 0.*Received: verbose='1'"),
        (dict(verbose=-1), "Received: verbose=-1"),
        (dict(seed=-1), "seed.*>= 0. Received: seed=-1"),
        (dict(seed=1.5), "seed.*integer. Received: seed=1.5"),
    ],
)
def test_bad_arguments_beyond_the_range(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LRFinder(**kwargs)


@pytest.mark.parametrize(
    "args, error, message",
    [
        (
            ([], [], []),
            ValueError,
            "`learning_rates` must be a non-empty 1-D sequence.*"
            "Received: learning_rates=\\[\\]",
        ),
        (
            ([0.1, 0.2], [1.0], [1.0]),
            ValueError,
            "same length. Received: len\\(learning_rates\\)=2, len\\(losses\\)=1",
        ),
        (
            ([0.0, 0.1], [1.0, 1.0], [1.0, 1.0]),
            ValueError,
            "`learning_rates` must all be > 0",
        ),
        (
            (["a"], [1.0], [1.0]),
            TypeError,
            "`learning_rates` must be a sequence of numbers",
        ),
    ],
)
def test_result_refuses_an_empty_or_inconsistent_curve(args, error, message):
    with pytest.raises(error, match=message):
        LRFinderResult(*args)


def test_result_of_one_point():
    result = LRFinderResult([0.1], [2.0], [2.0])
    assert (
        result.suggested_learning_rate
        == result.clr_bounds[0]
        == result.clr_bounds[1]
        == 0.1
    )
