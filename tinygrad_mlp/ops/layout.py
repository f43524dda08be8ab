"""Ops that move or mask values without arithmetic: clone, pad, roll, tril/triu.

Like the other shape ops they keep the input's dtype. Each one's backward is the same
kind of move run the other way (crop the padding, roll back, mask again), written with
``_pad``/``_roll``/``_triangle``, which call numpy on arrays and the op itself on
Tensors, so second derivatives work. (Flip, narrow, split, gather and friends are
compositions of indexing: see ``ops/index.py`` and the Tensor methods.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_mlp.function import Function
from tinygrad_mlp.tensor import Tensor


def _pad(x: Any, widths: tuple, value: float = 0.0) -> Any:
    if isinstance(x, Tensor):
        return Pad.apply(x, widths=widths, value=value)
    return np.pad(x, widths, constant_values=value) if x.ndim else x


def _roll(x: Any, shift: Any, axis: Any) -> Any:
    if isinstance(x, Tensor):
        return Roll.apply(x, shift=shift, axis=axis)
    return np.roll(x, shift, axis)


def _triangle(x: Any, k: int, upper: bool) -> Any:
    if isinstance(x, Tensor):
        return Triangle.apply(x, k=k, upper=upper)
    return np.triu(x, k) if upper else np.tril(x, k)


class Clone(Function):
    """y = a copy of x (new memory);  dx = g;  jvp: t."""

    promote_int = False

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def jvp(ctx, t):
        return t


class Pad(Function):
    """y = x with ``widths[i] = (before, after)`` constant ``value`` cells around axis i;
    dx = g with the padding cropped off;  jvp: t padded with zeros."""

    promote_int = False

    @staticmethod
    def forward(ctx, x, widths, value=0.0):
        ctx.widths = widths
        return np.pad(x, widths, constant_values=value) if x.ndim else x.copy()

    @staticmethod
    def backward(ctx, g):
        return g[tuple(slice(b, g.shape[i] - a) for i, (b, a) in enumerate(ctx.widths))]

    @staticmethod
    def jvp(ctx, t):
        return _pad(t, ctx.widths)


class Roll(Function):
    """y = x shifted cyclically by ``shift`` along ``axis`` (None: the flattened tensor,
    shape kept);  dx = g rolled back by -shift;  jvp: t rolled by shift."""

    promote_int = False

    @staticmethod
    def forward(ctx, x, shift, axis=None):
        ctx.shift, ctx.axis = shift, axis
        return np.roll(x, shift, axis)

    @staticmethod
    def backward(ctx, g):
        back = tuple(-s for s in ctx.shift) if isinstance(ctx.shift, tuple) else -ctx.shift
        return _roll(g, back, ctx.axis)

    @staticmethod
    def jvp(ctx, t):
        return _roll(t, ctx.shift, ctx.axis)


class Triangle(Function):
    """y = the lower (tril) or ``upper`` (triu) triangle of the last two axes from diagonal
    ``k``, zeros elsewhere;  dx = the same triangle of g;  jvp: the same triangle of t."""

    promote_int = False

    @staticmethod
    def forward(ctx, x, k=0, upper=False):
        if x.ndim < 2:
            name = "triu" if upper else "tril"
            raise ValueError(f"{name}: needs a tensor of at least 2 dimensions, got {x.shape}")
        ctx.k, ctx.upper = k, upper
        return _triangle(x, k, upper)

    @staticmethod
    def backward(ctx, g):
        return _triangle(g, ctx.k, ctx.upper)

    @staticmethod
    def jvp(ctx, t):
        return _triangle(t, ctx.k, ctx.upper)
