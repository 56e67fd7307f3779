"""Pruning schedules against the TF Model Optimization formulas.

Zhu & Gupta, 2017 (arXiv 1710.01878), eq. 1, in TFMOT's form:
p = clip((s - begin) / (end - begin), 0, 1);
sparsity = final + (initial - final) * (1 - p) ** power; pruning happens at
s >= begin, s <= end (or end == -1), (s - begin) % frequency == 0.
"""

import json

import keras
import numpy as np
import pytest

from keras_tricks.pruning import ConstantSparsity, PolynomialDecay, PruningSchedule


def _reference_should_prune(s, begin, end, frequency):
    return s >= begin and (s <= end or end == -1) and (s - begin) % frequency == 0


def _reference_polynomial(s, initial, final, begin, end, power):
    p = np.clip((np.float64(s) - begin) / (end - begin), 0.0, 1.0)
    return final + (initial - final) * (1.0 - p) ** power


def test_polynomial_decay_matches_the_formula_for_python_and_tensor_steps():
    schedule = PolynomialDecay(
        0.1, 0.8, begin_step=10, end_step=110, power=3, frequency=20
    )
    steps = np.arange(0, 140)
    expected = [_reference_polynomial(s, 0.1, 0.8, 10, 110, 3) for s in steps]
    python = [schedule.sparsity(int(s)) for s in steps]
    tensor = keras.ops.convert_to_numpy(
        schedule.sparsity(keras.ops.convert_to_tensor(steps))
    )
    np.testing.assert_allclose(python, expected, rtol=1e-12)
    np.testing.assert_allclose(tensor, expected, rtol=1e-6, atol=1e-7)
    flags = [_reference_should_prune(s, 10, 110, 20) for s in steps]
    assert [schedule.should_prune(int(s)) for s in steps] == flags
    tensor_flags = keras.ops.convert_to_numpy(
        schedule.should_prune(keras.ops.convert_to_tensor(steps))
    )
    assert tensor_flags.tolist() == flags


def test_constant_sparsity_with_and_without_end():
    schedule = ConstantSparsity(0.6, begin_step=5, end_step=-1, frequency=3)
    steps = range(0, 40)
    assert [schedule.should_prune(s) for s in steps] == [
        _reference_should_prune(s, 5, -1, 3) for s in steps
    ]
    assert schedule(8) == (True, 0.6)
    bounded = ConstantSparsity(0.6, begin_step=5, end_step=11, frequency=3)
    assert [s for s in steps if bounded.should_prune(s)] == [5, 8, 11]
    should, sparsity = bounded(keras.ops.convert_to_tensor(14))
    assert not bool(should) and float(sparsity) == pytest.approx(0.6)


@pytest.mark.tf_only
def test_schedule_runs_inside_a_compiled_function():
    import tensorflow as tf

    schedule = PolynomialDecay(0.0, 0.5, begin_step=0, end_step=100, frequency=10)

    @tf.function(jit_compile=True)
    def at(step):
        return schedule(step)

    should, sparsity = at(tf.constant(50, tf.int64))
    assert bool(should)
    assert float(sparsity) == pytest.approx(
        _reference_polynomial(50, 0.0, 0.5, 0, 100, 3)
    )


@pytest.mark.parametrize(
    "schedule",
    [
        ConstantSparsity(0.3, begin_step=2, end_step=50, frequency=4),
        PolynomialDecay(0.0, 0.9, begin_step=1, end_step=30, power=2, frequency=5),
    ],
)
def test_config_round_trip_and_registration(schedule):
    config = schedule.get_config()
    json.dumps(config)
    assert type(schedule).from_config(config).get_config() == config
    serialized = keras.saving.serialize_keras_object(schedule)
    assert serialized["registered_name"] == f"keras_tricks>{type(schedule).__name__}"
    revived = keras.saving.deserialize_keras_object(serialized)
    assert revived.get_config() == config


def test_base_schedule_is_abstract():
    with pytest.raises(NotImplementedError):
        PruningSchedule().sparsity(0)


@pytest.mark.parametrize(
    "make, match",
    [
        (
            lambda: ConstantSparsity(1.0),
            r"target_sparsity.*\[0.0, 1.0\).*Received: target_sparsity=1.0",
        ),
        (lambda: ConstantSparsity(-0.1), r"Received: target_sparsity=-0.1"),
        (
            lambda: ConstantSparsity(0.5, frequency=0),
            r"frequency.*>= 1.*Received: frequency=0",
        ),
        (lambda: ConstantSparsity(0.5, begin_step=-1), r"Received: begin_step=-1"),
        (
            lambda: ConstantSparsity(0.5, begin_step=10, end_step=5),
            r"end_step.*>= `begin_step`.*Received: end_step=5",
        ),
        (lambda: PolynomialDecay(0.0, 1.0, 0, 10), r"Received: final_sparsity=1.0"),
        (lambda: PolynomialDecay(1.2, 0.5, 0, 10), r"Received: initial_sparsity=1.2"),
        (lambda: PolynomialDecay(0.0, 0.5, 20, 10), r"Received: end_step=10"),
        (lambda: PolynomialDecay(0.0, 0.5, 0, -1), r"Received: end_step=-1"),
        (
            lambda: PolynomialDecay(0.0, 0.5, 0, 10, frequency=-3),
            r"Received: frequency=-3",
        ),
        (lambda: PolynomialDecay(0.0, 0.5, 0, 10, power=0), r"Received: power=0"),
        (
            lambda: ConstantSparsity(0.5, frequency=2.5),
            r"integer.*Received: frequency=2.5",
        ),
        (
            lambda: ConstantSparsity(0.5, begin_step="0"),
            r"integer.*Received: begin_step='0'",
        ),
        (
            lambda: ConstantSparsity("0.5"),
            r"real number.*Received: target_sparsity='0.5'",
        ),
    ],
)
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


_ARGUMENTS = {
    "target_sparsity": lambda v: ConstantSparsity(v),
    "initial_sparsity": lambda v: PolynomialDecay(v, 0.5, 0, 10),
    "final_sparsity": lambda v: PolynomialDecay(0.0, v, 0, 10),
    "power": lambda v: PolynomialDecay(0.0, 0.5, 0, 10, power=v),
    "begin_step": lambda v: ConstantSparsity(0.5, begin_step=v),
    "end_step": lambda v: PolynomialDecay(0.0, 0.5, 0, v),
    "frequency": lambda v: ConstantSparsity(0.5, frequency=v),
}


@pytest.mark.parametrize("name", sorted(_ARGUMENTS))
@pytest.mark.parametrize(
    "value", [float("nan"), float("inf"), float("-inf"), True, "1"]
)
def test_every_argument_refuses_nan_infinity_bool_and_string(name, value):
    with pytest.raises(ValueError, match=rf"`{name}`.*Received: {name}={value!r}"):
        _ARGUMENTS[name](value)


@pytest.mark.parametrize("step", [float("nan"), float("inf"), True, "3"])
def test_schedules_refuse_a_bad_step(step):
    for schedule in (ConstantSparsity(0.5), PolynomialDecay(0.0, 0.5, 0, 10)):
        with pytest.raises(ValueError, match=rf"`step`.*Received: step={step!r}"):
            schedule(step)
    assert float(PolynomialDecay(0.0, 0.5, 0, 10).sparsity(5.0)) == pytest.approx(
        0.4375
    )
