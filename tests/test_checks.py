"""The shared argument checks: the message form and what each refuses."""

import math

import pytest

from keras_tricks import _checks


@pytest.mark.parametrize("value", [math.inf, -math.inf])
def test_check_number_refuses_infinity_by_default(value):
    with pytest.raises(
        ValueError, match=r"`rate` must be finite\. Received: rate=-?inf"
    ):
        _checks.check_number("rate", value)
    assert _checks.check_number("rate", value, finite=False) == value


@pytest.mark.parametrize("value", [math.nan, "0.1", True, None])
def test_check_number_refuses_nan_strings_bools_none(value):
    with pytest.raises(ValueError, match=r"`rate` must (be a real number|not be NaN)"):
        _checks.check_number("rate", value, finite=False)


def test_check_positive_refuses_infinity():
    with pytest.raises(
        ValueError, match=r"`epsilon` must be finite\. Received: epsilon=inf"
    ):
        _checks.check_positive("epsilon", math.inf)


def test_check_range_lets_infinity_through_only_where_the_interval_closes_on_it():
    assert (
        _checks.check_range("limit", math.inf, 0.0, math.inf, high_closed=True)
        == math.inf
    )
    with pytest.raises(ValueError, match=r"`limit` must be in \[0.0, inf\)"):
        _checks.check_range("limit", math.inf, 0.0, math.inf)
    with pytest.raises(ValueError, match=r"`limit` must be in \[0.0, 1.0\)"):
        _checks.check_range("limit", math.inf, 0.0, 1.0)


def test_check_pair_refuses_an_infinite_end():
    message = (
        r"`value_range` must be a pair of finite numbers \(min, max\)\. "
        r"Received: value_range=\(0, inf\)"
    )
    with pytest.raises(ValueError, match=message):
        _checks.check_pair("value_range", (0, math.inf))
    with pytest.raises(
        ValueError, match=r"must be a pair of real numbers .* value_range=\(nan, 1\)"
    ):
        _checks.check_pair("value_range", (math.nan, 1))


@pytest.mark.parametrize("value", ["False", "True", 0, 1, None])
def test_check_bool_refuses_everything_but_bools(value):
    with pytest.raises(
        ValueError, match=r"`data_init` must be a bool \(True or False\)"
    ):
        _checks.check_bool("data_init", value)
    assert _checks.check_bool("data_init", False) is False
