"""AdaInject: the parameter change injected into the first moment.

`_Injection` turns a moment optimizer into its AdaInject variant by overriding
three hooks of `AdaptiveMoments`: the first moment's input (the injected
gradient), the write of the update (kept for the next step) and the slots (one
more, `last_update`). The four public classes differ only in their base, so
they share this file.
"""

import keras
from keras import ops

from keras_tricks._checks import check_positive
from keras_tricks.optimizers import _math
from keras_tricks.optimizers._base import AdaptiveMoments, compute_dtype, is_empty
from keras_tricks.optimizers.adabelief import AdaBelief
from keras_tricks.optimizers.diffgrad import DiffGrad
from keras_tricks.optimizers.radam import RAdam


class _Injection:
    """Turns a moment optimizer into its AdaInject variant (Dubey et al., 2022).

    From step `_inject_start` on, the first moment averages
    `d = (g + (theta_prev - theta) * g**2) / injection_divisor` instead of `g`.
    """

    _inject_start = 2

    def __init__(self, *args, injection_divisor=2.0, **kwargs):
        check_positive("injection_divisor", injection_divisor)
        super().__init__(*args, **kwargs)
        self.injection_divisor = injection_divisor

    def _moment_slots(self):
        # The last update, from which theta_prev - theta is rebuilt.
        return super()._moment_slots() + [("last_update", "zeros")]

    def _first_moment_input(self, gradient, variable, index, step):
        """`d = g` before `_inject_start`, then `(g + (theta_prev - theta) g**2) /
        k`."""
        decay = None
        if self.weight_decay is not None and self._use_weight_decay(variable):
            # The decoupled decay the base class applied before this step.
            dtype = compute_dtype(variable)
            decay = ops.cast(self.learning_rate, dtype) * ops.cast(
                self.weight_decay, dtype
            )
        change = _math.parameter_change(
            self._slot("last_update", index).value, self._value(variable), decay
        )
        return _math.injected_gradient(
            gradient,
            change,
            step,
            self._inject_start,
            float(self.injection_divisor),
        )

    def _apply_update(self, variable, index, update):
        super()._apply_update(variable, index, update)
        self.assign(self._slot("last_update", index), update)

    def get_config(self):
        config = super().get_config()
        config["injection_divisor"] = self.injection_divisor
        return config


class _Adam(AdaptiveMoments):
    """Adam as PyTorch writes it (epsilon 1e-8 on `sqrt(v)`), the base of AdamInject.

    ```
    m = beta_1 * m + (1 - beta_1) * g ; v = beta_2 * v + (1 - beta_2) * g**2
    theta -= lr * sqrt(bc2) / bc1 * m / (sqrt(v) + epsilon)
    ```
    """

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
        lr = ops.cast(learning_rate, g.dtype)
        alpha = _math.adam_step_size(lr, self._beta_1, self._beta_2, t)
        self._apply_update(variable, index, alpha * m / (ops.sqrt(v) + self._epsilon))


@keras.saving.register_keras_serializable(package="keras_tricks")
class AdamInject(_Injection, _Adam):
    """AdamInject: Adam with the parameter change injected into its first moment.

    AdaInject feeds the first moment, instead of `g`, the gradient plus the
    last parameter change weighted by `g**2` (a second-order hint: the change
    is large where the curvature is small). The second moment keeps plain
    `g * g`. Per variable, with `bc1 = 1 - beta_1**t`, `bc2 = 1 - beta_2**t`:

    ```
    g = g + l2_weight_decay * theta
    d_theta = theta_prev - theta       # theta_prev: the variable before the last step
    d = g                                         for t < 2
    d = (g + d_theta * g**2) / injection_divisor  from t = 2
    m = beta_1 * m + (1 - beta_1) * d
    v = beta_2 * v + (1 - beta_2) * g**2          # v = max(v_hat, v) if amsgrad
    theta -= lr * sqrt(bc2) / bc1 * m / (sqrt(v) + epsilon)
    ```

    Args:
        learning_rate: float >= 0, a `keras.optimizers.schedules.LearningRateSchedule`
            or a callable returning the rate. Defaults to `0.001`.
        beta_1: float in [0, 1), decay of the first moment. Defaults to `0.9`.
        beta_2: float in [0, 1), decay of the second moment. Defaults to `0.999`.
        epsilon: float >= 0 added to `sqrt(v)`, as PyTorch's Adam does. Values
            below 1.18e-38 (the smallest normal float32), `0` included, act as
            1.18e-38. Defaults to `1e-8`.
        amsgrad: bool, divide by the running maximum of `v`. Defaults to `False`.
        l2_weight_decay: float >= 0, coupled (L2) weight decay added to the
            gradient before the moments. Defaults to `0.0`.
        weight_decay: float >= 0 or `None`, the base optimizer's decoupled
            decay `theta -= lr * weight_decay * theta`. Defaults to `None`.
        injection_divisor: float > 0, the paper's `k`. Defaults to `2.0`, the
            authors' value.
        **kwargs: the other base optimizer arguments (`clipnorm`, `use_ema`, ...).

    Example:
    >>> optimizer = keras_tricks.optimizers.AdamInject(learning_rate=1e-3)
    >>> model.compile(optimizer=optimizer, loss="mse")  # doctest: +SKIP

    Note:
        `theta_prev` is read after the decoupled `weight_decay` has been
        applied for that step. The state keeps the last update rather than
        `theta_prev` (a copy of every variable per step fewer);
        `theta_prev - theta` is rebuilt from it exactly, decay included. A NaN
        gradient does not raise: it turns the moments and the variable NaN,
        as Keras's `Adam` does.

    Reference:
    - [Dubey et al., 2022](https://arxiv.org/abs/2109.12504), and the authors'
      `AdamInject`.
    """


@keras.saving.register_keras_serializable(package="keras_tricks")
class DiffGradInject(_Injection, DiffGrad):
    """DiffGradInject: DiffGrad with the parameter change injected into its first
    moment.

    AdaInject feeds the first moment, instead of `g`, the gradient plus the
    last parameter change weighted by `g**2` (a second-order hint: the change
    is large where the curvature is small). The second moment and diffGrad's
    friction keep plain `g`. Per variable:

    ```
    d_theta = theta_prev - theta       # theta_prev: the variable before the last step
    d = g                                         for t < 2
    d = (g + d_theta * g**2) / injection_divisor  from t = 2
    m = beta_1 * m + (1 - beta_1) * d ; then DiffGrad's step
    ```

    Every argument but `injection_divisor` is `DiffGrad`'s, with its default.

    Args:
        injection_divisor: float > 0, the paper's `k`. Defaults to `2.0`, the
            authors' value.

    Example:
    >>> optimizer = keras_tricks.optimizers.DiffGradInject(learning_rate=1e-3)
    >>> model.compile(optimizer=optimizer, loss="mse")  # doctest: +SKIP

    Note:
        `theta_prev` is read after the decoupled `weight_decay` has been
        applied for that step. The state keeps the last update rather than
        `theta_prev` (a copy of every variable per step fewer);
        `theta_prev - theta` is rebuilt from it exactly, decay included. A NaN
        gradient does not raise: it turns the moments and the variable NaN,
        as Keras's `Adam` does.

    Reference:
    - [Dubey et al., 2022](https://arxiv.org/abs/2109.12504), and the authors'
      `DiffGradInject`.
    """


@keras.saving.register_keras_serializable(package="keras_tricks")
class AdaBeliefInject(_Injection, AdaBelief):
    """AdaBeliefInject: AdaBelief with the parameter change injected into its first
    moment.

    AdaInject feeds the first moment, instead of `g`, the gradient plus the
    last parameter change weighted by `g**2` (a second-order hint: the change
    is large where the curvature is small). The second moment is AdaBelief's
    `(g - m)**2` with the injected `m`. Per variable:

    ```
    d_theta = theta_prev - theta       # theta_prev: the variable before the last step
    d = g                                         for t < 2
    d = (g + d_theta * g**2) / injection_divisor  from t = 2
    m = beta_1 * m + (1 - beta_1) * d ; then AdaBelief's step
    ```

    Every argument but `injection_divisor` is `AdaBelief`'s, with its default.

    Args:
        injection_divisor: float > 0, the paper's `k`. Defaults to `2.0`, the
            authors' value.

    Example:
    >>> optimizer = keras_tricks.optimizers.AdaBeliefInject(learning_rate=1e-3)
    >>> model.compile(optimizer=optimizer, loss="mse")  # doctest: +SKIP

    Note:
        `theta_prev` is read after the decoupled `weight_decay` has been
        applied for that step. The state keeps the last update rather than
        `theta_prev` (a copy of every variable per step fewer);
        `theta_prev - theta` is rebuilt from it exactly, decay included. A NaN
        gradient does not raise: it turns the moments and the variable NaN,
        as Keras's `Adam` does.

    Reference:
    - [Dubey et al., 2022](https://arxiv.org/abs/2109.12504), and the authors'
      `AdaBeliefInject`.
    """


@keras.saving.register_keras_serializable(package="keras_tricks")
class RAdamInject(_Injection, RAdam):
    """RAdamInject: RAdam with the parameter change injected into its first moment.

    AdaInject feeds the first moment, instead of `g`, the gradient plus the
    last parameter change weighted by `g**2` (a second-order hint: the change
    is large where the curvature is small). The second moment keeps plain
    `g * g`. The authors' RadamInject starts injecting at the third step. Per
    variable:

    ```
    d_theta = theta_prev - theta       # theta_prev: the variable before the last step
    d = g                                         for t < 3
    d = (g + d_theta * g**2) / injection_divisor  from t = 3
    m = beta_1 * m + (1 - beta_1) * d ; then RAdam's step
    ```

    Every argument but `injection_divisor` is `RAdam`'s, with its default.

    Args:
        injection_divisor: float > 0, the paper's `k`. Defaults to `2.0`, the
            authors' value.

    Example:
    >>> optimizer = keras_tricks.optimizers.RAdamInject(learning_rate=1e-3)
    >>> model.compile(optimizer=optimizer, loss="mse")  # doctest: +SKIP

    Note:
        `theta_prev` is read after the decoupled `weight_decay` has been
        applied for that step. The state keeps the last update rather than
        `theta_prev` (a copy of every variable per step fewer);
        `theta_prev - theta` is rebuilt from it exactly, decay included. A NaN
        gradient does not raise: it turns the moments and the variable NaN,
        as Keras's `Adam` does.

    Reference:
    - [Dubey et al., 2022](https://arxiv.org/abs/2109.12504), and the authors'
      `RadamInject`.
    """

    _inject_start = 3
