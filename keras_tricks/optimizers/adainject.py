"""AdaInject: the parameter change injected into the first moment.

One mechanism (`_Injection`, with the maths in `_math.injected_gradient` and
the slot handling in `AdaptiveMoments`) turns each base optimizer into its
Inject variant; the four public classes are one line each, kept in one file
because they differ only in their base.
"""

import keras

from keras_tricks._checks import check_positive
from keras_tricks.optimizers._base import AdaptiveMoments, compute_dtype, is_empty
from keras_tricks.optimizers.adabelief import AdaBelief
from keras_tricks.optimizers.diffgrad import DiffGrad
from keras_tricks.optimizers.radam import RAdam

_INJECT_DOC = """
    AdaInject feeds the first moment, instead of `g`, the gradient plus the
    last parameter change weighted by `g**2` (a second-order hint: the change
    is large where the curvature is small). The second moment keeps plain
    `g * g` (AdaBelief: `(g - m)**2` with the injected `m`). Per variable:

    ```
    d_theta = theta_prev - theta       # theta_prev: the variable before the last step
    d = g                                         for t < {start}
    d = (g + d_theta * g**2) / injection_divisor  from t = {start}
    m = beta_1 * m + (1 - beta_1) * d ; then {base}'s step
    ```

    Args:
        injection_divisor: float > 0, the paper's `k`. Defaults to `2.0`, the
            authors' value.
        All other arguments, and their defaults, are {base}'s{defaults}.

    Example:
    >>> optimizer = keras_tricks.optimizers.{name}(learning_rate=1e-3)
    >>> model.compile(optimizer=optimizer, loss="mse")  # doctest: +SKIP

    Note:
        `theta_prev` is read after the base optimizer's decoupled
        `weight_decay` has been applied for that step. The state keeps the
        last update rather than `theta_prev` (a copy of every variable per
        step fewer); `theta_prev - theta` is rebuilt from it exactly, decay
        included. A NaN gradient does not
        raise: it turns the moments and the variable NaN, as Keras's `Adam`
        does.

    Reference:
    - [Dubey et al., 2022](https://arxiv.org/abs/2109.12504), and the authors'
      `{name}`.
"""


class _Injection:
    """Turns a moment optimizer into its AdaInject variant (Dubey et al., 2022)."""

    _inject_start = 2

    def __init__(self, *args, injection_divisor=2.0, **kwargs):
        check_positive("injection_divisor", injection_divisor)
        super().__init__(*args, **kwargs)
        self.injection_divisor = injection_divisor

    def get_config(self):
        config = super().get_config()
        config["injection_divisor"] = self.injection_divisor
        return config


class _Adam(AdaptiveMoments):
    """Adam as PyTorch writes it (epsilon 1e-8 on `sqrt(v)`), the base of AdamInject."""

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
        index, g, step, m, v = self._adam_moments(gradient, variable)
        alpha = self._adam_step_size(learning_rate, step, compute_dtype(variable))
        self._descend(variable, index, m, v, alpha, self._epsilon)


def _document(cls, summary, base, defaults="", start=2):
    cls.__doc__ = (
        summary
        + "\n"
        + _INJECT_DOC.format(
            start=start, base=base, name=cls.__name__, defaults=defaults
        )
    )
    return cls


@keras.saving.register_keras_serializable(package="keras_tricks")
class AdamInject(_Injection, _Adam):
    pass


@keras.saving.register_keras_serializable(package="keras_tricks")
class DiffGradInject(_Injection, DiffGrad):
    pass


@keras.saving.register_keras_serializable(package="keras_tricks")
class AdaBeliefInject(_Injection, AdaBelief):
    pass


@keras.saving.register_keras_serializable(package="keras_tricks")
class RAdamInject(_Injection, RAdam):
    # The authors' RadamInject starts injecting at the third step.
    _inject_start = 3


_document(
    AdamInject,
    "AdamInject: Adam with the parameter change injected into its first moment.",
    "Adam",
    defaults=(
        " as PyTorch writes it: `learning_rate=0.001`, `beta_1=0.9`,"
        " `beta_2=0.999`, `epsilon=1e-8` (added to `sqrt(v)`), `amsgrad=False`,"
        " `l2_weight_decay=0.0` (coupled), `weight_decay=None` (decoupled)"
    ),
)
_document(
    DiffGradInject,
    "DiffGradInject: DiffGrad with the parameter change injected into its first moment.",
    "`DiffGrad`",
)
_document(
    AdaBeliefInject,
    "AdaBeliefInject: AdaBelief with the parameter change injected into its first moment.",
    "`AdaBelief`",
)
_document(
    RAdamInject,
    "RAdamInject: RAdam with the parameter change injected into its first moment.",
    "`RAdam`",
    start=3,
)
