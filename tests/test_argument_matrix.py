"""The argument row of the conformance matrix (issue 11).

Every public class and function of every subpackage is enrolled by walking
`keras_tricks.<sub>.__all__`; its numeric arguments are found by signature
(a default that is a float, an int, a bool or a pair of numbers), plus the few
numeric arguments without such a default named in `NUMERIC_WITHOUT_DEFAULT`.
Each meets NaN,
+inf, -inf, a negative number, a bool, a string and None. The outcome must be
one of:

- a `ValueError`/`TypeError` whose message names the argument and the value;
- for a value listed in `ACCEPTED` (with the reason it is legitimate), an
  object that builds and, used once (a layer called, an optimizer step, a
  schedule evaluated, a function's number returned), gives finite output.

Anything else fails: a silent acceptance, a raw error from deep inside, a NaN.
No blanket skips: a case known to fail is marked `xfail(strict=True)` one by
one in `KNOWN_BUGS` (empty now), so each mark must go as soon as its fix lands.

Hypothesis adds the float edges (any float, NaN and the infinities included)
for every float argument of the schedules, the learning-rate callbacks, the
scaling functions, the optimizers and the layers.
"""

import functools
import importlib
import inspect
import math
import numbers

import keras
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import keras_tricks
from tests.helpers.bounded import bounded

SUBPACKAGES = [
    "layers",
    "optimizers",
    "schedules",
    "callbacks",
    "augment",
    "pruning",
    "diagnostics",
]
NAN, INF = float("nan"), float("inf")


# --- enrolment -------------------------------------------------------------


def _public_objects():
    """`(subpackage, name, object)` for every public callable, once each.

    An object exported from two subpackages (`LRFinder` from `schedules` and,
    for compatibility, `callbacks`) is enrolled under its home, the subpackage
    whose module defines it.
    """
    seen = set()
    for sub in SUBPACKAGES:
        module = importlib.import_module(f"keras_tricks.{sub}")
        for name in module.__all__:
            obj = getattr(module, name)
            if not callable(obj) or id(obj) in seen:
                continue
            if _exported_by_home(obj, sub):
                continue  # enrolled when the loop reaches its home
            seen.add(id(obj))
            yield sub, name, obj


def _exported_by_home(obj, sub):
    """Whether another subpackage, the one whose module defines `obj`, exports it."""
    parts = getattr(obj, "__module__", "").split(".")
    home = parts[1] if len(parts) > 1 and parts[0] == "keras_tricks" else None
    if home in (sub, None) or home not in SUBPACKAGES:
        return False
    module = importlib.import_module(f"keras_tricks.{home}")
    return getattr(module, obj.__name__, None) is obj


def _signature_parameters(obj):
    """Named parameters of a function, or of a class's `__init__` merged over
    its keras_tricks bases (a subclass taking `*args, **kwargs` passes them on)."""
    if not inspect.isclass(obj):
        functions = [obj]
    else:
        functions = [
            klass.__init__
            for klass in obj.__mro__
            if klass.__module__.startswith("keras_tricks") and "__init__" in vars(klass)
        ]
    parameters = {}
    for function in functions:
        passes_on = False
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                passes_on = True
            elif parameter.name != "self":
                parameters.setdefault(parameter.name, parameter.default)
        if not passes_on:
            break
    return parameters


def _kind(default):
    if (
        isinstance(default, tuple)
        and len(default) == 2
        and all(
            isinstance(v, numbers.Real) and not isinstance(v, bool) for v in default
        )
    ):
        return "pair"  # value_range, scale, ratio, ...
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, numbers.Integral):
        return "int"
    if isinstance(default, numbers.Real):
        return "float"
    return None


# Numeric arguments whose default is not a number (required, or None).
NUMERIC_WITHOUT_DEFAULT = {
    "seed": "int",  # everywhere: an int or None
    ("RandomResizedCrop", "height"): "int",
    ("RandomResizedCrop", "width"): "int",
    ("ConstantSparsity", "target_sparsity"): "float",
    ("PolynomialDecay", "initial_sparsity"): "float",
    ("PolynomialDecay", "final_sparsity"): "float",
    ("PolynomialDecay", "begin_step"): "int",
    ("PolynomialDecay", "end_step"): "int",
    ("scale_learning_rate", "base_learning_rate"): "float",
    ("scale_learning_rate", "batch_size"): "int",
    ("scale_learning_rate_for_strategy", "base_learning_rate"): "float",
    ("scale_learning_rate_for_strategy", "per_replica_batch_size"): "int",
    ("global_batch_size", "per_replica_batch_size"): "int",
    ("LossCurveMonitor", "validation_size"): "int",
    ("lint_model", "batch_size"): "int",
    ("overfit_one_batch", "learning_rate"): "float",
}


def _numeric_parameters(name, obj):
    found = {}
    for parameter, default in _signature_parameters(obj).items():
        kind = _kind(default)
        kind = kind or NUMERIC_WITHOUT_DEFAULT.get((name, parameter))
        if kind is None and parameter == "seed":
            kind = NUMERIC_WITHOUT_DEFAULT["seed"]
        if kind is not None:
            found[parameter] = (kind, default)
    return found


# --- minimal valid arguments -----------------------------------------------


@functools.cache
def _classifier():
    """One small compiled model shared by every case: building one per case
    would cost more than the rest of the matrix. A check is handed the model
    only to validate its other arguments."""
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu", name="body"),
            keras.layers.Dense(3, name="head"),
        ]
    )
    model.compile(
        keras.optimizers.SGD(0.01),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


def _data(count=16):
    rng = np.random.default_rng(0)
    return rng.normal(size=(count, 4)).astype("float32"), rng.integers(0, 3, count)


REQUIRED = {
    "DropConnect": lambda: dict(layer=keras.layers.Dense(2)),
    "WeightNormalization": lambda: dict(layer=keras.layers.Dense(2)),
    "GroupNormalization": lambda: dict(groups=2),
    "RandomApply": lambda: dict(layer=keras.layers.Identity()),
    "RandomChoice": lambda: dict(
        layers=[keras.layers.Identity(), keras.layers.Identity()]
    ),
    "RandomResizedCrop": lambda: dict(height=4, width=4),
    "ConstantSparsity": lambda: dict(target_sparsity=0.5),
    "PolynomialDecay": lambda: dict(
        initial_sparsity=0.0, final_sparsity=0.5, begin_step=0, end_step=100
    ),
    "PruneLowMagnitude": lambda: dict(layer=keras.layers.Dense(2)),
    "FineTuneOptimizer": lambda: dict(
        optimizer=keras.optimizers.SGD(0.01), fine_tune_layers=["body"]
    ),
    "LRFinderResult": lambda: dict(
        learning_rates=[0.1], losses=[1.0], smoothed_losses=[1.0]
    ),
    "Report": lambda: dict(check="check", passed=True, summary="summary"),
    "DiagnosisReport": lambda: dict(reports=[]),
    "scale_learning_rate": lambda: dict(base_learning_rate=0.1, batch_size=256),
    "scale_learning_rate_for_strategy": lambda: dict(
        base_learning_rate=0.1, per_replica_batch_size=32
    ),
    "global_batch_size": lambda: dict(per_replica_batch_size=32),
    "prune_low_magnitude": lambda: dict(to_prune=_classifier()),
    "shrink": lambda: dict(model=_classifier()),
    "sparsity_report": lambda: dict(model=_classifier()),
    "strip_pruning": lambda: dict(model=_classifier()),
    "format_sparsity_report": lambda: dict(rows=[]),
    "check_batch_dependence": lambda: dict(model=_classifier(), x=_data()[0]),
    "check_initial_loss": lambda: dict(model=_classifier(), batch=_data(8)),
    # steps=2: where a bad value is accepted today (a known bug), the check runs.
    "diagnose": lambda: dict(model=_classifier(), data=_data(), steps=2),
    "input_independent_baseline": lambda: dict(
        model=_classifier(), data=_data(), steps=2
    ),
    "lint_model": lambda: dict(model=_classifier()),
    "overfit_one_batch": lambda: dict(model=_classifier(), batch=_data(8), steps=2),
    "plan_transfer_learning": lambda: dict(
        model=_classifier(),
        head_layers=["head"],
        data_size="little",
        similarity="similar",
        optimizer=keras.optimizers.SGD(0.01),
    ),
    "get": lambda: dict(identifier="radam"),
}

# The input a layer is called on when it is used once.
IMAGE = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 4)).astype("float32")
INPUTS = {
    "DropConnect": np.ones((2, 3), "float32"),
    "WeightNormalization": np.ones((2, 3), "float32"),
    "PruneLowMagnitude": np.ones((2, 3), "float32"),
}


# --- the documented acceptances and the known bugs -------------------------

# (object or "*", argument, value) -> why the value is legitimate.
ACCEPTED = {
    ("*", "seed", -1): "Keras's SeedGenerator takes any int seed",
    ("*", "seed", None): "None: a fresh random seed, as everywhere in Keras",
    ("*", "verbose", True): "Keras's fit takes verbose=True as 1",
    ("*", "end_step", -1): "-1 is the documented 'no end'",
    ("GroupNormalization", "groups", -1): "-1 is documented: one group per channel",
    (
        "RandomAffine",
        "fill_value",
        -1.0,
    ): "any finite fill, e.g. -1 for images in [-1, 1]",
}


def _accepted(name, parameter, value):
    for owner in (name, "*"):
        for (who, argument, accepted), _ in ACCEPTED.items():
            if who == owner and argument == parameter and _same(accepted, value):
                return True
    return False


def _same(a, b):
    return type(a) is type(b) and (a == b or (a != a and b != b))


# (object, argument, repr(value)) -> "<subpackage>: <what>": a case that is known to
# fail, marked `xfail(strict=True)` until its fix lands. Empty: every case passes.
KNOWN_BUGS = {}


# --- using an object once --------------------------------------------------


def _finite(value, what):
    array = np.asarray(keras.ops.convert_to_numpy(value), dtype="float64")
    assert np.all(np.isfinite(array)), f"{what} gave non-finite output {array!r}"


def _use_once(name, built):
    if isinstance(built, keras.optimizers.schedules.LearningRateSchedule):
        for step in (0, 1, 7, 10_000):
            _finite(built(step), f"{name}({step})")
    elif isinstance(
        built, keras_tricks.callbacks.CyclicalLR | keras_tricks.callbacks.WarmupLR
    ):
        _use_once(name, built.schedule)
    elif isinstance(built, keras_tricks.pruning.PruningSchedule) and type(
        built
    ) is not (keras_tricks.pruning.PruningSchedule):
        for step in (0, 1, 100, 10_000):
            _finite(built.sparsity(step), f"{name}.sparsity({step})")
    elif isinstance(built, keras.optimizers.Optimizer):
        if isinstance(built, keras_tricks.diagnostics.FineTuneOptimizer):
            return  # needs a model's layers: covered in tests/diagnostics
        variable = keras.Variable([1.0, -2.0, 0.5])
        built.apply([keras.ops.convert_to_tensor([0.1, -0.3, 0.0])], [variable])
        _finite(variable, f"{name}.apply")
    elif isinstance(built, keras.layers.Layer):
        # training=True: where a random layer does its work.
        _finite(built(INPUTS.get(name, IMAGE), training=True), f"{name}(training=True)")
    elif isinstance(built, numbers.Number) and not isinstance(built, bool):
        _finite(built, name)


# --- building (bounded: a hang fails, see tests/helpers/bounded.py) ---------


def _build(obj, kwargs):
    if inspect.isclass(obj) and issubclass(
        obj, keras.layers.Layer | keras.optimizers.Optimizer
    ):
        return obj(**kwargs)  # cheap: no thread
    return bounded(lambda: obj(**kwargs))


# --- the matrix --------------------------------------------------------------


def _bad_values(kind, default):
    values = [NAN, INF, -INF, -1 if kind == "int" else -1.0, True, "1", None]
    if kind == "bool":
        values = [NAN, INF, -INF, -1, "False", None]
    if kind == "pair":  # a NaN or an infinity at either end, or no pair at all
        values = [(NAN, 1.0), (0.0, INF), (-INF, 1.0), NAN, True, "1", None]
    return [v for v in values if not _same(v, default)]


def _cases():
    cases = []
    for sub, name, obj in _public_objects():
        for parameter, (kind, default) in _numeric_parameters(name, obj).items():
            for value in _bad_values(kind, default):
                case_id = f"{sub}.{name}-{parameter}={value!r}"
                reason = KNOWN_BUGS.get((name, parameter, repr(value)))
                marks = (
                    [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                )
                cases.append(
                    pytest.param(name, obj, parameter, value, marks=marks, id=case_id)
                )
    return cases


CASES = _cases()


def test_every_subpackage_is_enrolled():
    enrolled = {case.values[0] for case in CASES}
    for sub in SUBPACKAGES:
        module = importlib.import_module(f"keras_tricks.{sub}")
        assert enrolled & set(module.__all__), sub
    # The ones the issue names are among them.
    assert {
        "CyclicalLearningRate",
        "Warmup",
        "LRFinder",
        "scale_learning_rate",
        "AdaBelief",
        "GroupNormalization",
        "RandomAffine",
        "RandomPhotometric",
    } <= enrolled


def test_known_bugs_and_acceptances_name_real_cases():
    ids = {(case.values[0], case.values[2], repr(case.values[3])) for case in CASES}
    ids |= {(case.values[0], case.values[2], "any float") for case in _float_cases()}
    assert set(KNOWN_BUGS) <= ids, set(KNOWN_BUGS) - ids
    for (who, argument, value), reason in ACCEPTED.items():
        assert reason
        assert any(
            (who in ("*", case.values[0]))
            and case.values[2] == argument
            and _same(case.values[3], value)
            for case in CASES
        ), (who, argument, value)


@pytest.mark.parametrize("name, obj, parameter, value", CASES)
def test_bad_numeric_argument(name, obj, parameter, value):
    kwargs = REQUIRED.get(name, dict)()
    kwargs[parameter] = value
    try:
        built = _build(obj, kwargs)
    except (ValueError, TypeError) as error:
        message = str(error)
        assert parameter in message, f"the error does not name `{parameter}`: {message}"
        # A pair may be reported whole or by its bad element (`_checks.check_pair`
        # says `Received: value_range=inf` for `(0.0, inf)`).
        shown = (
            [value] + [v for v in value if not math.isfinite(v)]
            if isinstance(value, tuple)
            else [value]
        )
        assert any(repr(v) in message or str(v) in message for v in shown), (
            f"the error does not give the value {value!r}: {message}"
        )
        return
    assert _accepted(name, parameter, value), (
        f"{name}({parameter}={value!r}) was accepted silently"
    )
    _use_once(name, built)


# --- Hypothesis: any float, for every float argument ------------------------

_FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64)
_HYPOTHESIS_SUBPACKAGES = {"schedules", "callbacks", "optimizers", "layers"}


def _float_cases():
    cases = []
    for sub, name, obj in _public_objects():
        if sub not in _HYPOTHESIS_SUBPACKAGES or name in ("LRFinderResult", "get"):
            continue
        for parameter, (kind, _) in _numeric_parameters(name, obj).items():
            if kind == "float":
                reason = KNOWN_BUGS.get((name, parameter, "any float"))
                marks = (
                    [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
                )
                cases.append(
                    pytest.param(
                        name, obj, parameter, marks=marks, id=f"{name}-{parameter}"
                    )
                )
    return cases


@pytest.mark.parametrize("name, obj, parameter", _float_cases())
def test_any_float_is_refused_by_name_or_gives_finite_output(name, obj, parameter):
    @settings(
        max_examples=12,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(value=_FLOATS)
    def check(value):
        kwargs = REQUIRED.get(name, dict)()
        kwargs[parameter] = value
        try:
            built = _build(obj, kwargs)
        except (ValueError, TypeError) as error:
            assert parameter in str(error), str(error)
            return
        assert math.isfinite(value), f"{name}({parameter}={value!r}) was accepted"
        _use_once(name, built)

    check()
