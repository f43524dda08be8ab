"""Arithmetic: + - * / ** and unary minus, matrix products and the fused linear layer."""

from __future__ import annotations

import numpy as np

from tinygrad_mlp.function import Function
from tinygrad_mlp.ops._common import _arr, _log, _tsum, _values
from tinygrad_mlp.ops.elementwise import _zero_where


class Add(Function):
    """a + b;  da = g, db = g."""

    promote_int = "mixed"  # integers stay exact, as numpy's

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g

    @staticmethod
    def jvp(ctx, ta, tb):
        """Forward mode: d(a + b) = ta + tb."""
        return _tsum(ta, tb)


class Sub(Function):
    """a - b;  da = g, db = -g."""

    promote_int = "mixed"  # integers stay exact, as numpy's

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        """Forward mode: d(a - b) = ta - tb."""
        return _tsum(ta, None if tb is None else -tb)


class Neg(Function):
    """-a;  da = -g."""

    promote_int = "mixed"  # integers stay exact, as numpy's

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g

    @staticmethod
    def jvp(ctx, ta):
        """Forward mode: d(-a) = -ta."""
        return -ta


class Mul(Function):
    """a * b;  da = g·b, db = g·a."""

    promote_int = "mixed"  # integers stay exact, as numpy's

    @staticmethod
    def forward(ctx, a, b):
        da, db = ctx.needs_input_grad  # keep only what a gradient needs (x * 3 keeps 3)
        ctx.save_for_backward(a if db else None, b if da else None)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (g * b if da else None), (g * a if db else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        """Forward mode: d(a·b) = ta·b + a·tb."""
        a, b = ctx.primals
        return _tsum(None if ta is None else ta * b, None if tb is None else a * tb)


class Div(Function):
    """q = a / b;  da = g / b, db = -(g / b)·q."""

    @staticmethod
    def forward(ctx, a, b):
        q = _arr(a / b)
        ctx.save_for_backward(b, q if ctx.needs_input_grad[1] else None)
        return q

    @staticmethod
    def backward(ctx, g):
        b, q = ctx.saved_tensors
        ga = g / b
        return ga, (-ga * q if ctx.needs_input_grad[1] else None)

    @staticmethod
    def jvp(ctx, ta, tb):
        """Forward mode: d(a / b) = (ta - q·tb) / b."""
        b, q = ctx.primals[1], ctx.result
        return _tsum(ta, None if tb is None else -(q * tb)) / b


class Pow(Function):
    """y = a ** b;  da = g·b·a^(b-1), db = g·y·ln(a).

    At a = 0, as PyTorch: da = 0 where b = 0 (b·a^(b-1) would be 0·∞), and db = 0 where
    b ≥ 0 (y·ln a would be 0·(−∞)).
    """

    @staticmethod
    def forward(ctx, a, b):
        y = _arr(a**b)
        ctx.save_for_backward(a, b, y)
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        if isinstance(b, (int, float)) and b == 0:  # a⁰ = 1: da = 0, also at a = 0 (0·0⁻¹)
            return g * 0, None
        ga = gb = None
        av, bv = _values(a), _values(b)
        with np.errstate(divide="ignore", invalid="ignore"):
            if da:
                ga = _zero_where((bv == 0) & (av == 0), g * b * a ** (b - 1))
            if db:
                gb = _zero_where((av == 0) & (bv >= 0), g * y * _log(a))
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        """Forward mode: dy = ta·b·a^(b-1) + tb·y·ln(a), with backward's zeros at a = 0."""
        a, b = ctx.primals
        y = ctx.result
        da = db = None
        with np.errstate(divide="ignore", invalid="ignore"):
            if ta is not None:
                da = ta * _zero_where((_values(b) == 0) & (_values(a) == 0), b * a ** (b - 1))
            if tb is not None:
                db = tb * _zero_where((_values(a) == 0) & (_values(b) >= 0), y * _log(a))
        return _tsum(da, db)


class MatMul(Function):
    """c = a @ b (numpy semantics: batched, 1-D operands);  da = g @ bᵀ, db = aᵀ @ g.

    A 1-D operand is treated as a row (a) or column (b) matrix and the gradient is
    reshaped back; batch dimensions broadcast and are summed back by the engine.
    """

    promote_int = "mixed"  # integers stay exact, as numpy's

    @staticmethod
    def forward(ctx, a, b):
        a, b = np.asarray(a), np.asarray(b)
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: operands must be at least 1-D, got {a.shape} @ {b.shape}")
        try:
            c = np.matmul(a, b)
        except ValueError:
            raise ValueError(
                f"matmul: shapes {a.shape} and {b.shape} are not aligned: "
                f"{a.shape[-1]} (last dim of a) != {b.shape[-2 if b.ndim > 1 else 0]} "
                "(second-to-last dim of b), or batch dims do not broadcast"
            ) from None
        ctx.save_for_backward(a, b)
        return c

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        a_vec, b_vec = a.ndim == 1, b.ndim == 1
        if b_vec:
            b = b.reshape((-1, 1))
            g = g.reshape(tuple(g.shape) + (1,))
        if a_vec:
            a = a.reshape((1, -1))
            g = g.reshape(tuple(g.shape[:-1]) + (1,) + tuple(g.shape[-1:]))
        da, db = ctx.needs_input_grad
        ga = g @ b.swapaxes(-1, -2) if da else None
        gb = a.swapaxes(-1, -2) @ g if db else None
        if gb is not None and b_vec:
            gb = gb.reshape(tuple(gb.shape[:-1]))
        return ga, gb

    @staticmethod
    def jvp(ctx, ta, tb):
        """Forward mode: d(a @ b) = ta @ b + a @ tb."""
        a, b = ctx.primals
        return _tsum(None if ta is None else ta @ b, None if tb is None else a @ tb)


class Linear(Function):
    """y = x @ Wᵀ + b (fused, PyTorch layout W: (out, in));  dx = g @ W, dW = gᵀ x, db = Σ g.

    One op instead of matmul + transpose + add: fewer graph nodes and temporaries.
    """

    @staticmethod
    def forward(ctx, x, w, b=None):
        try:  # a shape mismatch is rare: let matmul find it, then name both shapes
            y = x @ w.T if w.ndim == 2 else None
        except ValueError:
            y = None
        if y is None:
            raise ValueError(
                f"linear: input of shape {x.shape} does not match weight of shape {w.shape} "
                f"(expected input (..., {w.shape[-1]}))"
            )
        ctx.save_for_backward(x, w)
        if b is not None:
            y += b
        return y

    @staticmethod
    def backward(ctx, g):
        x, w = ctx.saved_tensors
        need = ctx.needs_input_grad
        g2 = g if g.ndim == 2 else g.reshape((-1, g.shape[-1]))
        gx = g @ w if need[0] else None
        gw = g2.T @ (x if x.ndim == 2 else x.reshape((-1, x.shape[-1]))) if need[1] else None
        if len(need) == 2:
            return gx, gw
        return gx, gw, (g2.sum(axis=0) if need[2] else None)

    @staticmethod
    def jvp(ctx, tx, tw, tb=None):
        """Forward mode: dy = tx @ Wᵀ + x @ twᵀ + tb."""
        x, w = ctx.primals[:2]
        return _tsum(None if tx is None else tx @ w.T, None if tw is None else x @ tw.T, tb)
