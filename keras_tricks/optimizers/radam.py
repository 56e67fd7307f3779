"""RAdam: Adam with the variance of its adaptive step rectified."""

import keras
from keras import ops

from keras_tricks.optimizers import _math
from keras_tricks.optimizers._base import AdaptiveMoments, check_flag, is_empty


@keras.saving.register_keras_serializable(package="keras_tricks")
class RAdam(AdaptiveMoments):
    """Rectified Adam: Adam without the need for a learning-rate warmup.

    Early in training the second moment rests on few samples, and Adam's
    adaptive step has a large variance. RAdam multiplies the step by a
    rectification term `r_t` that corrects that variance, and while too few
    steps have been seen (`rho_t < 5`) takes plain momentum steps (or none).
    Per variable, with `bc1 = 1 - beta_1**t`, `bc2 = 1 - beta_2**t`:

    ```
    g = g + l2_weight_decay * theta
    m = beta_1 * m + (1 - beta_1) * g ; v = beta_2 * v + (1 - beta_2) * g**2
    rho_inf = 2 / (1 - beta_2) - 1 ; rho_t = rho_inf - 2 t beta_2**t / bc2
    rho_t >= 5: r_t = sqrt(bc2 (rho_t-4)(rho_t-2) rho_inf
                           / ((rho_inf-4)(rho_inf-2) rho_t))
                theta -= lr * r_t / bc1 * m / (sqrt(v) + epsilon)
    rho_t < 5:  theta -= lr / bc1 * m   if degenerated_to_sgd, else no step
    ```

    Defaults follow the authors' `radam.py` (epsilon `1e-8`, decoupled weight
    decay through `weight_decay`).

    Args:
        learning_rate: float >= 0, a `keras.optimizers.schedules.LearningRateSchedule`
            or a callable returning the rate. Defaults to `0.001`.
        beta_1: float in [0, 1), decay of the first moment. Defaults to `0.9`.
        beta_2: float in [0, 1), decay of the second moment. Defaults to `0.999`.
        epsilon: float >= 0 added to `sqrt(v)`. Values below 1.18e-38 (the
            smallest normal float32), `0` included, act as 1.18e-38.
            Defaults to `1e-8`.
        amsgrad: bool, divide by the running maximum of `v`. Defaults to `False`.
        degenerated_to_sgd: bool, take bias-corrected momentum SGD steps while
            `rho_t < 5` (else no step). Defaults to `True`.
        l2_weight_decay: float >= 0, coupled (L2) weight decay added to the
            gradient before the moments. Defaults to `0.0`.
        weight_decay: float >= 0 or `None`, decoupled decay
            `theta -= lr * weight_decay * theta`, what `radam.py`'s
            `weight_decay` does. Defaults to `None`.
        **kwargs: the other base optimizer arguments (`clipnorm`, `use_ema`, ...).

    Example:
    >>> optimizer = keras_tricks.optimizers.RAdam(learning_rate=1e-3)
    >>> model.compile(optimizer=optimizer, loss="mse")  # doctest: +SKIP

    Note:
        `torch.optim.RAdam` and TF Addons' `RectifiedAdam` always take the
        momentum step while `rho_t < 5` (`degenerated_to_sgd=True` here).
        TF Addons adds epsilon to the bias-corrected `sqrt(v / bc2)` (here, as
        in `radam.py`, to `sqrt(v)`) and defaults to `1e-7`; it also had a
        built-in warmup (`total_steps`, `warmup_proportion`, `min_lr`), which
        in keras_tricks belongs to a learning-rate schedule. `radam.py` skips
        its decoupled decay on steps that make no update; Keras's base
        optimizer applies `weight_decay` on every step. A NaN gradient does not
        raise: it turns `m`, `v` and the variable NaN, as Keras's `Adam` does.

    Reference:
    - [Liu et al., 2019](https://arxiv.org/abs/1908.03265)
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        amsgrad=False,
        degenerated_to_sgd=True,
        l2_weight_decay=0.0,
        weight_decay=None,
        name=None,
        **kwargs,
    ):
        check_flag("degenerated_to_sgd", degenerated_to_sgd)
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
        self.degenerated_to_sgd = degenerated_to_sgd

    def update_step(self, gradient, variable, learning_rate):
        if is_empty(variable):
            return  # nothing to update (and Keras's `ops.add` fails on (0, n))
        index, g, t = self._gradient_and_step(gradient, variable)
        d = self._first_moment_input(g, variable, index, t)
        m = self._update_moment("momentum", index, d, self._beta_1)
        v = self._update_moment("velocity", index, g * g, self._beta_2)
        v = self._amsgrad(index, v)
        # rho_t >= 5: a = lr * r_t / bc1, b = 0; rho_t < 5: a = 0, b = lr / bc1
        # (or 0 without degenerated_to_sgd).
        a, b = _math.rectified_coefficients(
            ops.cast(learning_rate, g.dtype),
            self._beta_1,
            self._beta_2,
            t,
            self.degenerated_to_sgd,
            g.dtype,
        )
        self._apply_update(variable, index, m * (a / (ops.sqrt(v) + self._epsilon) + b))

    def get_config(self):
        config = super().get_config()
        config["degenerated_to_sgd"] = self.degenerated_to_sgd
        return config
