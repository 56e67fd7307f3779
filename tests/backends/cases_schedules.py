"""Cross-backend cases: the schedules, the LR callbacks and the range test.

Each schedule is evaluated over a range of integer steps (the optimizer's
counter) and of float steps; JAX and PyTorch must give TensorFlow's values to
float32 tolerance. Steps stay below 2**31, the int32 counter JAX keeps without
`jax_enable_x64`. The fits start from fixed weights and feed fixed data.
"""

import keras
import numpy as np

from keras_tricks.callbacks import CyclicalLR, LRFinder, WarmupLR
from keras_tricks.schedules import (
    CyclicalLearningRate,
    StepDecay,
    Warmup,
    global_batch_size,
    scale_learning_rate,
    scale_learning_rate_for_strategy,
)
from tests.backends._cases import case

# Every 7th step to 7,000, and steps past float32's 2**24 (exact int arithmetic).
INTEGER_STEPS = np.concatenate(
    [np.arange(0, 7000, 7), 2**24 + np.arange(0, 300, 3), 2**30 + np.arange(0, 300, 3)]
).astype("int32")
FLOAT_STEPS = np.linspace(0.0, 5000.0, 401).astype("float32")


def _values(schedule):
    steps = keras.ops.convert_to_tensor(INTEGER_STEPS, "int32")
    floats = keras.ops.convert_to_tensor(FLOAT_STEPS, "float32")
    return {
        "integer_steps": keras.ops.convert_to_numpy(schedule(steps)),
        "float_steps": keras.ops.convert_to_numpy(schedule(floats)),
        "python_int": np.asarray(float(schedule(2**24 + 1))),
    }


@case("schedules.CyclicalLearningRate.triangular")
def cyclical_triangular():
    return _values(CyclicalLearningRate(1e-3, 0.2, 37))


@case("schedules.CyclicalLearningRate.triangular2")
def cyclical_triangular2():
    return _values(CyclicalLearningRate(1e-3, 0.2, 250, mode="triangular2"))


@case("schedules.CyclicalLearningRate.exp_range")
def cyclical_exp_range():
    return _values(CyclicalLearningRate(1e-3, 0.2, 500, mode="exp_range", gamma=0.9997))


@case("schedules.StepDecay")
def step_decay():
    return _values(StepDecay(0.1, step_size=500, factor=0.5))


@case("schedules.Warmup.linear_cyclical")
def warmup_linear_cyclical():
    return _values(
        Warmup(CyclicalLearningRate(0.05, 0.3, 400), 500, initial_learning_rate=0.01)
    )


@case("schedules.Warmup.constant_step_decay")
def warmup_constant_step_decay():
    return _values(
        Warmup(
            StepDecay(0.3, 1000, 0.5), 500, initial_learning_rate=0.01, mode="constant"
        )
    )


@case("schedules.Warmup.linear_cosine")
def warmup_linear_cosine():
    cosine = keras.optimizers.schedules.CosineDecay(0.3, decay_steps=6000, alpha=0.01)
    return _values(Warmup(cosine, 500))


@case("schedules.scaling")
def scaling():
    # Off TensorFlow the replica count comes from `keras.distribution` (none
    # set: one), on TensorFlow from `tf.distribute.get_strategy()`.
    return {
        "scaled": np.asarray(scale_learning_rate(0.1, batch_size=8192)),
        "global_batch": np.asarray(global_batch_size(64)),
        "for_strategy": np.asarray(scale_learning_rate_for_strategy(0.1, 128)),
    }


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    y = (x @ np.array([[1.0], [-2.0], [0.5], [0.0]], "float32")).astype("float32")
    return x, y


def _model():
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="tanh"),
            keras.layers.Dense(1),
        ]
    )
    rng = np.random.default_rng(3)
    model.set_weights(
        [rng.normal(size=w.shape).astype("float32") * 0.5 for w in model.get_weights()]
    )
    model.compile(keras.optimizers.SGD(0.01, momentum=0.9), "mse")
    return model


def _fit(callback):
    x, y = _data()
    model = _model()
    history = model.fit(
        x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[callback]
    )
    weights = {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    rate = keras.ops.convert_to_numpy(model.optimizer.learning_rate)
    return {
        **weights,
        "learning_rate": rate,
        "epoch_rates": np.asarray(history.history["learning_rate"]),
    }


@case("callbacks.CyclicalLR.fit")
def cyclical_lr_fit():
    return _fit(CyclicalLR(0.01, 0.1, 5, mode="triangular2"))


@case("callbacks.WarmupLR.fit")
def warmup_lr_fit():
    return _fit(
        WarmupLR(StepDecay(0.08, 4, 0.5), warmup_steps=6, initial_learning_rate=0.005)
    )


@case("callbacks.LRFinder.find")
def lr_finder_find():
    x, y = _data()
    result = LRFinder(1e-4, 1.0, num_steps=12, verbose=0).find(
        _model(), x, y, batch_size=16
    )
    return {
        "learning_rates": result.learning_rates,
        "losses": result.losses,
        "smoothed_losses": result.smoothed_losses,
    }
