"""ImageClassifierHyperModel: a small conv net whose tricks Keras Tuner searches."""

import math
import numbers

import keras
import keras_tuner
import numpy as np

from keras_tricks._checks import fail
from keras_tricks.tuning import _search_spaces as spaces

_SCHEDULES = ("constant", "warmup", "cyclical")

# Examples held when shuffling an unbatched dataset (as many as the digits'
# training split, so a small dataset is shuffled whole).
_SHUFFLE_BUFFER = 2048


class ImageClassifierHyperModel(keras_tuner.HyperModel):
    """An image classifier whose training tricks are hyperparameters.

    In the style of Keras Tuner's `HyperResNet`: `build(hp)` returns a
    compiled model, small enough that an 8x8 digits trial takes seconds:

    augmentation (`tuning.augmentation`) -> rescaling to `[0, 1]` ->
    `blocks` conv blocks (`Conv2D` 3x3 with `filters * 2**i` channels, the
    normalization `tuning.normalization` draws, ReLU, 2x2 max-pooling while
    the image is at least 4 pixels) -> global average pooling -> dropout
    (`tuning.dropout`) -> a `Dense(num_classes)` head, optionally wrapped in
    DropConnect (`tuning.drop_connect`) -> logits.

    It is compiled with the optimizer `tuning.optimizer` draws, its learning
    rate scaled to the drawn batch size by the linear rule
    (`tuning.batch_size_and_learning_rate`), sparse categorical
    cross-entropy on logits and accuracy. The optimizer is built in
    `build`, so the tuner's `load_weights` of a trial's checkpoint restores
    its state (an unbuilt optimizer skips it: "Skipping variable loading for
    optimizer ...").

    `fit(hp, model, ...)` trains with the drawn batch size (arrays get it as
    `batch_size`; an unbatched `tf.data.Dataset`, as
    `keras_tricks.datasets.load` returns, is shuffled with `seed` and
    batched with it, its validation data batched; a batched one is used as
    it is) and the drawn
    learning-rate schedule: `"constant"`, `"warmup"` (`tuning.warmup`) or
    `"cyclical"` (`tuning.cyclical_learning_rate`, peaking at the drawn rate).

    Hyperparameters: `augmentation_strength`, `blocks` (1 to `max_blocks`),
    `filters`, `normalization` (and `normalization_groups`,
    `normalization_groups_1`), `dropout`,
    `drop_connect` (bool, and `drop_connect_rate`), `optimizer` and its
    arguments, `batch_size`, `learning_rate_schedule` (and `warmup_epochs`,
    `cyclical_*`). Fix any with `hp.Fixed` in the tuner's `hyperparameters`.

    Args:
        input_shape: tuple, the image shape `(height, width, channels)`.
        num_classes: int, `> 1`.
        optimizers: optimizer names to choose from. Defaults to `None` (Keras's
            Adam, AdamW, SGD and each of ours).
        normalizations: a subset of `("batch", "group", "instance", "layer")`.
            Defaults to all four.
        learning_rate_range: optional `(low, high)` of the learning rate for
            `base_batch_size`, e.g. from `LRFinderResult.learning_rate_range()`.
            Defaults to `None` (the literature's ranges, see `tuning.optimizer`).
        base_batch_size: int, the batch the drawn learning rate is for.
            Defaults to `32`.
        batch_sizes: powers of two to choose from. Defaults to `(16, 32, 64, 128)`.
        filters: ints, the width of the first block to choose from. Defaults
            to `(16, 32)`.
        max_blocks: int, `>= 1`. Defaults to `2`.
        augment: bool, whether to put the augmentation in the model.
            Defaults to `True`.
        value_range: `(low, high)` of the input pixels. Defaults to `(0, 255)`.
        seed: optional int, seed of the augmentation. Defaults to `None`.
        name, tunable: as `keras_tuner.HyperModel`.

    Example:
    >>> hypermodel = keras_tricks.tuning.ImageClassifierHyperModel((8, 8, 1), 10)
    """

    def __init__(
        self,
        input_shape,
        num_classes,
        optimizers=None,
        normalizations=spaces.NORMALIZATIONS,
        learning_rate_range=None,
        base_batch_size=32,
        batch_sizes=(16, 32, 64, 128),
        filters=(16, 32),
        max_blocks=2,
        augment=True,
        value_range=(0, 255),
        seed=None,
        name=None,
        tunable=True,
    ):
        if (
            not isinstance(input_shape, (tuple, list))
            or len(input_shape) != 3
            or not all(
                isinstance(d, numbers.Integral) and not isinstance(d, bool) and d > 0
                for d in input_shape
            )
        ):
            fail(
                "input_shape",
                input_shape,
                "must be `(height, width, channels)` of ints > 0",
            )
        if (
            isinstance(num_classes, bool)
            or not isinstance(num_classes, numbers.Integral)
            or num_classes < 2
        ):
            fail("num_classes", num_classes, "must be an int >= 2")
        if (
            isinstance(max_blocks, bool)
            or not isinstance(max_blocks, numbers.Integral)
            or max_blocks < 1
        ):
            fail("max_blocks", max_blocks, "must be an int >= 1")
        if not isinstance(augment, bool):
            fail("augment", augment, "must be a bool")
        if (
            isinstance(base_batch_size, bool)
            or not isinstance(base_batch_size, numbers.Integral)
            or base_batch_size < 1
        ):
            fail("base_batch_size", base_batch_size, "must be an int > 0")
        filters = spaces._check_choices("filters", filters)
        for width in filters:
            if (
                isinstance(width, bool)
                or not isinstance(width, numbers.Integral)
                or width < 1
            ):
                fail("filters", filters, "must hold ints > 0")
        super().__init__(name=name, tunable=tunable)
        self.input_shape = tuple(int(d) for d in input_shape)
        self.num_classes = int(num_classes)
        self.optimizers = optimizers
        self.normalizations = normalizations
        self.learning_rate_range = learning_rate_range
        self.base_batch_size = int(base_batch_size)
        self.batch_sizes = batch_sizes
        self.filters = [int(f) for f in filters]
        self.max_blocks = int(max_blocks)
        self.augment = augment
        self.value_range = value_range
        self.seed = seed
        # Fail here, not in the first trial, on bad choices.
        hp = keras_tuner.HyperParameters()
        spaces.normalization(hp, self.filters[0], normalizations)
        spaces.optimizer(hp, optimizers, learning_rate_range)
        spaces.batch_size_and_learning_rate(hp, 1e-3, self.base_batch_size, batch_sizes)

    def build(self, hp):
        inputs = keras.Input(self.input_shape)
        x = inputs
        if self.augment:
            x = spaces.augmentation(hp, value_range=self.value_range, seed=self.seed)(x)
        low, high = self.value_range
        x = keras.layers.Rescaling(1.0 / (high - low), offset=-low / (high - low))(x)
        x = self._conv_blocks(hp, x)
        x = keras.layers.GlobalAveragePooling2D()(x)
        x = spaces.dropout(hp)(x)
        outputs = self._head(hp)(x)
        model = keras.Model(inputs, outputs, name="image_classifier")
        optimizer = self._optimizer(hp)
        model.compile(
            optimizer=optimizer,
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        # Keras's `load_weights` (what the tuner reloads a trial with) loads
        # optimizer slots only into a built optimizer.
        optimizer.build(model.trainable_variables)
        return model

    def _conv_blocks(self, hp, x):
        blocks = hp.Int("blocks", 1, self.max_blocks, default=1)
        width = hp.Choice("filters", self.filters)
        size = min(self.input_shape[:2])
        # Every block's normalization is declared, used or not, so that the
        # tuner sees the whole space from the first build.
        normalizations = [
            spaces.normalization(
                hp,
                width * 2**index,
                self.normalizations,
                groups_name="normalization_groups" + (f"_{index}" if index else ""),
            )
            for index in range(self.max_blocks)
        ]
        for index in range(blocks):
            channels = width * 2**index
            x = keras.layers.Conv2D(channels, 3, padding="same", use_bias=False)(x)
            x = normalizations[index](x)
            x = keras.layers.ReLU()(x)
            if size >= 4:
                x = keras.layers.MaxPooling2D(2)(x)
                size //= 2
        return x

    def _head(self, hp):
        head = keras.layers.Dense(self.num_classes)
        chosen = hp.Boolean("drop_connect", default=False)
        with spaces.branch(hp, "drop_connect", True):
            wrapped = spaces.drop_connect(hp, head, name="drop_connect_rate")
        return wrapped if chosen else head

    def _optimizer(self, hp):
        optimizer = spaces.optimizer(hp, self.optimizers, self.learning_rate_range)
        learning_rate = self._learning_rate(hp)
        optimizer.learning_rate = learning_rate
        # Declared now, so that the tuner sees them from the first build.
        self._schedule(hp, learning_rate, steps_per_epoch=1)
        return optimizer

    def _learning_rate(self, hp):
        """The drawn learning rate, scaled to the drawn batch size."""
        drawn = hp.get(f"{hp.get('optimizer')}_learning_rate")
        _, learning_rate = spaces.batch_size_and_learning_rate(
            hp, drawn, self.base_batch_size, self.batch_sizes
        )
        return learning_rate

    def _schedule(self, hp, learning_rate, steps_per_epoch):
        """The drawn learning-rate callback, or `None` for a constant rate."""
        chosen = hp.Choice("learning_rate_schedule", list(_SCHEDULES))
        with spaces.branch(hp, "learning_rate_schedule", "warmup"):
            warmup = spaces.warmup(hp, learning_rate, steps_per_epoch)
        with spaces.branch(hp, "learning_rate_schedule", "cyclical"):
            cyclical = spaces.cyclical_learning_rate(hp, learning_rate, steps_per_epoch)
        return {"constant": None, "warmup": warmup, "cyclical": cyclical}[chosen]

    def fit(self, hp, model, *args, **kwargs):
        batch_size = hp.get("batch_size")
        args = list(args)
        x = args[0] if args else kwargs.get("x")
        if _is_dataset(x):
            x = _batched(x, batch_size, len(self.input_shape), shuffle_seed=self.seed)
            # Keras shuffles arrays only; it warns that a dataset's `shuffle`
            # is ignored unless told False.
            kwargs.setdefault("shuffle", False)
            if args:
                args[0] = x
            else:
                kwargs["x"] = x
            steps = _dataset_steps(x)
        else:
            kwargs["batch_size"] = batch_size
            steps = _array_steps(x, batch_size, kwargs.get("validation_split", 0.0))
        validation = kwargs.get("validation_data")
        if _is_dataset(validation):
            kwargs["validation_data"] = _batched(
                validation, batch_size, len(self.input_shape)
            )
        callback = None
        if steps is not None:
            callback = self._schedule(hp, self._learning_rate(hp), steps)
        if callback is not None:
            kwargs["callbacks"] = [*kwargs.get("callbacks", []), callback]
        return model.fit(*args, **kwargs)


def _is_dataset(data):
    try:
        import tensorflow as tf
    except ImportError:  # pragma: no cover: tensorflow is a dependency
        return False
    return isinstance(data, tf.data.Dataset)


def _batched(dataset, batch_size, image_rank, shuffle_seed=False):
    """`dataset` batched by `batch_size` when its images are unbatched.

    With `shuffle_seed` not `False` (training data), shuffled first, every
    epoch anew, with that seed (`None`: unseeded).
    """
    spec = dataset.element_spec
    image = spec[0] if isinstance(spec, (tuple, list)) else spec
    if image.shape.rank != image_rank:
        return dataset
    if shuffle_seed is not False:
        dataset = dataset.shuffle(_SHUFFLE_BUFFER, seed=shuffle_seed)
    return dataset.batch(batch_size)


def _dataset_steps(dataset):
    count = int(dataset.cardinality())
    return count if count > 0 else None


def _array_steps(x, batch_size, validation_split):
    if x is None:
        return None
    n = len(x) if not isinstance(x, dict) else len(next(iter(x.values())))
    n = int(math.ceil(n * (1.0 - float(validation_split or 0.0))))
    return max(int(np.ceil(n / batch_size)), 1)
