"""Smith's learning-rate range test."""

import contextlib
import functools
import itertools
import math
import sys
import warnings

import keras
import numpy as np

from keras_tricks._checks import (
    check_int,
    check_learning_rate,
    check_positive,
    check_range,
)
from keras_tricks.callbacks._schedule_callback import (
    check_float_learning_rate,
    check_verbose,
)

_FLOAT32_TINY = float(np.finfo("float32").tiny)


@keras.saving.register_keras_serializable(package="keras_tricks")
class LRFinder:
    """Learning-rate range test: sweep the rate, watch the loss, suggest bounds.

    `find(model, x, y)` trains `model` for up to `num_steps` batches with the
    rate rising exponentially from `min_learning_rate` to `max_learning_rate`
    (`lr_i = min * (max / min)**(i / (num_steps - 1))`), records each batch's
    loss, smooths it with a bias-corrected moving average
    (`avg = s * avg + (1 - s) * loss`, `smoothed = avg / (1 - s**(i + 1))`),
    and stops early once the smoothed loss exceeds `divergence_threshold`
    times its best value (or is not finite). It then puts back the model's
    variables and the optimizer's variables (step counter, learning rate,
    moments) exactly as they were, and returns an `LRFinderResult` with the
    curve, the suggestions and a `plot()`.

    Args:
        min_learning_rate: float, `> 0` (a normal float32), first rate of
            the sweep.
            Defaults to `1e-7`.
        max_learning_rate: float, `> min_learning_rate`, last rate of the sweep.
            Defaults to `10.0`.
        num_steps: int, `>= 2`, batches in the sweep. Defaults to `100`.
        smoothing: float in `[0, 1)`, weight of the past in the moving average.
            Defaults to `0.9`: the average lags about `s / (1 - s)` steps
            behind the loss, 9 here, 49 with fastai's `0.98`, which over a
            sweep of 100 to 200 steps puts the minimum at a rate several
            times too high.
        divergence_threshold: float, `> 1`, stop when the smoothed loss exceeds
            this multiple of the best smoothed loss. Defaults to `4.0`.
        verbose: int, `>= 0`, `1` shows a `keras.utils.Progbar`.
            Defaults to `1`.
        seed: int `>= 0` or `None`, shuffles array inputs between passes.
            Defaults to `None`.

    Returns:
        `find` returns an `LRFinderResult`.

    Example:
    >>> model.compile(keras.optimizers.SGD(momentum=0.9), "sparse_categorical_crossentropy")
    >>> result = keras_tricks.callbacks.LRFinder(1e-5, 10.0, num_steps=100).find(
    ...     model, x_train, y_train, batch_size=64)
    >>> result.suggested_learning_rate, result.clr_bounds
    >>> result.plot().savefig("range_test.png")

    Note:
        Works on a compiled, built model whose optimizer has a float learning
        rate (`ValueError` otherwise), under any `tf.distribute` strategy the
        model was compiled in: each batch runs through `train_on_batch`.

    Reference:
    - [Smith, 2017](https://arxiv.org/abs/1506.01186), section 3.3
    """

    def __init__(
        self,
        min_learning_rate=1e-7,
        max_learning_rate=10.0,
        num_steps=100,
        smoothing=0.9,
        divergence_threshold=4.0,
        verbose=1,
        seed=None,
    ):
        low = check_positive("min_learning_rate", min_learning_rate)
        high = check_learning_rate("max_learning_rate", max_learning_rate, allow_zero=False)
        if high <= low:
            raise ValueError(
                f"`max_learning_rate` must be > min_learning_rate={min_learning_rate!r}. "
                f"Received: max_learning_rate={max_learning_rate!r}"
            )
        # The rates are assigned to a float32 variable: keep them in its range.
        if low < _FLOAT32_TINY:
            raise ValueError(
                f"`min_learning_rate` must be >= {_FLOAT32_TINY:.7g}, the smallest normal "
                f"float32. Received: min_learning_rate={min_learning_rate!r}"
            )
        check_int("num_steps", num_steps, minimum=2)
        check_range("smoothing", smoothing, 0.0, 1.0)
        check_range("divergence_threshold", divergence_threshold, 1.0, math.inf, low_closed=False)
        check_verbose(verbose)
        if seed is not None:
            check_int("seed", seed, minimum=0)
        self.min_learning_rate = min_learning_rate
        self.max_learning_rate = max_learning_rate
        self.num_steps = num_steps
        self.smoothing = smoothing
        self.divergence_threshold = divergence_threshold
        self.verbose = verbose
        self.seed = seed

    def get_config(self):
        return {
            "min_learning_rate": self.min_learning_rate,
            "max_learning_rate": self.max_learning_rate,
            "num_steps": self.num_steps,
            "smoothing": self.smoothing,
            "divergence_threshold": self.divergence_threshold,
            "verbose": self.verbose,
            "seed": self.seed,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def learning_rates(self):
        """The rates of the full sweep, a float64 NumPy array of `num_steps`."""
        ratio = float(self.max_learning_rate) / float(self.min_learning_rate)
        fraction = np.arange(self.num_steps, dtype="float64") / (self.num_steps - 1)
        return float(self.min_learning_rate) * ratio**fraction

    def find(self, model, x, y=None, batch_size=32):
        """Run the range test on `model` and restore it afterwards.

        Args:
            model: a compiled, built `keras.Model` with a float learning rate.
            x: the inputs, as `fit` takes them: a NumPy array (or tensor), a
                list or dict of arrays for a multi-input model (with `y`); or a
                `tf.data.Dataset`, `keras.utils.PyDataset` or other iterable of
                `(x, y)` or `(x, y, sample_weight)` batches.
            y: the targets when `x` holds arrays: an array, or a list or dict
                of arrays for a multi-output model. Defaults to `None`.
            batch_size: int, `> 0`, batch size for arrays. Defaults to `32`.

        Arrays are cut into batches of `batch_size` and gone through again
        (reshuffled when `seed` is set) until `num_steps` batches have run; an
        incomplete last batch is left out, except when the arrays hold fewer
        than `batch_size` samples: then every step trains on all of them, one
        smaller batch, as `fit` would. A dataset or `PyDataset` is iterated
        again from the start when exhausted; a one-shot iterator (a
        generator) that runs out ends the test early, with a warning, on the
        rates reached.

        Returns:
            An `LRFinderResult`.

        Raises:
            TypeError: if `model` is not a `keras.Model`.
            ValueError: if `model` is not built or not compiled, if its
                learning rate is a schedule, if the arrays hold no sample or
                `x` and `y` hold different numbers of samples, or if `x`
                yields no batch.
        """
        if not isinstance(model, keras.Model):
            raise TypeError(f"`model` must be a keras.Model. Received: model={model!r}")
        if not model.built:
            raise ValueError(
                "`model` must be built before the range test (call it on a batch "
                f"or give it an Input). Received: model={model.name!r}"
            )
        optimizer = getattr(model, "optimizer", None)
        if optimizer is None:
            raise ValueError(
                "`model` must be compiled before the range test (call "
                f"`model.compile(optimizer, loss)`). Received: model={model.name!r}"
            )
        check_float_learning_rate(optimizer, "LRFinder")
        batches = _batches(x, y, batch_size, self.seed, self.num_steps)
        first = next(batches, None)  # checks the data before touching the model
        if first is None:
            raise ValueError(f"`x` yielded no batch. Received: x={x!r}")
        if not optimizer.built:
            strategy = getattr(model, "distribute_strategy", None)
            with strategy.scope() if strategy is not None else contextlib.nullcontext():
                optimizer.build(model.trainable_variables)
        saved_model = [v.numpy() for v in model.variables]
        saved_optimizer = [v.numpy() for v in optimizer.variables]
        try:
            return self._sweep(model, itertools.chain([first], batches))
        finally:
            for variable, value in zip(model.variables, saved_model, strict=True):
                variable.assign(value)
            for variable, value in zip(optimizer.variables, saved_optimizer, strict=True):
                variable.assign(value)

    def _sweep(self, model, batches):
        rates = self.learning_rates()
        progbar = keras.utils.Progbar(
            self.num_steps,
            verbose=self.verbose,
            stateful_metrics=["learning_rate", "smoothed_loss"],
            unit_name="step",
        )
        average, best, diverged = 0.0, math.inf, False
        used, losses, smoothed = [], [], []
        # zip stops at the shorter: at most num_steps batches, fewer if the
        # data ends early.
        for index, (rate, batch) in enumerate(zip(rates, batches, strict=False)):
            model.optimizer.learning_rate = float(rate)
            logs = model.train_on_batch(*batch, return_dict=True)
            loss = float(logs["loss"])
            average = self.smoothing * average + (1.0 - self.smoothing) * loss
            value = average / (1.0 - self.smoothing ** (index + 1))
            used.append(rate)
            losses.append(loss)
            smoothed.append(value)
            diverged = not math.isfinite(value) or value > self.divergence_threshold * best
            progbar.update(
                index + 1,
                [("learning_rate", rate), ("smoothed_loss", value)],
                finalize=diverged or index + 1 == len(rates),
            )
            if diverged:
                if self.verbose:
                    print(f"\nLoss diverged at learning_rate={rate:.4g}; stopping.")
                break
            best = min(best, value)
        if len(used) < len(rates) and not diverged:
            warnings.warn(
                f"LRFinder: the data ran out after {len(used)} of {len(rates)} batches; "
                f"the sweep stopped at learning_rate={used[-1]:.4g}. Pass a dataset "
                "that can be iterated again, or arrays, to sweep the whole range.",
                stacklevel=3,
            )
        return LRFinderResult(used, losses, smoothed)


class LRFinderResult:
    """The curve of a range test and what it suggests.

    Attributes:
        learning_rates: NumPy array, the rates tried, in order.
        losses: NumPy array, the loss of each batch.
        smoothed_losses: NumPy array, the bias-corrected moving average.
        steepest_learning_rate: the rate where the smoothed loss falls fastest
            per unit of `log(lr)` between its first points and its minimum:
            the suggestion.
        min_loss_learning_rate: the rate at the minimum of the smoothed loss.
        min_over_ten_learning_rate: `min_loss_learning_rate / 10`, the other
            common rule.
        suggested_learning_rate: `steepest_learning_rate`.
        clr_bounds: `(base, max)`, the bounds to pass to `CyclicalLearningRate`
            or `CyclicalLR` as they are: `base` where the smoothed loss has
            made the first 10% of its fall (never above `max`), `max` the
            steepest-descent rate, where the loss still falls fast. The
            minimum of the loss (`min_loss_learning_rate`) is not a bound: it
            sits at the edge of divergence. `plot()` shades this interval.
    """

    def __init__(self, learning_rates, losses, smoothed_losses):
        self.learning_rates = _curve("learning_rates", learning_rates)
        self.losses = _curve("losses", losses)
        self.smoothed_losses = _curve("smoothed_losses", smoothed_losses)
        if not len(self.learning_rates) == len(self.losses) == len(self.smoothed_losses):
            raise ValueError(
                "`learning_rates`, `losses` and `smoothed_losses` must have the same "
                f"length. Received: len(learning_rates)={len(self.learning_rates)}, "
                f"len(losses)={len(self.losses)}, "
                f"len(smoothed_losses)={len(self.smoothed_losses)}"
            )
        if not np.all(self.learning_rates > 0):  # also refuses NaN
            raise ValueError(
                "`learning_rates` must all be > 0 (they are plotted on a log scale). "
                f"Received: learning_rates={learning_rates!r}"
            )
        rates, curve = self.learning_rates, self.smoothed_losses
        finite = np.where(np.isfinite(curve), curve, np.inf)
        lowest = int(np.argmin(finite))
        self.min_loss_learning_rate = float(rates[lowest])
        self.min_over_ten_learning_rate = self.min_loss_learning_rate / 10.0
        # The first points are skipped: the moving average is noisy there.
        skip = min(max(len(curve) // 20, 1), 10)
        if lowest - skip >= 2:
            falling = slice(skip, lowest + 1)
            slope = np.gradient(curve[falling], np.log(rates[falling]))
            steepest = skip + int(np.argmin(slope))
            start, drop = curve[skip], curve[skip] - curve[lowest]
            began = skip + int(np.argmax(curve[falling] <= start - 0.1 * drop))
        else:
            steepest = began = lowest
        self.steepest_learning_rate = float(rates[steepest])
        self.suggested_learning_rate = self.steepest_learning_rate
        # One meaning everywhere (examples, docs, plot): the range to cycle
        # in, from where the loss starts to fall to the steepest descent.
        self.clr_bounds = (float(rates[min(began, steepest)]), self.steepest_learning_rate)

    def __repr__(self):
        return (
            f"LRFinderResult(steps={len(self.learning_rates)}, "
            f"suggested_learning_rate={self.suggested_learning_rate:.4g}, "
            f"clr_bounds=({self.clr_bounds[0]:.4g}, {self.clr_bounds[1]:.4g}))"
        )

    def learning_rate_range(self):
        """The learning-rate range to search: `(min_value, max_value)`.

        The rates at which this model trains, from the range test (Smith,
        2017): `clr_bounds`, from where the smoothed loss has made the first
        10% of its fall to where it falls fastest. Pass them to
        `hp.Float("learning_rate", min_value, max_value, sampling="log")` or
        as `learning_rate_range` to `keras_tricks.tuning.optimizer`. When the
        curve shows no fall (the two bounds meet), the decade below the
        minimum: `(min_loss_learning_rate / 10, min_loss_learning_rate)`.

        Returns:
            `(min_value, max_value)`, Python floats with
            `0 < min_value < max_value`.

        Example:
        >>> low, high = result.learning_rate_range()
        >>> hp.Float("learning_rate", low, high, sampling="log")
        """
        low, high = self.clr_bounds
        if not low < high:
            high = self.min_loss_learning_rate
            low = high / 10.0
        return float(low), float(high)

    def plot(self):
        """Draw the loss against the learning rate (log scale).

        Returns:
            A `matplotlib.figure.Figure` (drawn with the Agg canvas, so no
            display is needed): raw and smoothed loss, `clr_bounds` shaded
            (its top is the suggested rate, dashed) and the minimum of the
            smoothed loss, dotted.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6, 4))
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.plot(self.learning_rates, self.losses, alpha=0.3, label="loss")
        axes.plot(self.learning_rates, self.smoothed_losses, label="smoothed loss")
        base, top = self.clr_bounds
        axes.axvspan(
            base, top, color="tab:green", alpha=0.15, label=f"clr_bounds: {base:.3g} to {top:.3g}"
        )
        axes.axvline(
            self.suggested_learning_rate,
            color="tab:red",
            linestyle="--",
            label=f"steepest: {self.suggested_learning_rate:.3g}",
        )
        axes.axvline(
            self.min_loss_learning_rate,
            color="tab:gray",
            linestyle=":",
            label=f"minimum: {self.min_loss_learning_rate:.3g}",
        )
        axes.set_xscale("log")
        finite = self.smoothed_losses[np.isfinite(self.smoothed_losses)]
        if finite.size:
            raw = self.losses[np.isfinite(self.losses)]
            bottom = min(float(finite.min()), float(raw.min()) if raw.size else math.inf)
            top = max(float(finite[0]), min(float(finite.max()), 4.0 * float(finite.min())))
            axes.set_ylim(bottom - 0.05 * abs(bottom), top + 0.05 * abs(top))
        axes.set_xlabel("learning rate")
        axes.set_ylabel("loss")
        axes.set_title("Learning-rate range test")
        axes.legend()
        figure.tight_layout()
        return figure


def _curve(name, values):
    """`values` as a 1-D float64 array with at least one point."""
    try:
        array = np.asarray(values, dtype="float64")
    except (TypeError, ValueError):
        raise TypeError(
            f"`{name}` must be a sequence of numbers. Received: {name}={values!r}"
        ) from None
    if array.ndim != 1 or array.size == 0:
        raise ValueError(
            f"`{name}` must be a non-empty 1-D sequence (one value per step of the "
            f"range test). Received: {name}={values!r}"
        )
    return array


def _is_arrays(x):
    """Whether `x` is an array, or a list, tuple or dict of arrays."""
    if x is None:
        return False
    leaves = keras.tree.flatten(x)
    return bool(leaves) and all(hasattr(v, "shape") and hasattr(v, "__getitem__") for v in leaves)


def _num_samples(name, data):
    counts = set()
    for leaf in keras.tree.flatten(data):
        if len(leaf.shape) == 0:
            raise ValueError(
                f"`{name}` must hold arrays with a batch axis, not scalars. "
                f"Received: {name} with shape {tuple(leaf.shape)}"
            )
        counts.add(int(leaf.shape[0]))
    if len(counts) > 1:
        raise ValueError(
            f"The arrays in `{name}` must all hold the same number of samples. "
            f"Received: {name} with {sorted(counts)} samples"
        )
    return counts.pop()


def _batches(x, y, batch_size, seed, num_steps):
    """Yield at most `num_steps` batches `(x, y[, sample_weight])`.

    Every path is bounded by `num_steps`; arrays with no sample and an
    iterable whose pass yields nothing raise instead of looping.
    """
    if _is_arrays(x):
        yield from _array_batches(x, y, batch_size, seed, num_steps)
        return
    if x is None or isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(
            "`x` must be arrays (a NumPy array or tensor, or a list or dict of them), "
            "a tf.data.Dataset, a keras.utils.PyDataset or an iterable of batches. "
            f"Received: x={x!r}"
        )
    if y is not None:
        raise ValueError(
            "`y` must be None when `x` is a dataset or an iterable of batches "
            f"(its batches carry the targets). Received: y of type {type(y).__name__}"
        )
    yield from itertools.islice(_iterable_batches(x), num_steps)


def _array_batches(x, y, batch_size, seed, num_steps):
    batch_size = check_int("batch_size", batch_size, minimum=1)
    x = keras.tree.map_structure(np.asarray, x)
    count = _num_samples("x", x)
    if y is not None:
        if not _is_arrays(y):
            raise TypeError(
                "`y` must be an array, or a list or dict of arrays, when `x` holds "
                f"arrays. Received: y={y!r}"
            )
        y = keras.tree.map_structure(np.asarray, y)
        targets = _num_samples("y", y)
        if targets != count:
            raise ValueError(
                "`x` and `y` must hold the same number of samples. "
                f"Received: {count} samples in x, {targets} in y"
            )
    if count == 0:
        raise ValueError("`x` must hold at least one sample. Received: x with 0 samples")
    # Full batches only, unless there is less than one: then all the samples.
    starts = list(range(0, count - batch_size + 1, batch_size)) or [0]
    size = min(batch_size, count)
    rng = np.random.default_rng(seed)
    step = 0
    while step < num_steps:  # every pass yields len(starts) >= 1 batches
        order = rng.permutation(count) if seed is not None else np.arange(count)
        for start in starts[: num_steps - step]:
            take = functools.partial(_take, index=order[start : start + size])
            inputs = keras.tree.map_structure(take, x)
            yield (inputs,) if y is None else (inputs, keras.tree.map_structure(take, y))
            step += 1


def _take(array, index):
    return array[index]


def _from_tensorflow(batch):
    """A `tf.data` batch as NumPy arrays on the JAX and torch backends.

    `fit` converts a `tf.data.Dataset`'s tensors for those backends;
    `train_on_batch` does not, so the range test does it here. TensorFlow's
    own backend, and batches with no TensorFlow tensor, pass through as they are.
    """
    if keras.backend.backend() == "tensorflow" or "tensorflow" not in sys.modules:
        return batch
    tensor_type = sys.modules["tensorflow"].Tensor

    def convert(value):
        return value.numpy() if isinstance(value, tensor_type) else value

    return keras.tree.map_structure(convert, batch)


def _iterable_batches(x):
    """Batches of a dataset, re-iterated when it ends; a one-shot iterator ends."""
    while True:
        empty = True
        for batch in x:
            empty = False
            batch = _from_tensorflow(batch)
            yield tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
        if empty:
            return  # nothing this pass: a spent iterator, or no data at all
