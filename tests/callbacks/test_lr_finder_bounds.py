"""`LRFinderResult.clr_bounds` has one meaning, and `plot()` shades exactly it."""

import numpy as np
import pytest

from keras_tricks.callbacks import LRFinderResult

RATES = np.logspace(-4, 1, 60)


def _result(curve):
    curve = np.asarray(curve, dtype="float64")
    return LRFinderResult(RATES, curve, curve)


def _falls_then_diverges():
    # Flat, a smooth fall over log(lr), a flat bottom, then divergence.
    t = np.log10(RATES)
    fall = 2.0 - 1.5 / (1.0 + np.exp(-3.0 * (t + 2.0)))
    return np.where(t < 0.0, fall, fall + 4.0 * t**2)


def test_clr_bounds_run_from_the_start_of_the_fall_to_the_steepest_descent():
    result = _result(_falls_then_diverges())
    base, top = result.clr_bounds
    assert top == result.steepest_learning_rate == result.suggested_learning_rate
    # The minimum, at the edge of divergence, lies above the bounds.
    assert base < top < result.min_loss_learning_rate
    assert base > RATES[0]


def test_clr_bounds_stay_ordered_when_the_steepest_drop_comes_first():
    # A cliff right after the skipped points, then a long slow fall: the
    # first 10% of the fall is reached only after the steepest point.
    curve = np.concatenate([np.full(5, 3.0), [2.6], np.linspace(2.55, 1.0, 54)])
    result = _result(curve)
    base, top = result.clr_bounds
    assert base <= top == result.steepest_learning_rate


@pytest.mark.parametrize("curve", [_falls_then_diverges(), np.linspace(3.0, 1.0, 60)])
def test_plot_shades_exactly_the_clr_bounds(curve):
    result = _result(curve)
    axes = result.plot().axes[0]
    shaded = [p for p in axes.patches if p.get_label().startswith("clr_bounds")]
    assert len(shaded) == 1
    x0, _, width, _ = shaded[0].get_bbox().bounds
    np.testing.assert_allclose([x0, x0 + width], result.clr_bounds, rtol=1e-12)
