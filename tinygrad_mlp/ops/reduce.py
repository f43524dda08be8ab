"""Reductions (sum, max/min) and normalisations along an axis (softmax, log-softmax)."""

from __future__ import annotations

import numpy as np

from tinygrad_mlp.function import Function
from tinygrad_mlp.ops._common import _exp
from tinygrad_mlp.ops.shape import _expand


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    """``shape`` with the reduced axes kept as size 1."""
    return tuple(1 if axes is None or i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """y = Σ x over ``axis``;  dx = g broadcast back over the summed axes.

    Integer and bool inputs are summed exactly (numpy's int64), never through float32.
    """

    promote_int = False

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        if x.ndim == 0:  # axis 0 / -1 of a 0-d tensor: the value itself, as torch
            axis = None
        ctx.in_shape = x.shape
        ctx.kd_shape = _keepdims_shape(x.shape, axis)
        ctx.axis, ctx.keepdims = axis, keepdims
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return _expand(g.reshape(ctx.kd_shape), ctx.in_shape)

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = Σ t over the same axes (sum is linear)."""
        return t.sum(axis=ctx.axis, keepdims=ctx.keepdims)


class Max(Function):
    """y = max x over ``axis`` (``fn=np.min`` for min);  dx = g split evenly among the ties.

    Like ``torch.amax``: every element equal to the extreme gets g / (number of ties).
    Integer inputs keep their dtype (exact, as numpy).
    """

    promote_int = False

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, fn=np.max):
        if x.ndim == 0:  # axis 0 / -1 of a 0-d tensor: the value itself, as torch
            axis = None
        y = fn(x, axis=axis, keepdims=True)
        w = (x == y).astype(np.result_type(x, np.float32))
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN input: NaN gradient
            w /= w.sum(axis=axis, keepdims=True)
        ctx.kd_shape, ctx.axis = y.shape, axis
        ctx.save_for_backward(w)
        return y if keepdims else y.reshape(_reduced_shape(x.shape, axis))

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return g.reshape(ctx.kd_shape) * w

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = Σ t·w over the axes (w: the tie-split weights of backward)."""
        (w,) = ctx.saved
        return (t * w).sum(axis=ctx.axis, keepdims=True).reshape(ctx.result.shape)


def _reduced_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    """``shape`` without the reduced axes."""
    return () if axes is None else tuple(n for i, n in enumerate(shape) if i not in axes)


class Softmax(Function):
    """s = eˣ / Σ eˣ along ``axis`` (max subtracted first);  dx = s·(g - Σ g·s)."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        e = np.exp(x - x.max(axis=axis, keepdims=True))
        e /= e.sum(axis=axis, keepdims=True)
        ctx.axis = axis
        ctx.save_for_backward(e)
        return e

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return s * (g - (g * s).sum(axis=ctx.axis, keepdims=True))

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: ds = s·(t - Σ t·s)."""
        s = ctx.result
        return s * (t - (t * s).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    """y = x - m - ln Σ e^(x-m), m = max x (stable for any logits);  dx = g - eʸ·Σ g."""

    @staticmethod
    def forward(ctx, x, axis=-1):
        z = x - x.max(axis=axis, keepdims=True)
        y = z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
        ctx.axis = axis
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g - _exp(y) * g.sum(axis=ctx.axis, keepdims=True)

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t - Σ t·eʸ."""
        return t - (t * np.exp(ctx.result)).sum(axis=ctx.axis, keepdims=True)
