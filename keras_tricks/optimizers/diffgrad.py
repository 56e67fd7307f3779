"""DiffGrad: Adam with a friction coefficient from the change in the gradient."""

import keras
from keras import ops

from keras_tricks.optimizers import _math, _xla
from keras_tricks.optimizers._base import AdaptiveMoments, is_empty


@keras.saving.register_keras_serializable(package="keras_tricks")
class DiffGrad(AdaptiveMoments):
    """diffGrad: Adam whose step shrinks where the gradient stops changing.

    Each element's Adam step is multiplied by a friction coefficient
    `xi = sigmoid(|g_prev - g|)`, between 0.5 (the gradient did not change, as
    near an optimum) and 1 (it changed a lot). Use it as a drop-in for Adam,
    the paper reports it on image classification. Per variable, with
    `bc1 = 1 - beta_1**t`, `bc2 = 1 - beta_2**t`:

    ```
    g = g + l2_weight_decay * theta
    m = beta_1 * m + (1 - beta_1) * g
    v = beta_2 * v + (1 - beta_2) * g**2          # v = max(v_hat, v) if amsgrad
    xi = sigmoid(|g_prev - g|) ; g_prev = g        # g_prev starts at 0
    theta = theta - lr * sqrt(bc2) / bc1 * m * xi / (sqrt(v) + epsilon)
    ```

    Defaults follow the authors' corrected `diffGrad_v2.py`.

    Args:
        learning_rate: float >= 0, a `keras.optimizers.schedules.LearningRateSchedule`
            or a callable returning the rate. Defaults to `0.001`.
        beta_1: float in [0, 1), decay of the first moment. Defaults to `0.9`.
        beta_2: float in [0, 1), decay of the second moment. Defaults to `0.999`.
        epsilon: float >= 0 added to `sqrt(v)`. Values below 1.18e-38 (the
            smallest normal float32), `0` included, act as 1.18e-38.
            Defaults to `1e-8`.
        amsgrad: bool, divide by the running maximum of `v` (Reddi et al., 2018).
            Defaults to `False`.
        l2_weight_decay: float >= 0, coupled (L2) weight decay: adds
            `l2_weight_decay * theta` to the gradient before the moments, as the
            reference code's `weight_decay` does. Defaults to `0.0`.
        weight_decay: float >= 0 or `None`, the base optimizer's decoupled decay
            `theta -= lr * weight_decay * theta` before each step. Defaults to
            `None`.
        **kwargs: the other base optimizer arguments (`clipnorm`, `clipvalue`,
            `global_clipnorm`, `use_ema`, `ema_momentum`, `name`, ...).

    Example:
    >>> optimizer = keras_tricks.optimizers.DiffGrad(learning_rate=1e-3)
    >>> model.compile(optimizer=optimizer, loss="mse")  # doctest: +SKIP

    Note:
        The authors' first release stored a reference to the gradient instead
        of a copy, so `xi` was always `sigmoid(0) = 0.5` (a halved Adam step);
        `diffGrad_v2.py` fixed it, and this class follows v2. Some third-party
        ports compute plain Adam. `g_prev` holds the gradient after the L2
        term, as in the reference. A NaN gradient does not raise: it turns the
        moments, `g_prev` and the variable NaN, as Keras's `Adam` does (under
        `LossScaleOptimizer`, non-finite steps are skipped). `g_prev`
        turns NaN everywhere once the variable's first element is NaN or
        infinite: the new `g_prev` is written as `g + 0 * theta.flat[0]`, which
        lets XLA overwrite the slot in place instead of copying it first.

    Reference:
    - [Dubey et al., 2019](https://arxiv.org/abs/1909.11015)
    """

    _extra_slots = (("previous_gradient", "zeros"),)

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        amsgrad=False,
        l2_weight_decay=0.0,
        weight_decay=None,
        name=None,
        **kwargs,
    ):
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

    def update_step(self, gradient, variable, learning_rate):
        if is_empty(variable):
            return  # nothing to update (and Keras's `ops.add` fails on (0, n))
        index, g, t = self._gradient_and_step(gradient, variable)
        d = self._first_moment_input(g, variable, index, t)
        m = self._update_moment("momentum", index, d, self._beta_1)
        v = self._update_moment("velocity", index, g * g, self._beta_2)
        v = self._amsgrad(index, v)
        previous_gradient = self._slot("previous_gradient", index)
        # xi = sigmoid(|g_prev - g|)
        xi = _math.diffgrad_friction(g, previous_gradient.value)
        lr = ops.cast(learning_rate, g.dtype)
        alpha = _math.adam_step_size(lr, self._beta_1, self._beta_2, t)
        self._apply_update(
            variable, index, alpha * m / (ops.sqrt(v) + self._epsilon) * xi
        )
        # g_prev = g, written after the update read the old g_prev (_xla).
        theta = ops.cast(ops.convert_to_tensor(variable), g.dtype)
        self.assign(previous_gradient, _xla.written_after(g, theta))
