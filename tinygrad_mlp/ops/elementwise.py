"""Elementwise functions of one input (exp, log, sigmoid, ...) and the two-input
selections (maximum/minimum, where)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_mlp.function import Function
from tinygrad_mlp.ops._common import _arr, _tsum
from tinygrad_mlp.tensor import Tensor


def _zero_where(mask: Any, x: Any) -> Any:
    """``x`` with zeros where ``mask`` holds (a constant), for rules' 0·∞ corner cases."""
    if not np.any(mask):
        return x
    if isinstance(x, Tensor):
        return Where.apply(Tensor(np.zeros((), x.dtype)), x, cond=np.asarray(mask))
    return np.where(mask, np.zeros((), x.dtype), x)


class Exp(Function):
    """y = eˣ;  dx = g·y."""

    @staticmethod
    def forward(ctx, x):
        y = _arr(np.exp(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t·y."""
        return t * ctx.result


class Log(Function):
    """y = ln x;  dx = g / x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.log(x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / x

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t / x."""
        return t / ctx.primals[0]


class Sqrt(Function):
    """y = √x;  dx = g / (2y)."""

    @staticmethod
    def forward(ctx, x):
        y = _arr(np.sqrt(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g / (y * 2)

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t / (2y)."""
        return t / (ctx.result * 2)


class Abs(Function):
    """y = |x|;  dx = g·sign(x)  (sign(0) = 0, as PyTorch)."""

    promote_int = "mixed"  # integers stay exact, as numpy's

    @staticmethod
    def forward(ctx, x):
        if ctx.needs_input_grad[0]:  # (never for integer or bool inputs)
            ctx.save_for_backward(np.sign(x))
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        (sign,) = ctx.saved_tensors
        return g * sign

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t·sign(x)."""
        return t * np.sign(ctx.primals[0])


class Sigmoid(Function):
    """s = 1 / (1 + e⁻ˣ);  dx = g·s·(1 - s).

    e⁻ˣ overflows to inf for x ≪ 0 and 1/inf = 0 exactly, so no input gives NaN.
    """

    @staticmethod
    def forward(ctx, x):
        e = _arr(np.negative(x))
        with np.errstate(over="ignore"):
            np.exp(e, out=e)
        e += 1
        s = np.reciprocal(e, out=e)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        if isinstance(g, Tensor):  # create_graph: recorded ops
            return g * s * (1 - s)
        d = 1 - s  # one temporary, updated in place (a 0-d s gives a scalar: rebound)
        d *= s
        d *= g
        return d

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: ds = t·s·(1 - s)."""
        s = ctx.result
        return t * (s * (1 - s))


class Tanh(Function):
    """y = tanh x;  dx = g·(1 - y²)."""

    @staticmethod
    def forward(ctx, x):
        y = _arr(np.tanh(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 - y * y)

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t·(1 - y²)."""
        y = ctx.result
        return t * (1 - y * y)


class ReLU(Function):
    """y = max(x, 0);  dx = g·[not x ≤ 0]  (relu'(0) = 0, and a NaN passes g on, as PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, 0)
        ctx.save_for_backward(y != 0)  # = not x ≤ 0, NaN included, in one pass
        return y

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t·[not x ≤ 0]."""
        return t * ~(ctx.primals[0] <= 0)


class Clip(Function):
    """y = min(max(x, lo), hi);  dx = g·[lo ≤ x ≤ hi]  (gradient passes at the bounds)."""

    @staticmethod
    def forward(ctx, x, lo=None, hi=None):
        inside = np.ones(np.shape(x), dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        ctx.save_for_backward(inside)
        return x.copy() if lo is None and hi is None else np.clip(x, lo, hi)

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved_tensors
        return g * inside

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t·[lo ≤ x ≤ hi] (the mask forward saved)."""
        (inside,) = ctx.saved
        return t * inside


class Maximum(Function):
    """y = max(a, b) elementwise (``fn=np.minimum`` for min);  ties split g half and half."""

    promote_int = "mixed"  # integers stay exact, as numpy's

    @staticmethod
    def forward(ctx, a, b, fn=np.maximum):
        y = fn(a, b)
        wins = (a > b) if fn is np.maximum else (a < b)
        wa = wins + 0.5 * (a == b)
        lose = (b > a) if fn is np.maximum else (b < a)
        wb = lose + 0.5 * (a == b)
        dtype = np.result_type(y, np.float32)
        ctx.save_for_backward(wa.astype(dtype), wb.astype(dtype))
        return y

    @staticmethod
    def backward(ctx, g):
        wa, wb = ctx.saved_tensors
        return g * wa, g * wb

    @staticmethod
    def jvp(ctx, ta, tb):
        """Forward mode: dy = ta·wa + tb·wb (the winner's tangent; the mean of both on ties)."""
        wa, wb = ctx.saved
        return _tsum(None if ta is None else ta * wa, None if tb is None else tb * wb)


class Where(Function):
    """y = a where cond else b (cond is a constant mask);  da = g·cond, db = g·¬cond."""

    @staticmethod
    def forward(ctx, a, b, cond):
        ctx.save_for_backward(cond, ~cond)
        return np.where(cond, a, b)

    @staticmethod
    def backward(ctx, g):
        cond, not_cond = ctx.saved_tensors
        return g * cond, g * not_cond

    @staticmethod
    def jvp(ctx, ta, tb):
        """Forward mode: dy = ta where cond else tb."""
        cond, not_cond = ctx.saved
        return _tsum(None if ta is None else ta * cond, None if tb is None else tb * not_cond)
