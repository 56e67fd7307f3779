"""Each optimizer against a float64 NumPy version of its paper's equations.

The references below are written from the equations in the papers and the
authors' code (as pinned in shared/REFERENCES.md), not from keras_tricks:
- diffGrad: Dubey et al., 2019, https://arxiv.org/abs/1909.11015 (diffGrad_v2)
- AdaBelief: Zhuang et al., 2020, https://arxiv.org/abs/2010.07468
- RAdam: Liu et al., 2019, https://arxiv.org/abs/1908.03265
- AngularGrad: Roy et al., 2021, https://arxiv.org/abs/2105.10190
- AdaInject: Dubey et al., 2022, https://arxiv.org/abs/2109.12504
- AMSGrad: Reddi et al., 2018, https://openreview.net/forum?id=ryQu7f-RZ
"""

import keras
import numpy as np
import pytest

from keras_tricks import optimizers
from keras_tricks.optimizers import _xla
from tests.optimizers.conftest import apply_steps, numpy, tensor

SHAPES = [(4, 3), (5,), (2, 2, 3)]
STEPS = 100
LR = 0.01


class NumpyReference:
    """One optimizer's update, literally as the papers write it, in float64."""

    def __init__(self, kind, **options):
        self.kind = kind
        self.b1 = options.get("beta_1", 0.9)
        self.b2 = options.get("beta_2", 0.999)
        self.eps = options["epsilon"]
        self.amsgrad = options.get("amsgrad", False)
        self.l2 = options.get("l2_weight_decay", 0.0)
        self.wd = options.get("weight_decay")
        self.rectify = options.get("rectify", kind in ("radam",))
        self.sgd = options.get("degenerated_to_sgd", True)
        self.method = options.get("method", "cos")
        self.inject_from = options.get("inject_from")
        self.k = 2.0
        self.state = {}

    def _rectified_step(self, m, v, t):
        # RAdam (Liu et al., 2019), Algorithm 2.
        b2 = self.b2
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2**t / (1 - b2**t)
        bc1, bc2 = 1 - self.b1**t, 1 - b2**t
        if rho_t >= 5:
            r = np.sqrt(
                bc2
                * (rho_t - 4)
                * (rho_t - 2)
                * rho_inf
                / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
            )
            return r / bc1 * m / (np.sqrt(v) + self.eps)
        return m / bc1 if self.sgd else np.zeros_like(m)

    def step(self, i, theta, g, t):
        st = self.state.setdefault(i, {})
        zeros = np.zeros_like(theta)
        if self.wd:
            theta = theta - LR * self.wd * theta  # decoupled, before the step
        g = g + self.l2 * theta  # coupled L2
        d = g
        if self.inject_from is not None:  # AdaInject
            previous = st.get("theta_prev", zeros)
            if t >= self.inject_from:
                d = (g + (previous - theta) * g * g) / self.k
            st["theta_prev"] = theta.copy()
        m = self.b1 * st.get("m", zeros) + (1 - self.b1) * d
        st["m"] = m
        if self.kind.startswith("adabelief"):
            v = self.b2 * st.get("v", zeros) + (1 - self.b2) * (g - m) ** 2 + self.eps
        else:
            v = self.b2 * st.get("v", zeros) + (1 - self.b2) * g * g
        st["v"] = v
        if self.amsgrad:
            v = np.maximum(st.get("v_max", zeros), v)
            st["v_max"] = v
        bc1, bc2 = 1 - self.b1**t, 1 - self.b2**t
        adam = np.sqrt(bc2) / bc1 * m / (np.sqrt(v) + self.eps)
        g_prev = st.get("g_prev", zeros)
        st["g_prev"] = g.copy()
        if self.kind in ("adam", "diffgrad"):
            scale = 1.0
            if self.kind == "diffgrad":
                scale = 1 / (1 + np.exp(-np.abs(g_prev - g)))
            update = adam * scale
        elif self.kind == "angulargrad":
            tan = np.abs((g_prev - g) / (1 + g_prev * g))
            cos = 1 / np.sqrt(1 + tan**2)
            angle = np.degrees(np.arctan(tan))
            min_angle = st.get("min_angle", zeros)
            if np.mean(angle > min_angle) < 0.5:
                st["min_angle"] = angle
                st["final"] = cos if self.method == "cos" else tan
            phi = 0.5 * np.tanh(np.abs(st.get("final", zeros))) + 0.5
            update = adam * phi
        elif self.kind.startswith("adabelief") and not self.rectify:
            update = m / bc1 / (np.sqrt(v) / np.sqrt(bc2) + self.eps)
        else:
            update = self._rectified_step(m, v, t)
        return theta - LR * update


CASES = [
    ("DiffGrad", "diffgrad", {}),
    ("DiffGrad", "diffgrad", {"amsgrad": True, "l2_weight_decay": 0.05}),
    ("DiffGrad", "diffgrad", {"weight_decay": 0.1}),
    ("AdaBelief", "adabelief", {}),
    ("AdaBelief", "adabelief", {"rectify": False}),
    ("AdaBelief", "adabelief", {"rectify": False, "amsgrad": True, "epsilon": 1e-14}),
    (
        "AdaBelief",
        "adabelief",
        {
            "amsgrad": True,
            "degenerated_to_sgd": False,
            "l2_weight_decay": 0.05,
            "weight_decay": 0.1,
        },
    ),
    ("RAdam", "radam", {}),
    (
        "RAdam",
        "radam",
        {"degenerated_to_sgd": False, "amsgrad": True, "l2_weight_decay": 0.05},
    ),
    ("RAdam", "radam", {"weight_decay": 0.1, "beta_2": 0.99}),
    ("AngularGrad", "angulargrad", {"method": "cos"}),
    (
        "AngularGrad",
        "angulargrad",
        {"method": "tan", "amsgrad": True, "weight_decay": 0.1},
    ),
    ("AngularGrad", "angulargrad", {"method": "cos", "l2_weight_decay": 0.05}),
    ("AdamInject", "adam", {"inject_from": 2, "amsgrad": True, "weight_decay": 0.1}),
    ("DiffGradInject", "diffgrad", {"inject_from": 2, "l2_weight_decay": 0.05}),
    ("AdaBeliefInject", "adabelief", {"inject_from": 2}),
    ("AdaBeliefInject", "adabelief", {"inject_from": 2, "rectify": False}),
    ("RAdamInject", "radam", {"inject_from": 3}),
    (
        "RAdamInject",
        "radam",
        {
            "inject_from": 3,
            "amsgrad": True,
            "l2_weight_decay": 0.05,
            "weight_decay": 0.1,
        },
    ),
    (
        "AdaBeliefInject",
        "adabelief",
        {"inject_from": 2, "amsgrad": True, "weight_decay": 0.1},
    ),
]


def _case_id(case):
    name, _, options = case
    return name + "".join(f"-{k}={v}" for k, v in options.items() if k != "inject_from")


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_matches_numpy_reference_over_100_steps(case):
    name, kind, options = case
    kwargs = {k: v for k, v in options.items() if k != "inject_from"}
    optimizer = getattr(optimizers, name)(learning_rate=LR, **kwargs)
    defaults = optimizer.get_config()
    reference_options = {
        "epsilon": defaults["epsilon"],
        "rectify": defaults.get("rectify", kind == "radam"),
        **options,
    }
    reference = NumpyReference(kind, **reference_options)
    rng = np.random.default_rng(0)
    start = [rng.normal(size=shape) for shape in SHAPES]
    grads = [rng.normal(size=(STEPS, *shape)) for shape in SHAPES]
    # Every tenth step one tensor's gradient repeats the previous one, so that
    # diffGrad's friction and AngularGrad's angle take their extreme values.
    grads[1][9::10] = grads[1][8::10]
    variables = [keras.Variable(x.astype("float32")) for x in start]

    apply_steps(optimizer, variables, grads)
    expected = [x.copy() for x in start]
    for t in range(1, STEPS + 1):
        expected = [
            reference.step(i, theta, g[t - 1], t)
            for i, (theta, g) in enumerate(zip(expected, grads, strict=True))
        ]
    for variable, want in zip(variables, expected, strict=True):
        np.testing.assert_allclose(numpy(variable), want, rtol=1e-5, atol=1e-6)
    # The parameters moved well beyond the tolerance.
    assert max(np.abs(w - s).max() for w, s in zip(expected, start, strict=True)) > 0.01


# TF Addons' published test values (shared/REFERENCES.md): 100 steps on
# vars [1, 2] and [3, 4] with constant grads [0.1, 0.2] and [0.03, 0.04], lr 1e-3.
GOLDEN = [
    ("RAdam", {"epsilon": 1e-7}, [[0.985769, 1.985269], [2.986119, 3.986068]]),
    (
        "RAdam",
        {"epsilon": 1e-7, "weight_decay": 0.01},
        [[0.984775, 1.983276], [2.983125, 3.982076]],
    ),
    (
        "AdaBelief",
        {"epsilon": 1e-14, "rectify": False},
        [[0.66723955, 1.6672393], [2.6672382, 3.6672382]],
    ),
    (
        "AdaBelief",
        {"epsilon": 1e-14, "rectify": False, "amsgrad": True},
        [[0.67249274, 1.6724932], [2.6724923, 3.6724923]],
    ),
]


@pytest.mark.parametrize("name, kwargs, golden", GOLDEN)
def test_tf_addons_golden_values(name, kwargs, golden):
    optimizer = getattr(optimizers, name)(learning_rate=1e-3, **kwargs)
    variables = [keras.Variable([1.0, 2.0]), keras.Variable([3.0, 4.0])]
    grads = [np.tile([0.1, 0.2], (100, 1)), np.tile([0.03, 0.04], (100, 1))]
    apply_steps(optimizer, variables, grads)
    atol = 2e-6
    if keras.backend.backend() == "torch" and kwargs.get("weight_decay"):
        # Keras's PyTorch backend decays as theta * (1 - lr * wd), TensorFlow
        # (and TF Addons) as theta - theta * lr * wd: over 100 steps the
        # float32 roundings part by up to 7e-6 on weights near 4.
        atol = 1e-5
    for variable, want in zip(variables, golden, strict=True):
        np.testing.assert_allclose(numpy(variable), want, rtol=1e-6, atol=atol)


@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (33,), (3, 5, 7), (64, 32)])
def test_count_true_is_exact_for_any_size(shape):
    # AngularGrad's per-tensor decision sums in blocks of up to 32 elements
    # (compiled by XLA on TensorFlow, where the blocks matter).
    rng = np.random.default_rng(1)
    mask = rng.random(shape) < 0.3
    count_true = _xla.count_true
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        count_true = tf.function(count_true, jit_compile=True)
    count = count_true(tensor(mask, "bool"))
    assert int(numpy(count)) == int(mask.sum())
