"""One function per trick: draw it from a `keras_tuner.HyperParameters`.

Each function declares its hyperparameters on `hp` (so a tuner sees the whole
space from the first build) and returns the object for the values `hp` holds.
Nothing here imports keras_tuner: `hp` is the only contact.
"""

import contextlib
import functools
import math
import numbers

import keras

from keras_tricks import augment, callbacks, layers, optimizers, schedules
from keras_tricks._checks import check_choice, fail

# Learning-rate ranges, log-uniform (Bergstra & Bengio, 2012).
ADAM_LEARNING_RATE_RANGE = (1e-4, 1e-2)
SGD_LEARNING_RATE_RANGE = (1e-3, 1.0)

# Keras's three, then each of ours.
DEFAULT_OPTIMIZERS = ("adam", "adamw", "sgd", *optimizers.list_optimizers())

NORMALIZATIONS = ("batch", "group", "instance", "layer")

_ADAM_FAMILY = ("adam", "adamw", *optimizers.list_optimizers())
_BELIEF = ("adabelief", "adabeliefinject")


@contextlib.contextmanager
def branch(hp, parent_name, parent_value):
    """`hp.conditional_scope(parent_name, [parent_value])`, entered as active.

    Declares the hyperparameters of every branch as if it were chosen (the
    parent's value is set to `parent_value` inside, and restored after), so
    one build shows a tuner every conditional scope as active. Keras Tuner
    1.4 otherwise rebuilds the model once per scope it has not yet seen
    active, and counts a scope again on every build it stays inactive: the
    image HyperModel here (16 scopes) was built 92 times, 8.7 s on 2 cores,
    before a tuner's first trial; with this, once. What a branch's
    hyperparameters return inside is its value were it chosen: use it only
    when `parent_value` is the value drawn.
    """
    if hp.values.get(parent_name) == parent_value:  # the drawn branch
        with hp.conditional_scope(parent_name, [parent_value]):
            yield
        return
    # Keras Tuner keeps values for active hyperparameters only: the branch's
    # get their defaults while it is entered, and the values are restored
    # after, so the trial's own are left as they were.
    saved = dict(hp.values)
    hp.values[parent_name] = parent_value
    for hyperparameter in hp.space:
        if hyperparameter.name not in hp.values and hp.is_active(hyperparameter):
            hp.values[hyperparameter.name] = hyperparameter.default
    try:
        with hp.conditional_scope(parent_name, [parent_value]):
            yield
    finally:
        hp.values.clear()
        hp.values.update(saved)


def _check_name(name):
    if not isinstance(name, str) or not name:
        fail("name", name, "must be a non-empty string")
    return name


def _check_bounds(name, bounds):
    """`bounds` as `(low, high)` floats with `0 < low < high < inf`."""
    if (
        not isinstance(bounds, (tuple, list))
        or len(bounds) != 2
        or not all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in bounds
        )
        or not all(math.isfinite(v) and v > 0 for v in bounds)
        or not bounds[0] < bounds[1]
    ):
        fail(
            name,
            bounds,
            "must be a pair `(low, high)` of finite floats with 0 < low < high",
        )
    return float(bounds[0]), float(bounds[1])


def _inside(value, low, high):
    """`value` if in `[low, high]`, else the geometric middle of the range."""
    return value if low <= value <= high else math.sqrt(low * high)


def _check_choices(name, choices, allowed=None):
    if (
        isinstance(choices, str)
        or not isinstance(choices, (tuple, list))
        or not choices
    ):
        fail(name, choices, "must be a non-empty list")
    if len(set(choices)) != len(choices):
        fail(name, choices, "must not repeat a value")
    if allowed is not None:
        for choice in choices:
            check_choice(name, choice, allowed)
    return list(choices)


def optimizer(hp, choices=None, learning_rate_range=None, name="optimizer"):
    """Draw an optimizer and its arguments from `hp`.

    Declares `hp.Choice(name, choices)` and, for each choice under
    `hp.conditional_scope(name, [choice])`, its own arguments, named
    `"{choice}_{argument}"`:

    - `learning_rate`: log-uniform, `1e-4` to `1e-2` for the Adam family,
      `1e-3` to `1` for SGD (Bergstra & Bengio, 2012, sample it on a log
      scale), or `learning_rate_range` when given (the bounds of an LR range
      test, `LRFinderResult.learning_rate_range()`, Smith 2017).
    - SGD: `momentum` `0.8` to `0.99` (Nesterov-free heavy ball).
    - Adam, AdamW and each of ours: `beta_2` `0.99` to `0.9999` (sampled
      densely near 1) and `epsilon` log-uniform `1e-8` to `1e-6`; AdaBelief
      and AdaBeliefInject `1e-16` to `1e-8` (Zhuang et al. tune it: `1e-16`
      for images, `1e-12` for GANs).
    - AdamW: decoupled `weight_decay` log-uniform `1e-6` to `1e-2`
      (Loshchilov & Hutter, 2019).
    - AngularGrad: `method`, `"cos"` or `"tan"` (Roy et al., 2021).
    - Any other Keras name (`"rmsprop"`, `"nadam"`, ...): the learning rate.

    Args:
        hp: a `keras_tuner.HyperParameters`.
        choices: names `keras_tricks.optimizers.get` accepts (ours and
            Keras's). Defaults to Keras's `"adam"`, `"adamw"`, `"sgd"` and
            every name of `keras_tricks.optimizers.list_optimizers()`.
        learning_rate_range: optional `(low, high)`, the learning-rate range
            of every choice. Defaults to `None` (the ranges above).
        name: the name of the choice. Defaults to `"optimizer"`.

    Returns:
        An unbuilt `keras.optimizers.Optimizer`.

    Example:
    >>> import keras_tuner
    >>> hp = keras_tuner.HyperParameters()
    >>> opt = keras_tricks.tuning.optimizer(hp, choices=["sgd", "radam"])
    >>> type(opt).__name__, hp.get("optimizer"), hp.get("sgd_momentum")
    ('SGD', 'sgd', 0.9)

    Reference:
    - [Bergstra & Bengio, 2012](https://jmlr.org/papers/v13/bergstra12a.html)
    - [Smith, 2017](https://arxiv.org/abs/1506.01186)
    - [Loshchilov & Hutter, 2019](https://arxiv.org/abs/1711.05101)
    - [Zhuang et al., 2020](https://arxiv.org/abs/2010.07468)
    """
    _check_name(name)
    choices = _check_choices(
        "choices", DEFAULT_OPTIMIZERS if choices is None else choices
    )
    for choice in choices:
        if not isinstance(choice, str):
            fail("choices", choices, "must hold optimizer names (strings)")
    _check_optimizer_names(tuple(choices))
    if learning_rate_range is not None:
        learning_rate_range = _check_bounds("learning_rate_range", learning_rate_range)
    chosen = hp.Choice(name, [c.lower() for c in choices])
    drawn = {}
    for choice in (c.lower() for c in choices):
        with branch(hp, name, choice):
            arguments = _optimizer_arguments(hp, choice, learning_rate_range)
        if choice == chosen:
            drawn = arguments
    return optimizers.get(chosen, **drawn)


@functools.lru_cache(maxsize=64)
def _check_optimizer_names(choices):
    # Once per list: a tuner builds the model dozens of times to find the
    # conditional hyperparameters, and each check builds an optimizer.
    for choice in choices:
        try:
            optimizers.get(choice)
        except ValueError as error:
            raise ValueError(
                "`choices` must hold names `keras_tricks.optimizers.get` accepts. "
                f"Received: choices={list(choices)!r} ({error})"
            ) from None


def _optimizer_arguments(hp, choice, learning_rate_range):
    """Declare `choice`'s hyperparameters; return their values (None if inactive)."""
    is_sgd = choice == "sgd"
    low, high = learning_rate_range or (
        SGD_LEARNING_RATE_RANGE if is_sgd else ADAM_LEARNING_RATE_RANGE
    )
    arguments = {
        "learning_rate": hp.Float(
            f"{choice}_learning_rate",
            low,
            high,
            sampling="log",
            default=_inside(0.01 if is_sgd else 1e-3, low, high),
        )
    }
    if is_sgd:
        arguments["momentum"] = hp.Float(f"{choice}_momentum", 0.8, 0.99, default=0.9)
    if choice in _ADAM_FAMILY:
        arguments["beta_2"] = hp.Float(
            f"{choice}_beta_2", 0.99, 0.9999, sampling="reverse_log", default=0.999
        )
        belief = choice in _BELIEF
        arguments["epsilon"] = hp.Float(
            f"{choice}_epsilon",
            1e-16 if belief else 1e-8,
            1e-8 if belief else 1e-6,
            sampling="log",
            default=1e-16 if belief else 1e-7 if choice in ("adam", "adamw") else 1e-8,
        )
    if choice == "adamw":
        arguments["weight_decay"] = hp.Float(
            f"{choice}_weight_decay", 1e-6, 1e-2, sampling="log", default=4e-3
        )
    if choice == "angulargrad":
        arguments["method"] = hp.Choice(f"{choice}_method", ["cos", "tan"])
    return arguments


def group_counts(channels, min_groups=8, max_groups=32):
    """The group counts to try for `channels`: divisors in `[min_groups, max_groups]`.

    Wu & He (2018) find 32 groups, or 16 channels per group, both near best,
    and accuracy flat from 8 to 32 groups. When no divisor falls in the range
    (few channels, or a prime count), the largest divisor up to `max_groups`.

    Args:
        channels: int, `> 0`, the channel count.
        min_groups: int, `> 0`. Defaults to `8`.
        max_groups: int, `>= min_groups`. Defaults to `32`.

    Returns:
        A sorted list of ints, each dividing `channels`.

    Example:
    >>> keras_tricks.tuning.group_counts(64)
    [8, 16, 32]

    Reference:
    - [Wu & He, 2018](https://arxiv.org/abs/1803.08494)
    """
    for arg, value in (
        ("channels", channels),
        ("min_groups", min_groups),
        ("max_groups", max_groups),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Integral)
            or value < 1
        ):
            fail(arg, value, "must be an int > 0")
    if max_groups < min_groups:
        fail("max_groups", max_groups, f"must be >= min_groups={min_groups!r}")
    divisors = [g for g in range(1, channels + 1) if channels % g == 0]
    inside = [g for g in divisors if min_groups <= g <= max_groups]
    return inside or [max(g for g in divisors if g <= max_groups)]


def normalization(
    hp, channels, choices=NORMALIZATIONS, name="normalization", groups_name=None
):
    """Draw a normalization layer for `channels` channels from `hp`.

    Declares `hp.Choice(name, choices)` over `"batch"` (Keras's
    `BatchNormalization`, Ioffe & Szegedy 2015), `"group"`
    (`keras_tricks.layers.GroupNormalization`, Wu & He 2018), `"instance"`
    (`keras_tricks.layers.InstanceNormalization`, Ulyanov et al. 2016) and
    `"layer"` (Keras's `LayerNormalization`, Ba et al. 2016). For `"group"`,
    under its conditional scope, `hp.Choice(name + "_groups", ...)` over
    `group_counts(channels)`: divisors of `channels` from 8 to 32, 32 by
    default when it divides (Wu & He). Declared under the name
    `groups_name`.

    Args:
        hp: a `keras_tuner.HyperParameters`.
        channels: int, `> 0`, the channel count of the normalized tensor.
        choices: a subset of `("batch", "group", "instance", "layer")`.
            Defaults to all four.
        name: the name of the choice. Defaults to `"normalization"`; calls
            that share it share the drawn kind.
        groups_name: the name of the group count. Defaults to
            `name + "_groups"`. Calls for another channel count, whose group
            counts differ, need their own.

    Returns:
        A Keras layer normalizing over the last axis (channels last).

    Example:
    >>> import keras_tuner
    >>> hp = keras_tuner.HyperParameters()
    >>> hp.Fixed("normalization", "group")
    'group'
    >>> keras_tricks.tuning.normalization(hp, channels=64).groups
    32

    Reference:
    - [Wu & He, 2018](https://arxiv.org/abs/1803.08494)
    - [Ioffe & Szegedy, 2015](https://arxiv.org/abs/1502.03167)
    - [Ulyanov et al., 2016](https://arxiv.org/abs/1607.08022)
    - [Ba et al., 2016](https://arxiv.org/abs/1607.06450)
    """
    _check_name(name)
    groups_name = _check_name(f"{name}_groups" if groups_name is None else groups_name)
    choices = _check_choices("choices", choices, NORMALIZATIONS)
    counts = group_counts(channels)
    chosen = hp.Choice(name, choices)
    groups = None
    if "group" in choices:
        with branch(hp, name, "group"):
            groups = hp.Choice(
                groups_name, counts, default=32 if 32 in counts else counts[-1]
            )
    if chosen == "batch":
        return keras.layers.BatchNormalization()
    if chosen == "instance":
        return layers.InstanceNormalization()
    if chosen == "layer":
        return keras.layers.LayerNormalization()
    if channels % groups != 0:
        raise ValueError(
            f"`groups_name` must be distinct for each channel count: "
            f"{groups_name!r}={groups!r} was declared for another channel count and "
            f"does not divide channels={channels!r}. "
            f"Received: groups_name={groups_name!r}"
        )
    return layers.GroupNormalization(groups=groups)


def dropout(hp, name="dropout", min_value=0.2, max_value=0.5, default=0.5):
    """Draw a `keras.layers.Dropout` whose rate is `hp.Float(name, 0.2, 0.5, step=0.1)`.

    Srivastava et al. (2014) use 0.5 on hidden units and less near the input;
    0.2 to 0.5 is the range practitioners search.

    Args:
        hp: a `keras_tuner.HyperParameters`.
        name: the hyperparameter's name. Defaults to `"dropout"`.
        min_value: float in `[0, 1)`. Defaults to `0.2`.
        max_value: float in `(min_value, 1)`. Defaults to `0.5`.
        default: float in the range. Defaults to `0.5` (Srivastava et al.).

    Returns:
        A `keras.layers.Dropout`.

    Example:
    >>> import keras_tuner
    >>> keras_tricks.tuning.dropout(keras_tuner.HyperParameters()).rate
    0.5

    Reference:
    - [Srivastava et al., 2014](https://jmlr.org/papers/v15/srivastava14a.html)
    """
    rate = _rate(hp, name, min_value, max_value, default)
    return keras.layers.Dropout(rate)


def drop_connect(
    hp, layer, name="drop_connect", min_value=0.1, max_value=0.5, default=0.5
):
    """Wrap `layer` in a `keras_tricks.layers.DropConnect` whose rate `hp` draws.

    The rate is `hp.Float(name, 0.1, 0.5, step=0.1)`; Wan et al. (2013) drop
    half the weights of the classifier layer (0.5, the default).

    Args:
        hp: a `keras_tuner.HyperParameters`.
        layer: a `Dense`, `Conv1D`, `Conv2D` or `Conv3D` layer.
        name: the hyperparameter's name. Defaults to `"drop_connect"`.
        min_value: float in `[0, 1)`. Defaults to `0.1`.
        max_value: float in `(min_value, 1)`. Defaults to `0.5`.
        default: float in the range. Defaults to `0.5`.

    Returns:
        A `keras_tricks.layers.DropConnect`.

    Reference:
    - [Wan et al., 2013](https://proceedings.mlr.press/v28/wan13.html)
    """
    rate = _rate(hp, name, min_value, max_value, default)
    return layers.DropConnect(layer, rate=rate)


def _rate(hp, name, min_value, max_value, default):
    _check_name(name)
    for arg, value in (
        ("min_value", min_value),
        ("max_value", max_value),
        ("default", default),
    ):
        if (
            isinstance(value, bool)
            or not isinstance(value, numbers.Real)
            or not 0.0 <= value < 1.0
        ):
            fail(arg, value, "must be a float in [0, 1)")
    if not min_value < max_value:
        fail("max_value", max_value, f"must be > min_value={min_value!r}")
    if not min_value <= default <= max_value:
        fail("default", default, f"must be in [{min_value!r}, {max_value!r}]")
    return hp.Float(name, min_value, max_value, step=0.1, default=default)


def augmentation(
    hp,
    name="augmentation_strength",
    geometric=True,
    photometric=True,
    value_range=(0, 255),
    seed=None,
):
    """Draw an augmentation pipeline whose strength is one hyperparameter.

    One magnitude for every operation, as RandAugment (Cubuk et al., 2020)
    found a single global magnitude enough: `s = hp.Float(name, 0, 1,
    step=0.25)`, default `0.5`. At `s = 1` the ranges are RandAugment's
    largest: rotation 30 degrees, shear 16.7 degrees (`atan(0.3)`),
    translation 0.45 of the size (150 of 331 pixels), contrast factor
    `1 +- 0.9`; brightness shifts by `+- 0.3` of the value range (an additive
    shift, chosen here: RandAugment's enhancement is multiplicative).
    `s = 0` is the identity.

    Args:
        hp: a `keras_tuner.HyperParameters`.
        name: the hyperparameter's name. Defaults to `"augmentation_strength"`.
        geometric: bool, include a `keras_tricks.augment.RandomAffine`.
            Defaults to `True`.
        photometric: bool, include a `keras_tricks.augment.RandomPhotometric`
            (brightness and contrast, so it works on one channel too).
            Defaults to `True`.
        value_range: `(low, high)` of the pixel values. Defaults to `(0, 255)`.
        seed: optional int. Defaults to `None`.

    Returns:
        A `keras.Sequential` of the augmentation layers (identity at
        inference).

    Reference:
    - [Cubuk et al., 2020](https://arxiv.org/abs/1909.13719)
    """
    _check_name(name)
    strength = hp.Float(name, 0.0, 1.0, step=0.25, default=0.5)
    stages = []
    if geometric:
        stages.append(
            augment.RandomAffine(
                rotation=30.0 * strength,
                shear=16.7 * strength,
                translation=0.45 * strength,
                fill_mode="constant",
                fill_value=float(value_range[0]),
                seed=seed,
            )
        )
    if photometric:
        stages.append(
            augment.RandomPhotometric(
                brightness=0.3 * strength,
                contrast=0.9 * strength,
                value_range=value_range,
                seed=seed,
            )
        )
    return keras.Sequential(stages, name="augmentation")


def _check_steps(steps_per_epoch):
    if (
        isinstance(steps_per_epoch, bool)
        or not isinstance(steps_per_epoch, numbers.Integral)
        or steps_per_epoch < 1
    ):
        fail("steps_per_epoch", steps_per_epoch, "must be an int > 0")
    return int(steps_per_epoch)


def warmup(hp, learning_rate, steps_per_epoch, name="warmup_epochs", max_epochs=5):
    """Draw a linear warmup to `learning_rate`: a `keras_tricks.callbacks.WarmupLR`.

    Declares `hp.Int(name, 0, max_epochs)`, default `5`: Goyal et al. (2017)
    warm up linearly over 5 epochs when the learning rate is scaled with a
    large batch. `0` epochs means no warmup.

    Args:
        hp: a `keras_tuner.HyperParameters`.
        learning_rate: float, `> 0`, the rate reached at the end of warmup.
        steps_per_epoch: int, `> 0`, batches per epoch.
        name: the hyperparameter's name. Defaults to `"warmup_epochs"`.
        max_epochs: int, `> 0`. Defaults to `5`.

    Returns:
        A `WarmupLR` callback, or `None` when 0 epochs are drawn (or the
        hyperparameter is inactive under a conditional scope).

    Reference:
    - [Goyal et al., 2017](https://arxiv.org/abs/1706.02677)
    """
    _check_name(name)
    steps = _check_steps(steps_per_epoch)
    if (
        isinstance(max_epochs, bool)
        or not isinstance(max_epochs, numbers.Integral)
        or max_epochs < 1
    ):
        fail("max_epochs", max_epochs, "must be an int > 0")
    epochs = hp.Int(name, 0, max_epochs, default=min(5, max_epochs))
    if not epochs:  # 0, or None: inactive under a conditional scope
        return None
    return callbacks.WarmupLR(learning_rate, warmup_steps=epochs * steps)


def cyclical_learning_rate(hp, max_learning_rate, steps_per_epoch, name="cyclical"):
    """Draw a triangular cyclical learning rate: a `keras_tricks.callbacks.CyclicalLR`.

    Smith (2017): the cycle's half-length (`step_size`) is 2 to 10 epochs of
    iterations, and the base rate is the maximum over 3 to 4. Declares
    `hp.Int(name + "_step_epochs", 2, 10)` (default 2),
    `hp.Choice(name + "_ratio", [3, 4])` and
    `hp.Choice(name + "_mode", ["triangular", "triangular2"])`.

    Args:
        hp: a `keras_tuner.HyperParameters`.
        max_learning_rate: float, `> 0`, the top of the cycle: where the LR
            range test's loss still falls (the high end of
            `LRFinderResult.learning_rate_range()`), or a tuned rate.
        steps_per_epoch: int, `> 0`, batches per epoch.
        name: prefix of the hyperparameters. Defaults to `"cyclical"`.

    Returns:
        A `CyclicalLR` callback (`None` when the hyperparameters are inactive
        under a conditional scope).

    Reference:
    - [Smith, 2017](https://arxiv.org/abs/1506.01186)
    """
    _check_name(name)
    steps = _check_steps(steps_per_epoch)
    step_epochs = hp.Int(f"{name}_step_epochs", 2, 10, default=2)
    ratio = hp.Choice(f"{name}_ratio", [3, 4])
    mode = hp.Choice(f"{name}_mode", ["triangular", "triangular2"])
    if step_epochs is None:  # inactive under a conditional scope
        return None
    top = float(max_learning_rate)
    return callbacks.CyclicalLR(
        base_learning_rate=top / ratio,
        max_learning_rate=top,
        step_size=step_epochs * steps,
        mode=mode,
    )


def batch_size_and_learning_rate(
    hp,
    base_learning_rate,
    base_batch_size=256,
    choices=(16, 32, 64, 128, 256),
    name="batch_size",
):
    """Draw a batch size (a power of two) and scale the learning rate to it.

    Declares `hp.Choice(name, choices)`; the rate follows Goyal et al.'s
    linear rule, `base_learning_rate * batch_size / base_batch_size`
    (`keras_tricks.schedules.scale_learning_rate`; pair large batches with
    `warmup`). Keskar et al. (2017): large batches tend to sharp minima, so
    the search spans small ones too.

    Args:
        hp: a `keras_tuner.HyperParameters`.
        base_learning_rate: float, `> 0`, the rate for `base_batch_size`.
        base_batch_size: int, `> 0`. Defaults to `256` (Goyal et al.'s
            `0.1 * batch / 256`).
        choices: powers of two. Defaults to `(16, 32, 64, 128, 256)`.
        name: the hyperparameter's name. Defaults to `"batch_size"`.

    Returns:
        `(batch_size, learning_rate)`.

    Example:
    >>> import keras_tuner
    >>> hp = keras_tuner.HyperParameters()
    >>> hp.Fixed("batch_size", 512)
    512
    >>> keras_tricks.tuning.batch_size_and_learning_rate(hp, 0.1, choices=[512])
    (512, 0.2)

    Reference:
    - [Goyal et al., 2017](https://arxiv.org/abs/1706.02677)
    - [Keskar et al., 2017](https://arxiv.org/abs/1609.04836)
    """
    _check_name(name)
    choices = _check_choices("choices", choices)
    for choice in choices:
        if (
            isinstance(choice, bool)
            or not isinstance(choice, numbers.Integral)
            or choice < 1
            or choice & (choice - 1)
        ):
            fail("choices", choices, "must hold powers of two")
    default = 32 if 32 in choices else choices[0]
    batch_size = hp.Choice(name, [int(c) for c in choices], default=default)
    return batch_size, schedules.scale_learning_rate(
        base_learning_rate, batch_size, base_batch_size
    )
