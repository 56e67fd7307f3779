"""`LRFinderResult`: the curve of a range test and what it suggests."""

import math

import numpy as np


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
        if (
            not len(self.learning_rates)
            == len(self.losses)
            == len(self.smoothed_losses)
        ):
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
        self.clr_bounds = (
            float(rates[min(began, steepest)]),
            self.steepest_learning_rate,
        )

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
            base,
            top,
            color="tab:green",
            alpha=0.15,
            label=f"clr_bounds: {base:.3g} to {top:.3g}",
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
            bottom = min(
                float(finite.min()), float(raw.min()) if raw.size else math.inf
            )
            top = max(
                float(finite[0]), min(float(finite.max()), 4.0 * float(finite.min()))
            )
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
