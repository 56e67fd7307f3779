"""Cross-backend cases for keras_tricks.optimizers: weights and slots after seven steps.

Each optimizer starts from fixed weights and takes seven `apply_gradients`
steps with fixed gradients (NumPy, no Keras random), past every scalar switch:
the injection start (step 2 or 3), the rectification (`rho_t >= 5` from step
6 with `beta_2=0.999`), AngularGrad's per-tensor angle decision. Step 4 repeats
step 3's gradient, so diffGrad's friction and AngularGrad's angle reach their
extremes. Both weight decays are on.
"""

import keras
import numpy as np

from keras_tricks import optimizers
from tests.backends._cases import case

STEPS = 7
SHAPES = ((4, 3), (5,))


def _steps(cls, dtype="float32", **kwargs):
    """The weights and every slot after `STEPS` steps, as float32 NumPy arrays."""
    rng = np.random.default_rng(21)
    start = [rng.normal(size=s) for s in SHAPES]
    grads = [rng.normal(size=(STEPS, *s)) for s in SHAPES]
    for g in grads:
        g[3] = g[2]  # a repeated gradient: zero change, zero angle
    variables = [keras.Variable(x, dtype=dtype) for x in start]
    optimizer = cls(
        learning_rate=0.05, weight_decay=0.01, l2_weight_decay=0.01, **kwargs
    )
    for t in range(STEPS):
        step = [keras.ops.convert_to_tensor(g[t], dtype) for g in grads]
        optimizer.apply_gradients(zip(step, variables, strict=True))
    result = {f"weight_{i}": _numpy(v) for i, v in enumerate(variables)}
    for name, slots in optimizer._slots.items():
        for i, slot in enumerate(slots):
            result[f"{name}_{i}"] = _numpy(slot)
    return result


def _numpy(variable):
    return np.asarray(
        keras.ops.convert_to_numpy(keras.ops.cast(variable.value, "float32"))
    )


def _register(name, cls, rtol=1e-5, atol=1e-6, **kwargs):
    case(name, rtol=rtol, atol=atol)(lambda: _steps(cls, **kwargs))


# Every optimizer `get` knows by name, so a new one enrols here.
for _cls in sorted(
    {type(optimizers.get(n)) for n in optimizers.list_optimizers()},
    key=lambda c: c.__name__,
):
    _register(f"optimizers.{_cls.__name__}", _cls)
    # float16 variables: the float32 step rounded once per write, so two
    # backends may round a last-ulp difference apart: one float16 ulp at
    # |x| < 4 is 2**-8, about 4e-3.
    _register(f"optimizers.{_cls.__name__}.float16", _cls, atol=4e-3, dtype="float16")

# The branches the defaults do not take.
_register(
    "optimizers.AdaBelief.no_rectify_amsgrad",
    optimizers.AdaBelief,
    rectify=False,
    amsgrad=True,
)
_register(
    "optimizers.AngularGrad.tan_amsgrad",
    optimizers.AngularGrad,
    method="tan",
    amsgrad=True,
)
_register("optimizers.RAdam.no_sgd", optimizers.RAdam, degenerated_to_sgd=False)
