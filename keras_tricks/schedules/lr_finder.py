"""Smith's learning-rate range test: `LRFinder`.

Where it lives, and why: the range test is not a Keras callback. It drives
`train_on_batch` itself, outside `fit`, and returns bounds for a learning-rate
schedule (`LRFinderResult.clr_bounds` for `CyclicalLearningRate`, Smith 2017,
the paper that defines both). So it sits beside the schedules it tunes, and
its dependencies point down: `keras_tricks.callbacks` depends on
`keras_tricks.schedules`, never the reverse, and the range test needs only
`keras_tricks._checks` and this subpackage's `_interface`.
`keras_tricks.callbacks.LRFinder` (and the module
`keras_tricks.callbacks.lr_finder`) stay importable as the same class, and
its registered name stays `keras_tricks>LRFinder`.
"""

import contextlib
import itertools
import math
import warnings

import keras
import numpy as np

from keras_tricks._checks import (
    check_int,
    check_learning_rate,
    check_positive,
    check_range,
)
from keras_tricks.schedules._interface import check_float_learning_rate, check_verbose
from keras_tricks.schedules._range_test_data import range_test_batches
from keras_tricks.schedules.lr_finder_result import LRFinderResult

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
    >>> model.compile(
    ...     keras.optimizers.SGD(momentum=0.9), "sparse_categorical_crossentropy")
    >>> result = keras_tricks.schedules.LRFinder(1e-5, 10.0, num_steps=100).find(
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
        high = check_learning_rate(
            "max_learning_rate", max_learning_rate, allow_zero=False
        )
        if high <= low:
            raise ValueError(
                "`max_learning_rate` must be > "
                f"min_learning_rate={min_learning_rate!r}. "
                f"Received: max_learning_rate={max_learning_rate!r}"
            )
        # The rates are assigned to a float32 variable: keep them in its range.
        if low < _FLOAT32_TINY:
            raise ValueError(
                f"`min_learning_rate` must be >= {_FLOAT32_TINY:.7g}, "
                "the smallest normal "
                f"float32. Received: min_learning_rate={min_learning_rate!r}"
            )
        check_int("num_steps", num_steps, minimum=2)
        check_range("smoothing", smoothing, 0.0, 1.0)
        check_range(
            "divergence_threshold",
            divergence_threshold,
            1.0,
            math.inf,
            low_closed=False,
        )
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
        _check_model(model)
        batches = range_test_batches(x, y, batch_size, self.seed, self.num_steps)
        first = next(batches, None)  # checks the data before touching the model
        if first is None:
            raise ValueError(f"`x` yielded no batch. Received: x={x!r}")
        _build_optimizer(model)
        with _state_put_back(model):
            return self._sweep(model, itertools.chain([first], batches))

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
            diverged = (
                not math.isfinite(value) or value > self.divergence_threshold * best
            )
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
                f"LRFinder: the data ran out after {len(used)} of {len(rates)} "
                "batches; "
                f"the sweep stopped at learning_rate={used[-1]:.4g}. Pass a dataset "
                "that can be iterated again, or arrays, to sweep the whole range.",
                stacklevel=3,
            )
        return LRFinderResult(used, losses, smoothed)


def _check_model(model):
    """Refuse what the range test cannot train: not a built, compiled model with a float
    rate."""
    if not isinstance(model, keras.Model):
        raise TypeError(f"`model` must be a keras.Model. Received: model={model!r}")
    if not model.built:
        raise ValueError(
            "`model` must be built before the range test (call it on a batch "
            f"or give it an Input). Received: model={model.name!r}"
        )
    if getattr(model, "optimizer", None) is None:
        raise ValueError(
            "`model` must be compiled before the range test (call "
            f"`model.compile(optimizer, loss)`). Received: model={model.name!r}"
        )
    check_float_learning_rate(model.optimizer, "LRFinder")


def _build_optimizer(model):
    """Build the optimizer (in the model's strategy scope) so its state can be saved."""
    if model.optimizer.built:
        return
    strategy = getattr(model, "distribute_strategy", None)
    with strategy.scope() if strategy is not None else contextlib.nullcontext():
        model.optimizer.build(model.trainable_variables)


@contextlib.contextmanager
def _state_put_back(model):
    """Put the model's and the optimizer's variables back as they were on exit."""
    variables = list(model.variables) + list(model.optimizer.variables)
    saved = [variable.numpy() for variable in variables]
    try:
        yield
    finally:
        for variable, value in zip(variables, saved, strict=True):
            variable.assign(value)
