"""Every argument check raises a ValueError naming the argument and the value."""

import math
import re

import keras
import pytest

from keras_tricks import optimizers
from tests.optimizers.conftest import OPTIMIZERS, every_optimizer

BAD_COMMON = [
    (
        {"learning_rate": -0.1},
        r"`learning_rate` must be >= 0\. Received: learning_rate=-0\.1",
    ),
    (
        {"learning_rate": "fast"},
        r"`learning_rate` must be a float.*Received: learning_rate='fast'",
    ),
    ({"learning_rate": True}, r"Received: learning_rate=True"),
    ({"beta_1": 1.0}, r"`beta_1` must be in \[0\.0, 1\.0\)\. Received: beta_1=1\.0"),
    ({"beta_1": -0.1}, r"Received: beta_1=-0\.1"),
    ({"beta_2": 1.5}, r"`beta_2` must be in \[0\.0, 1\.0\)\. Received: beta_2=1\.5"),
    ({"epsilon": -1e-8}, r"`epsilon` must be >= 0\. Received: epsilon=-1e-08"),
    (
        {"weight_decay": -0.01},
        r"`weight_decay` must be >= 0\. Received: weight_decay=-0\.01",
    ),
    (
        {"l2_weight_decay": -1.0},
        r"`l2_weight_decay` must be >= 0\. Received: l2_weight_decay=-1\.0",
    ),
    (
        {"amsgrad": "yes"},
        r"`amsgrad` must be a bool \(True or False\)\. Received: amsgrad='yes'",
    ),
]


@every_optimizer
@pytest.mark.parametrize("kwargs, message", BAD_COMMON)
def test_bad_common_arguments(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_integer_learning_rate_and_schedule_are_accepted():
    assert optimizers.RAdam(learning_rate=1).get_config()["learning_rate"] == 1.0
    schedule = keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5)
    assert optimizers.AdaBelief(learning_rate=schedule).learning_rate is not None


def test_unknown_method():
    with pytest.raises(
        ValueError,
        match=r"`method` must be one of 'cos', 'tan'\. Received: method='sin'",
    ):
        optimizers.AngularGrad(method="sin")


@pytest.mark.parametrize(
    "cls, name",
    [
        (optimizers.AdaBelief, "rectify"),
        (optimizers.AdaBelief, "degenerated_to_sgd"),
        (optimizers.RAdam, "degenerated_to_sgd"),
    ],
)
def test_flags_must_be_bool(cls, name):
    with pytest.raises(
        ValueError,
        match=rf"`{name}` must be a bool \(True or False\)\. Received: {name}=1",
    ):
        cls(**{name: 1})


@pytest.mark.parametrize("cls", [optimizers.AdamInject, optimizers.RAdamInject])
def test_injection_divisor_must_be_positive(cls):
    with pytest.raises(
        ValueError,
        match=r"`injection_divisor` must be > 0\. Received: injection_divisor=0",
    ):
        cls(injection_divisor=0)


@pytest.mark.parametrize("name", ["adamx", "", "ada belief"])
def test_get_unknown_name(name):
    with pytest.raises(
        ValueError,
        match=r"`identifier` must be one of 'adabelief'.*"
        rf"Received: identifier='{name}'",
    ):
        optimizers.get(name)


def test_get_wrong_type():
    with pytest.raises(ValueError, match=r"Received: identifier=3"):
        optimizers.get(3)


def _own_arguments(cls):
    """`{name: default}` of the arguments this library checks (not Keras's own).

    Read from the config, so a new optimizer's arguments enrol here: its own
    keys, plus `learning_rate` and `weight_decay` which the base class checks.
    """
    optimizer = cls()
    config = optimizer.get_config()
    keras_keys = set(keras.optimizers.Optimizer.get_config(optimizer))
    own = {k: v for k, v in config.items() if k not in keras_keys}
    own["learning_rate"] = config["learning_rate"]
    own["weight_decay"] = 0.0
    return own


def _float_and_bool_arguments():
    cases = []
    for cls in OPTIMIZERS:
        for name, default in _own_arguments(cls).items():
            if isinstance(default, bool):
                cases.append((cls, name, "bool"))
            elif isinstance(default, float):
                cases.append((cls, name, "float"))
    return cases


ARGUMENT_CASES = _float_and_bool_arguments()


def test_argument_enrolment_covers_the_known_arguments():
    names = {(cls.__name__, name) for cls, name, _ in ARGUMENT_CASES}
    for cls in OPTIMIZERS:
        for name in ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad"):
            assert (cls.__name__, name) in names
        for name in ("weight_decay", "l2_weight_decay"):
            assert (cls.__name__, name) in names
    assert ("AdamInject", "injection_divisor") in names
    assert ("AdaBeliefInject", "rectify") in names
    assert ("RAdamInject", "degenerated_to_sgd") in names


FLOAT_BAD = [
    (math.inf, "inf"),
    (-math.inf, "-inf"),
    (math.nan, "nan"),
    ("0.1", "'0.1'"),
    (True, "True"),
    (None, "None"),
]
BOOL_BAD = [("False", "'False'"), (0, "0"), (None, "None"), (1.0, "1.0")]


@pytest.mark.parametrize(
    "cls, name, kind",
    ARGUMENT_CASES,
    ids=[f"{cls.__name__}-{name}" for cls, name, _ in ARGUMENT_CASES],
)
def test_every_float_and_bool_argument_refuses_bad_values(cls, name, kind):
    for value, shown in FLOAT_BAD if kind == "float" else BOOL_BAD:
        if name == "weight_decay" and value is None:
            continue  # None means no decoupled decay
        with pytest.raises(
            ValueError, match=rf"`{name}` .*Received: {name}={re.escape(shown)}"
        ):
            cls(**{name: value})


KERAS_ARGUMENT_CASES = [
    ("clipnorm", math.inf, r"`clipnorm` must be finite\. Received: clipnorm=inf"),
    ("clipnorm", math.nan, r"`clipnorm` must not be NaN\. Received: clipnorm=nan"),
    ("clipvalue", -1.0, r"`clipvalue` must be >= 0\. Received: clipvalue=-1\.0"),
    ("global_clipnorm", "1", r"Received: global_clipnorm='1'"),
    ("loss_scale_factor", 0.0, r"`loss_scale_factor` must be > 0\. Received"),
    ("loss_scale_factor", math.inf, r"Received: loss_scale_factor=inf"),
    ("ema_momentum", math.nan, r"`ema_momentum` must not be NaN\. Received"),
    ("ema_momentum", 1.5, r"`ema_momentum` must be in \[0\.0, 1\.0\]\. Received"),
    ("use_ema", "False", r"`use_ema` must be a bool .*Received: use_ema='False'"),
]


@every_optimizer
def test_keras_float_arguments_refuse_non_finite(cls):
    # Keras's base class takes these unchecked (an infinite clipnorm makes
    # every weight NaN); ours refuse them. 0 (clipping off) and None stay.
    for name, value, message in KERAS_ARGUMENT_CASES:
        with pytest.raises(ValueError, match=message):
            cls(**{name: value})
    cls(clipnorm=0.0)
    cls(clipnorm=None, clipvalue=None, global_clipnorm=None, loss_scale_factor=None)


@every_optimizer
def test_learning_rate_beyond_float32_is_refused(cls):
    # Keras casts the rate to float32: 1e300 would step by inf and leave NaN weights.
    message = (
        r"`learning_rate` must be at most .*largest float32.*"
        r"Received: learning_rate=1e\+300"
    )
    with pytest.raises(ValueError, match=message):
        cls(learning_rate=1e300)
