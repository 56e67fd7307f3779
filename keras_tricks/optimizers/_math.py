"""The maths the optimizers share, as small pure functions on `keras.ops` tensors.

Each optimizer's `update_step` composes these pieces in the order of its
paper's equations. Nothing here touches a variable: every function takes
tensors (and Python floats for hyperparameters) and returns tensors; rewrites
that serve only XLA's plan live in `_xla.py`. Scalar
decisions (is the step rectified? does the angle state move?) are written as
`ops.where` on tensors, never as Python control flow, so that every function
traces under `tf.function(jit_compile=True)` and `jax.jit`.

Hyperparameters arrive as Python floats. Coefficients such as `1 - beta_2` and
`log(beta_2)` are formed in Python (float64) before they meet a float32 tensor;
`1 - beta_2**t` is computed as `-expm1(t * log(beta_2))`. Both keep float32
results within a few ulps of a float64 computation of the same equations.
"""

import math

from keras import ops

from keras_tricks.optimizers import _xla


def ema(average, value, decay):
    """Exponential moving average: `decay * average + (1 - decay) * value`.

    Written as `average + (1 - decay) * (value - average)`, one multiply fewer.
    """
    return ops.add(average, ops.multiply(value - average, 1.0 - decay))


def beta_power(beta, step):
    """`beta ** step` for a Python float `beta` in [0, 1) and a float tensor step."""
    if beta == 0.0:
        return ops.zeros_like(step)
    return ops.exp(ops.multiply(step, math.log(beta)))


def bias_correction(beta, step):
    """`1 - beta ** step`, accurate in float32 even while `beta ** step` is near 1."""
    if beta == 0.0:
        return ops.ones_like(step)
    return ops.negative(ops.expm1(ops.multiply(step, math.log(beta))))


def adam_step_size(learning_rate, beta_1, beta_2, step):
    """Adam's scalar step size `lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)`.

    `lr * sqrt(bc2) / bc1 * m / (sqrt(v) + epsilon)` is Adam's step with the
    bias corrections of Kingma & Ba (2015), Algorithm 1, folded into the rate.
    """
    return (
        learning_rate
        * ops.sqrt(bias_correction(beta_2, step))
        / bias_correction(beta_1, step)
    )


def diffgrad_friction(gradient, previous_gradient):
    """diffGrad's friction coefficient `xi = sigmoid(|g_prev - g|)` (Dubey et al.,
    2019)."""
    return ops.sigmoid(ops.abs(previous_gradient - gradient))


def belief_residual(gradient, first_moment):
    """AdaBelief's belief residual `(g - m)**2` (Zhuang et al., 2020)."""
    return ops.square(gradient - first_moment)


def rectification(beta_2, step):
    """RAdam's variance rectification term (Liu et al., 2019).

    With `rho_inf = 2 / (1 - beta_2) - 1` and
    `rho_t = rho_inf - 2 t beta_2**t / (1 - beta_2**t)`, returns
    `(r, rectified)` where `rectified = rho_t >= 5` (a boolean scalar tensor) and

        r = sqrt((1 - beta_2**t) * (rho_t - 4) (rho_t - 2) rho_inf
                 / ((rho_inf - 4) (rho_inf - 2) rho_t))

    where rectified, and 0 elsewhere. The square root is taken of a clamped
    argument, so no NaN appears in either branch.
    """
    rho_inf = 2.0 / (1.0 - beta_2) - 1.0
    correction = bias_correction(beta_2, step)
    rho_t = rho_inf - 2.0 * step * beta_power(beta_2, step) / correction
    rectified = ops.greater_equal(rho_t, 5.0)
    safe_rho = ops.maximum(rho_t, 5.0)
    ratio = (
        (safe_rho - 4.0)
        * (safe_rho - 2.0)
        / safe_rho
        * (rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0)))
    )
    r = ops.sqrt(correction * ratio)
    return ops.where(rectified, r, ops.zeros_like(r)), rectified


def rectified_coefficients(
    learning_rate, beta_1, beta_2, step, degenerated_to_sgd, dtype
):
    """Scalar coefficients `(a, b)` of a rectified step `m * (a / (sqrt(v) + eps) + b)`.

    Rectified steps (`rho_t >= 5`) get `a = lr * r / (1 - beta_1**t)` and
    `b = 0`; earlier steps get `a = 0` and `b = lr / (1 - beta_1**t)` when
    `degenerated_to_sgd` (bias-corrected SGD with momentum), else `b = 0` (no
    update). Folding the branch into two scalars keeps the per-element work to
    one fused expression with no element-wise `where`.
    """
    r, rectified = rectification(beta_2, step)
    scale = learning_rate / bias_correction(beta_1, step)
    a = scale * r
    if degenerated_to_sgd:
        b = ops.where(rectified, ops.zeros_like(scale), scale)
    else:
        b = ops.zeros_like(scale)
    return ops.cast(a, dtype), ops.cast(b, dtype)


def angular_coefficient(gradient, previous_gradient, min_tangent, method):
    """AngularGrad's coefficient `phi` and its new angle state (Roy et al., 2021).

    The reference keeps two tensors per variable, `min_angle` (degrees) and
    `final` (the cosine, or the tangent, taken when `min_angle` last moved).
    Both are functions of the tangent at that moment, so one tensor holds them:
    `min_tangent`, with `min_angle = degrees(atan(min_tangent))`. It starts at
    `-1`, meaning "never moved": then `min_angle = 0` and `final = 0`.

    The step computes `tan = |(g_prev - g) / (1 + g_prev g)|`. If fewer than
    half the elements have an angle above `min_angle` (decided once for the
    whole tensor, as the reference does), the whole state moves:
    `min_tangent = tan`. Then `final = cos = 1 / sqrt(1 + tan**2)` (method
    `"cos"`) or `final = tan` (method `"tan"`), and
    `phi = 0.5 * tanh(|final|) + 0.5`.

    `atan` is increasing, so comparing angles is comparing tangents.

    Returns:
        `(phi, new_min_tangent)`.
    """
    difference = previous_gradient - gradient
    denominator = 1.0 + previous_gradient * gradient
    threshold = ops.maximum(min_tangent, 0.0)
    # tan > min_tangent as |g_prev - g| > min_tangent * |1 + g_prev g|: the
    # same test without the division, which, shared by the count and the new
    # state, made XLA write `tan` out (a full-size pass).
    above = ops.greater(ops.abs(difference), threshold * ops.abs(denominator))
    # mean(angle > min_angle) < 0.5, counted exactly in integers.
    move = ops.less(2 * _xla.count_true(above), int(math.prod(gradient.shape)))
    tangent = ops.abs(difference / denominator)
    new_min_tangent = ops.where(move, tangent, min_tangent)
    if method == "cos":
        final = ops.rsqrt(1.0 + ops.square(new_min_tangent))
    else:
        final = new_min_tangent
    final = ops.where(ops.greater_equal(new_min_tangent, 0.0), final, 0.0)
    phi = 0.5 * ops.tanh(ops.abs(final)) + 0.5
    return phi, new_min_tangent


def parameter_change(last_update, variable, decay):
    """AdaInject's `theta_prev - theta` from the last update (Dubey et al., 2022).

    `theta_prev` is the variable before the last update and `theta` the
    variable now, after this step's decoupled decay `theta *= 1 - decay`
    (`decay = lr * weight_decay`, `0` without it). Since
    `theta = (theta_prev - last_update) * (1 - decay)`,

        theta_prev - theta = last_update + decay / (1 - decay) * theta.

    Storing the update instead of `theta_prev` saves a copy of every variable
    per step (XLA must otherwise copy the old variable before overwriting it).
    `decay` is a scalar tensor or `None` (no decoupled decay).
    """
    if decay is None:
        return last_update
    return last_update + decay / (1.0 - decay) * variable


def injected_gradient(gradient, change, step, start, divisor):
    """AdaInject's first-moment input (Dubey et al., 2022).

    `d = g` for steps before `start`, afterwards
    `d = (g + change * g**2) / divisor` with `change = theta_prev - theta`.
    Written as `g * (c0 + c1 * change * g)` with scalar `c0`, `c1`, so the
    step switch is a scalar `where`, not an element-wise one.
    """
    injecting = ops.greater_equal(step, float(start))
    one = ops.ones_like(step)
    c0 = ops.where(injecting, one / divisor, one)
    c1 = ops.where(injecting, one / divisor, ops.zeros_like(step))
    c0 = ops.cast(c0, gradient.dtype)
    c1 = ops.cast(c1, gradient.dtype)
    return gradient * (c0 + c1 * change * gradient)
