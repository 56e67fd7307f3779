"""AdaBelief: Adam whose step size follows the belief in the gradient."""

import keras
from keras import ops

from keras_tricks.optimizers import _math, _xla
from keras_tricks.optimizers._base import AdaptiveMoments, check_flag, is_empty


@keras.saving.register_keras_serializable(package="keras_tricks")
class AdaBelief(AdaptiveMoments):
    """AdaBelief: Adam with the variance of the gradient around its EMA.

    Where Adam divides by the EMA of `g**2`, AdaBelief divides by the EMA of
    `(g - m)**2`: large steps where the gradient agrees with its running mean
    (the "belief"), small ones where it does not. Good default for vision and
    language models alike; `rectify=True` adds RAdam's variance rectification.
    Per variable, with `bc1 = 1 - beta_1**t`, `bc2 = 1 - beta_2**t`:

    ```
    g = g + l2_weight_decay * theta
    m = beta_1 * m + (1 - beta_1) * g
    s = beta_2 * s + (1 - beta_2) * (g - m)**2 + epsilon   # epsilon INTO the state
    s = max(s_hat, s) if amsgrad
    rectify False: theta -= lr / bc1 * m / (sqrt(s) / sqrt(bc2) + epsilon)
    rectify True, rho_t >= 5: theta -= lr * r_t / bc1 * m / (sqrt(s) + epsilon)
    rectify True, rho_t < 5:  theta -= lr / bc1 * m  if degenerated_to_sgd
    ```

    with `rho_t` and `r_t` as in `RAdam`.

    Defaults follow adabelief-pytorch 0.2.1 (epsilon `1e-16`, `rectify=True`,
    decoupled weight decay through `weight_decay`).

    Args:
        learning_rate: float >= 0, a `keras.optimizers.schedules.LearningRateSchedule`
            or a callable returning the rate. Defaults to `0.001`.
        beta_1: float in [0, 1), decay of the first moment. Defaults to `0.9`.
        beta_2: float in [0, 1), decay of the second moment. Defaults to `0.999`.
        epsilon: float >= 0, added both into `s` and to its square root.
            Values below 1.18e-38 (the smallest normal float32),
            `0` included, act as 1.18e-38. Defaults to `1e-16`.
        amsgrad: bool, divide by the running maximum of `s`. Defaults to `False`.
        rectify: bool, apply RAdam's rectification. Defaults to `True`.
        degenerated_to_sgd: bool, with `rectify`, take bias-corrected momentum
            SGD steps while `rho_t < 5` (else no step). Defaults to `True`.
        l2_weight_decay: float >= 0, coupled (L2) weight decay added to the
            gradient before the moments. Defaults to `0.0`.
        weight_decay: float >= 0 or `None`, decoupled decay
            `theta -= lr * weight_decay * theta` (adabelief-pytorch's
            `weight_decouple=True`). Defaults to `None`.
        **kwargs: the other base optimizer arguments (`clipnorm`, `use_ema`, ...).

    Example:
    >>> optimizer = keras_tricks.optimizers.AdaBelief(learning_rate=1e-3)
    >>> model.compile(optimizer=optimizer, loss="mse")  # doctest: +SKIP

    Note:
        The references disagree on epsilon: adabelief-pytorch 0.2.1 uses
        `1e-16`, adabelief-tf 0.2.1 and TF Addons use `1e-14` (and Keras's
        Adam's `1e-7` is far too large here, as epsilon is added into `s`). Pass
        `epsilon=1e-14` to match the TensorFlow releases. Under `amsgrad` the
        maximum also feeds the rectified branch. A NaN gradient does not raise:
        it turns `m`, `s` and the variable NaN, as Keras's `Adam` does.

    Reference:
    - [Zhuang et al., 2020](https://arxiv.org/abs/2010.07468)
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-16,
        amsgrad=False,
        rectify=True,
        degenerated_to_sgd=True,
        l2_weight_decay=0.0,
        weight_decay=None,
        name=None,
        **kwargs,
    ):
        check_flag("rectify", rectify)
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
        self.rectify = rectify
        self.degenerated_to_sgd = degenerated_to_sgd

    def update_step(self, gradient, variable, learning_rate):
        if is_empty(variable):
            return  # nothing to update (and Keras's `ops.add` fails on (0, n))
        index, g, t = self._gradient_and_step(gradient, variable)
        d = self._first_moment_input(g, variable, index, t)
        m = self._update_moment("momentum", index, d, self._beta_1)
        # s = beta_2 * s + (1 - beta_2) * (g - m)**2 + epsilon
        residual = _xla.plus_constant(
            _math.belief_residual(g, m), self._epsilon, self._beta_2
        )
        s = self._update_moment("velocity", index, residual, self._beta_2)
        s = self._amsgrad(index, s)
        lr = ops.cast(learning_rate, g.dtype)
        if self.rectify:
            a, b = _math.rectified_coefficients(
                lr, self._beta_1, self._beta_2, t, self.degenerated_to_sgd, g.dtype
            )
            update = m * (a / (ops.sqrt(s) + self._epsilon) + b)
        else:
            # lr / bc1 * m / (sqrt(s) / sqrt(bc2) + eps), one divide per element.
            alpha = _math.adam_step_size(lr, self._beta_1, self._beta_2, t)
            eps = self._epsilon * ops.sqrt(_math.bias_correction(self._beta_2, t))
            update = alpha * m / (ops.sqrt(s) + eps)
        self._apply_update(variable, index, update)

    def get_config(self):
        config = super().get_config()
        config.update(
            {"rectify": self.rectify, "degenerated_to_sgd": self.degenerated_to_sgd}
        )
        return config
