"""Products and running totals: prod, cumsum, cumprod.

Integer and bool inputs keep numpy's exact integer results (``promote_int = False``).

Products need care at zeros: the textbook rule d(Πx)/dxᵢ = Πx / xᵢ divides 0 by 0. The
rules here never divide by an input (except on cumprod's fast path, taken only when no
input is 0): the derivative of a product with respect to xᵢ is the product of the *other*
elements, built from exclusive running products from the left and from the right. The
helpers call numpy on arrays and the ops themselves on Tensors, so the same rules give
second derivatives under ``create_graph=True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_mlp.function import Function
from tinygrad_mlp.ops.reduce import _keepdims_shape
from tinygrad_mlp.ops.shape import Cat, Stack, _expand
from tinygrad_mlp.tensor import Tensor


def _flip(x: Any, axis: int) -> Any:
    return x[(slice(None),) * axis + (slice(None, None, -1),)]


def _cumsum(x: Any, axis: int) -> Any:
    return CumSum.apply(x, axis=axis) if isinstance(x, Tensor) else np.cumsum(x, axis)


def _cumprod(x: Any, axis: int) -> Any:
    return CumProd.apply(x, axis=axis) if isinstance(x, Tensor) else np.cumprod(x, axis)


def _stack0(parts: list) -> Any:
    if any(isinstance(p, Tensor) for p in parts):
        return Stack.apply(*[p if isinstance(p, Tensor) else Tensor(p) for p in parts], axis=0)
    return np.stack(parts)


def _exclusive_cumprod0(x: Any) -> Any:
    """``out[k] = x[0]·…·x[k-1]`` along axis 0 (``out[0] = 1``), without any division."""
    one = np.ones((1,) + tuple(x.shape[1:]), x.dtype)
    if isinstance(x, Tensor):
        return Cat.apply(Tensor(one), _cumprod(x, 0)[:-1], axis=0)
    return np.concatenate([one, np.cumprod(x, 0)[:-1]])


def _product_of_others(x: Any, axes: tuple[int, ...] | None) -> Any:
    """``out[i] = Π x[j]`` over the reduced positions j ≠ i (same shape as x): the
    derivative of ``prod(x, axes)`` with respect to each element, exact at zeros."""
    axes = tuple(range(x.ndim)) if axes is None else axes
    rest = tuple(i for i in range(x.ndim) if i not in axes)
    perm = axes + rest
    moved = x.transpose(perm)
    flat = moved.reshape((-1,) + tuple(moved.shape[len(axes):]))
    others = _exclusive_cumprod0(flat) * _flip(_exclusive_cumprod0(_flip(flat, 0)), 0)
    return others.reshape(moved.shape).transpose(tuple(int(i) for i in np.argsort(perm)))


class Prod(Function):
    """y = Π x over ``axis``;  dxᵢ = g·Π_{j≠i} xⱼ;  jvp: Σᵢ tᵢ·Π_{j≠i} xⱼ.

    Exact at zeros (one zero: only that element gets a gradient; two: none do), as torch.
    """

    promote_int = False

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        if x.ndim == 0:  # axis 0 / -1 of a 0-d tensor: the value itself, as torch
            axis = None
        ctx.save_for_backward(x)
        ctx.axis, ctx.keepdims = axis, keepdims
        return np.asarray(np.prod(x, axis=axis, keepdims=keepdims))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        if x.size == 0:
            return None
        g = _expand(g.reshape(_keepdims_shape(x.shape, ctx.axis)), tuple(x.shape))
        return g * _product_of_others(x, ctx.axis)

    @staticmethod
    def jvp(ctx, t):
        (x,) = ctx.primals
        if x.size == 0:
            return np.zeros(ctx.result.shape, ctx.result.dtype)
        return (t * _product_of_others(x, ctx.axis)).sum(axis=ctx.axis, keepdims=ctx.keepdims)


class CumSum(Function):
    """yᵢ = Σ_{j≤i} xⱼ along ``axis``;  dxⱼ = Σ_{i≥j} gᵢ (a reversed cumsum);  jvp: cumsum t."""

    promote_int = False

    @staticmethod
    def forward(ctx, x, axis=0):
        ctx.axis = axis % max(x.ndim, 1)
        return np.cumsum(x, axis) if x.ndim else x.copy()

    @staticmethod
    def backward(ctx, g):
        if g.ndim == 0:
            return g
        return _flip(_cumsum(_flip(g, ctx.axis), ctx.axis), ctx.axis)

    @staticmethod
    def jvp(ctx, t):
        return _cumsum(t, ctx.axis) if t.ndim else t


def _all_normal(y: np.ndarray) -> bool:
    """Are all running products finite and normal (no 0, no underflow): is yᵢ / xₖ exact
    enough to stand for Π_{j≤i, j≠k} xⱼ?"""
    if y.dtype.kind != "f":
        return False
    m = np.abs(y)
    return bool(np.all(m >= np.finfo(y.dtype).tiny) and np.all(m < np.inf))


class CumProd(Function):
    """yᵢ = Π_{j≤i} xⱼ along ``axis``;  dxₖ = y_{k-1}·Rₖ with Rₖ = gₖ + x_{k+1}·R_{k+1}
    (= Σ_{i≥k} gᵢ·Π_{j≤i, j≠k} xⱼ, exact at zeros);  jvp: Tᵢ = T_{i-1}·xᵢ + y_{i-1}·tᵢ.

    When every yᵢ is a normal number the backward takes the vectorised fast path
    dxₖ = Σ_{i≥k} gᵢyᵢ / xₖ; with zeros or underflow (tiny x), or under create_graph, a
    loop along the axis (length n).
    """

    promote_int = False

    @staticmethod
    def forward(ctx, x, axis=0):
        ctx.axis = axis % max(x.ndim, 1)
        y = np.cumprod(x, axis) if x.ndim else x.copy()
        ctx.save_for_backward(x, y)
        return y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        if x.ndim == 0:
            return g
        a = ctx.axis
        if x.shape[a] == 0:
            return g
        if not isinstance(g, Tensor) and _all_normal(y):  # no zero, nothing underflowed
            return _flip(np.cumsum(_flip(g * y, a), a), a) / x
        perm = (a,) + tuple(i for i in range(x.ndim) if i != a)
        xs, ys, gs = x.transpose(perm), y.transpose(perm), g.transpose(perm)
        n = xs.shape[0]
        r = [None] * n
        r[n - 1] = gs[n - 1]
        for k in range(n - 2, -1, -1):
            r[k] = gs[k] + xs[k + 1] * r[k + 1]
        dx = [r[0]] + [ys[k - 1] * r[k] for k in range(1, n)]
        return _stack0(dx).transpose(tuple(int(i) for i in np.argsort(perm)))

    @staticmethod
    def jvp(ctx, t):
        x, y = ctx.primals[0], ctx.result
        if x.ndim == 0:
            return t
        a = ctx.axis
        if x.shape[a] == 0:
            return t
        perm = (a,) + tuple(i for i in range(x.ndim) if i != a)
        xs, ys, ts = x.transpose(perm), y.transpose(perm), t.transpose(perm)
        out = [ts[0]]
        for i in range(1, xs.shape[0]):
            out.append(out[-1] * xs[i] + ys[i - 1] * ts[i])
        return _stack0(out).transpose(tuple(int(i) for i in np.argsort(perm)))
