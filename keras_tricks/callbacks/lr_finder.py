"""Smith's learning-rate range test."""

import contextlib
import math

import keras
import numpy as np

from keras_tricks._checks import check_int, check_positive, check_range
from keras_tricks.callbacks._schedule_callback import check_float_learning_rate


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
        min_learning_rate: float, `> 0`, first rate of the sweep.
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
        verbose: int, `1` shows a `keras.utils.Progbar`. Defaults to `1`.
        seed: int or `None`, shuffles NumPy inputs between passes.
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
        high = check_positive("max_learning_rate", max_learning_rate)
        if high <= low:
            raise ValueError(
                f"`max_learning_rate` must be > min_learning_rate={min_learning_rate!r}. "
                f"Received: max_learning_rate={max_learning_rate!r}"
            )
        check_int("num_steps", num_steps, minimum=2)
        check_range("smoothing", smoothing, 0.0, 1.0)
        check_range("divergence_threshold", divergence_threshold, 1.0, math.inf, low_closed=False)
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
            x: NumPy inputs (with `y`), or a `tf.data.Dataset` / iterable of
                `(x, y)` or `(x, y, sample_weight)` batches; it is iterated
                again from the start when exhausted.
            y: NumPy targets when `x` is an array. Defaults to `None`.
            batch_size: int, batch size for NumPy inputs. Defaults to `32`.

        Returns:
            An `LRFinderResult`.
        """
        if not model.built:
            raise ValueError(
                "`model` must be built before the range test (call it on a batch "
                f"or give it an Input). Received: model={model.name!r}"
            )
        optimizer = model.optimizer
        if optimizer is None:
            raise ValueError(
                f"`model` must be compiled before the range test. Received: model={model.name!r}"
            )
        check_float_learning_rate(optimizer, "LRFinder")
        if not optimizer.built:
            strategy = getattr(model, "distribute_strategy", None)
            with strategy.scope() if strategy is not None else contextlib.nullcontext():
                optimizer.build(model.trainable_variables)
        saved_model = [v.numpy() for v in model.variables]
        saved_optimizer = [v.numpy() for v in optimizer.variables]
        try:
            return self._sweep(model, _batches(x, y, batch_size, self.seed))
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
        average, best = 0.0, math.inf
        used, losses, smoothed = [], [], []
        for index, rate in enumerate(rates):
            model.optimizer.learning_rate = float(rate)
            logs = model.train_on_batch(*next(batches), return_dict=True)
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
        clr_bounds: `(base, max)` for `CyclicalLearningRate`: `base` where the
            smoothed loss has made the first 10% of its fall, `max` where it
            stops falling (its minimum).
    """

    def __init__(self, learning_rates, losses, smoothed_losses):
        self.learning_rates = np.asarray(learning_rates, dtype="float64")
        self.losses = np.asarray(losses, dtype="float64")
        self.smoothed_losses = np.asarray(smoothed_losses, dtype="float64")
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
        self.clr_bounds = (float(rates[began]), self.min_loss_learning_rate)

    def __repr__(self):
        return (
            f"LRFinderResult(steps={len(self.learning_rates)}, "
            f"suggested_learning_rate={self.suggested_learning_rate:.4g}, "
            f"clr_bounds=({self.clr_bounds[0]:.4g}, {self.clr_bounds[1]:.4g}))"
        )

    def plot(self):
        """Draw the loss against the learning rate (log scale).

        Returns:
            A `matplotlib.figure.Figure` (drawn with the Agg canvas, so no
            display is needed): raw and smoothed loss, the suggested rate and
            the CLR bounds.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        figure = Figure(figsize=(6, 4))
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        axes.plot(self.learning_rates, self.losses, alpha=0.3, label="loss")
        axes.plot(self.learning_rates, self.smoothed_losses, label="smoothed loss")
        axes.axvspan(*self.clr_bounds, color="tab:green", alpha=0.15, label="CLR bounds")
        axes.axvline(
            self.suggested_learning_rate,
            color="tab:red",
            linestyle="--",
            label=f"steepest: {self.suggested_learning_rate:.3g}",
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


def _batches(x, y, batch_size, seed):
    """Yield `(x, y[, sample_weight])` batches forever."""
    if hasattr(x, "shape") and hasattr(x, "__getitem__"):
        batch_size = check_int("batch_size", batch_size, minimum=1)
        x, y = np.asarray(x), None if y is None else np.asarray(y)
        rng = np.random.default_rng(seed)
        while True:
            order = rng.permutation(len(x)) if seed is not None else np.arange(len(x))
            for start in range(0, len(x) - batch_size + 1, batch_size):
                index = order[start : start + batch_size]
                yield (x[index],) if y is None else (x[index], y[index])
    while True:
        empty = True
        for batch in x:
            empty = False
            yield tuple(batch) if isinstance(batch, (tuple, list)) else (batch,)
        if empty:
            raise ValueError(f"`x` yielded no batch. Received: x={x!r}")
