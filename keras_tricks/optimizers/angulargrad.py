"""AngularGrad: Adam scaled by the angle between consecutive gradients."""

import keras
from keras import ops

from keras_tricks._checks import check_choice
from keras_tricks.optimizers import _math, _xla
from keras_tricks.optimizers._base import AdaptiveMoments, is_empty


@keras.saving.register_keras_serializable(package="keras_tricks")
class AngularGrad(AdaptiveMoments):
    """AngularGrad: Adam whose step follows the angle between successive gradients.

    The angle between the previous and the current gradient (per element, from
    `tan = |(g_prev - g) / (1 + g_prev g)|`) measures how much the descent
    direction turns. AngularGrad keeps the smallest angle seen so far, moving
    it for a whole tensor only when fewer than half its elements exceed it, and
    scales Adam's step by `phi = 0.5 * tanh(|final|) + 0.5` where `final` is
    the cosine (`method="cos"`) or tangent (`method="tan"`) of that angle.
    Per variable, with `bc1 = 1 - beta_1**t`, `bc2 = 1 - beta_2**t`:

    ```
    g = g + l2_weight_decay * theta
    m = beta_1 * m + (1 - beta_1) * g ; v = beta_2 * v + (1 - beta_2) * g**2
    tan = |(g_prev - g) / (1 + g_prev g)| ; angle = degrees(atan(tan))
    if mean(angle > min_angle) < 0.5:          # decided per tensor
        min_angle = angle ; final = cos(angle) (or tan)
    phi = 0.5 * tanh(|final|) + 0.5 ; g_prev = g
    theta -= lr * sqrt(bc2) / bc1 * m * phi / (sqrt(v) + epsilon)
    ```

    `min_angle`, `final` and `g_prev` start at 0. Defaults follow the authors'
    `cosangulargrad.py` and `tanangulargrad.py` (mhaut/AngularGrad).

    Args:
        learning_rate: float >= 0, a `keras.optimizers.schedules.LearningRateSchedule`
            or a callable returning the rate. Defaults to `0.001`.
        method: `"cos"` or `"tan"`, which function of the angle scales the step.
            Defaults to `"cos"`.
        beta_1: float in [0, 1), decay of the first moment. Defaults to `0.9`.
        beta_2: float in [0, 1), decay of the second moment. Defaults to `0.999`.
        epsilon: float >= 0 added to `sqrt(v)`. Values below 1.18e-38 (the
            smallest normal float32), `0` included, act as 1.18e-38.
            Defaults to `1e-8`.
        amsgrad: bool, divide by the running maximum of `v`. Defaults to `False`.
        l2_weight_decay: float >= 0, coupled (L2) weight decay added to the
            gradient before the moments, as the reference's `weight_decay`.
            Defaults to `0.0`.
        weight_decay: float >= 0 or `None`, the base optimizer's decoupled
            decay. Defaults to `None`.
        **kwargs: the other base optimizer arguments (`clipnorm`, `use_ema`, ...).

    Example:
    >>> optimizer = keras_tricks.optimizers.AngularGrad(method="tan")
    >>> model.compile(optimizer=optimizer, loss="mse")  # doctest: +SKIP

    Note:
        The state is stored as one tensor, `min_tangent`, instead of the
        reference's `min_angle` and `final`: both are functions of the tangent
        at the step the angle last moved (`min_angle = degrees(atan(.))`, and
        `atan` is increasing), and `-1` marks "never moved". This saves a
        tensor of reads and writes per step. `g_prev` holds the gradient after
        the L2 term. A NaN gradient does not raise: `m`, `v` and the variable
        turn NaN as with Keras's `Adam`; NaN tangents count as "not above", so
        the angle state may take NaN too. `g_prev` turns NaN everywhere once
        the first element of the angle state is NaN: it is written as
        `g + 0 * min_tangent.flat[0]`, which lets XLA overwrite it in place
        instead of copying it first.

    Reference:
    - [Roy et al., 2021](https://arxiv.org/abs/2105.10190)
    """

    _extra_slots = (
        ("previous_gradient", "zeros"),
        ("min_tangent", keras.initializers.Constant(-1.0)),
    )

    def __init__(
        self,
        learning_rate=0.001,
        method="cos",
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        amsgrad=False,
        l2_weight_decay=0.0,
        weight_decay=None,
        name=None,
        **kwargs,
    ):
        check_choice("method", method, ("cos", "tan"))
        super().__init__(
            learning_rate=learning_rate,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            amsgrad=amsgrad,
            l2_weight_decay=l2_weight_decay,
            weight_decay=weight_decay,
            name=name,
            **kwargs,
        )
        self.method = method

    def update_step(self, gradient, variable, learning_rate):
        if is_empty(variable):
            return  # nothing to update (and Keras's `ops.add` fails on (0, n))
        index, g, t = self._gradient_and_step(gradient, variable)
        m = self._update_moment("momentum", index, g, self._beta_1)
        v = self._update_moment("velocity", index, g * g, self._beta_2)
        v = self._amsgrad(index, v)
        previous_gradient = self._slot("previous_gradient", index)
        min_tangent = self._slot("min_tangent", index)
        # The tangent, the per-tensor decision, the new angle state and phi.
        phi, new_min_tangent = _math.angular_coefficient(
            g, previous_gradient.value, min_tangent.value, self.method
        )
        self.assign(min_tangent, new_min_tangent)
        lr = ops.cast(learning_rate, g.dtype)
        alpha = _math.adam_step_size(lr, self._beta_1, self._beta_2, t)
        self._apply_update(
            variable, index, alpha * m / (ops.sqrt(v) + self._epsilon) * phi
        )
        # g_prev = g, written after the angle state read the old g_prev (_xla).
        self.assign(previous_gradient, _xla.written_after(g, min_tangent.value))

    def get_config(self):
        config = super().get_config()
        config["method"] = self.method
        return config
