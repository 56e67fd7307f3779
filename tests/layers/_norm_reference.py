"""Float64 NumPy group/instance normalization, from Wu & He (2018), eq. (1)-(3).

Reference: https://arxiv.org/abs/1803.08494. Instance normalization
(Ulyanov et al., 2017, https://arxiv.org/abs/1607.08022) is the case of one
channel per group.
"""

import numpy as np


def _grouped(x, groups, axis):
    x = np.moveaxis(np.asarray(x, np.float64), axis, -1)
    moved = x.shape
    return x.reshape(moved[0], -1, groups, moved[-1] // groups), moved


def group_norm(x, gamma, beta, groups, axis, epsilon):
    """y = (x - mu) / sqrt(sigma^2 + eps) * gamma + beta, mu/sigma per (n, group)."""
    xg, moved = _grouped(x, groups, axis)
    mu = xg.mean(axis=(1, 3), keepdims=True)
    var = ((xg - mu) ** 2).mean(axis=(1, 3), keepdims=True)
    xhat = ((xg - mu) / np.sqrt(var + epsilon)).reshape(moved)
    y = xhat * np.asarray(gamma, np.float64) + np.asarray(beta, np.float64)
    return np.moveaxis(y, -1, axis)


def group_norm_grad(x, gamma, upstream, groups, axis, epsilon):
    """Gradients of sum(y * upstream) w.r.t. x, gamma and beta (the paper's
    normalization differentiated by hand)."""
    xg, moved = _grouped(x, groups, axis)
    dy, _ = _grouped(upstream, groups, axis)
    gamma_g = np.asarray(gamma, np.float64).reshape(1, 1, groups, -1)
    mu = xg.mean(axis=(1, 3), keepdims=True)
    rstd = 1.0 / np.sqrt(((xg - mu) ** 2).mean(axis=(1, 3), keepdims=True) + epsilon)
    xhat = (xg - mu) * rstd
    g = dy * gamma_g
    dx = rstd * (
        g
        - g.mean(axis=(1, 3), keepdims=True)
        - xhat * (g * xhat).mean(axis=(1, 3), keepdims=True)
    )
    d_gamma = (dy * xhat).sum(axis=(0, 1)).reshape(-1)
    d_beta = dy.sum(axis=(0, 1)).reshape(-1)
    dx = np.moveaxis(dx.reshape(moved), -1, axis)
    return dx, d_gamma, d_beta
