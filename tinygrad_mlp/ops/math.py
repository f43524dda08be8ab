"""More elementwise functions of one input: trigonometry, logs and exponentials in other
bases, powers (square, reciprocal, rsqrt) and the rounding family.

Each op has its reverse rule (``backward``: g times the derivative) and its forward rule
(``jvp``: the tangent t times the same derivative) side by side. ``_sin``, ``_cos`` and
``_sign`` call numpy on arrays and the differentiable op on Tensors, so every rule also
runs under ``create_graph=True`` (higher-order gradients).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_mlp.function import Function
from tinygrad_mlp.ops._common import _arr
from tinygrad_mlp.tensor import Tensor

_LN2 = math.log(2.0)


def _sin(x: Any) -> Any:
    return Sin.apply(x) if isinstance(x, Tensor) else np.sin(x)


def _cos(x: Any) -> Any:
    return Cos.apply(x) if isinstance(x, Tensor) else np.cos(x)


def _zeros(x: Any) -> Any:
    """Zeros shaped like ``x`` (a constant, also under create_graph)."""
    z = np.zeros(x.shape, x.dtype)
    return Tensor(z) if isinstance(x, Tensor) else z


class Sin(Function):
    """y = sin x;  dx = g·cos x;  jvp: t·cos x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _arr(np.sin(x))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _cos(x)

    @staticmethod
    def jvp(ctx, t):
        return t * _cos(ctx.primals[0])


class Cos(Function):
    """y = cos x;  dx = -g·sin x;  jvp: -t·sin x."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _arr(np.cos(x))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return -(g * _sin(x))

    @staticmethod
    def jvp(ctx, t):
        return -(t * _sin(ctx.primals[0]))


class Tan(Function):
    """y = tan x;  dx = g·(1 + y²);  jvp: t·(1 + y²)."""

    @staticmethod
    def forward(ctx, x):
        y = _arr(np.tan(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (1 + y * y)

    @staticmethod
    def jvp(ctx, t):
        y = ctx.result
        return t * (1 + y * y)


class Log2(Function):
    """y = log₂ x;  dx = g / (x·ln 2);  jvp: t / (x·ln 2)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _arr(np.log2(x))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (x * _LN2)

    @staticmethod
    def jvp(ctx, t):
        return t / (ctx.primals[0] * _LN2)


class Log1p(Function):
    """y = ln(1 + x), accurate for tiny x;  dx = g / (1 + x);  jvp: t / (1 + x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _arr(np.log1p(x))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g / (1 + x)

    @staticmethod
    def jvp(ctx, t):
        return t / (1 + ctx.primals[0])


class Exp2(Function):
    """y = 2ˣ;  dx = g·y·ln 2;  jvp: t·y·ln 2."""

    @staticmethod
    def forward(ctx, x):
        y = _arr(np.exp2(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y * _LN2

    @staticmethod
    def jvp(ctx, t):
        return t * ctx.result * _LN2


class Expm1(Function):
    """y = eˣ - 1, accurate for tiny x;  dx = g·(y + 1);  jvp: t·(y + 1)."""

    @staticmethod
    def forward(ctx, x):
        y = _arr(np.expm1(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y + 1)

    @staticmethod
    def jvp(ctx, t):
        return t * (ctx.result + 1)


class Rsqrt(Function):
    """y = 1/√x;  dx = -g·y³/2;  jvp: -t·y³/2."""

    @staticmethod
    def forward(ctx, x):
        with np.errstate(divide="ignore"):
            y = _arr(1 / np.sqrt(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * (y * y * y) * -0.5

    @staticmethod
    def jvp(ctx, t):
        y = ctx.result
        return t * (y * y * y) * -0.5


class Reciprocal(Function):
    """y = 1/x;  dx = -g·y²;  jvp: -t·y²."""

    @staticmethod
    def forward(ctx, x):
        with np.errstate(divide="ignore"):
            y = _arr(np.reciprocal(x))
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return -(g * (y * y))

    @staticmethod
    def jvp(ctx, t):
        y = ctx.result
        return -(t * (y * y))


class Square(Function):
    """y = x²;  dx = 2·g·x;  jvp: 2·t·x.  Integer tensors stay integer (exact, as torch)."""

    promote_int = False

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _arr(x * x)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * x * 2

    @staticmethod
    def jvp(ctx, t):
        return t * ctx.primals[0] * 2


class Rounding(Function):
    """y = fn(x) for a piecewise-constant ``fn`` (sign, floor, ceil, round, trunc);
    dx = 0;  jvp: 0.

    The derivative is 0 wherever it exists, and PyTorch uses 0 at the jumps too.
    Integer tensors keep their dtype (floor of an int is the int, as torch).
    """

    promote_int = False

    @staticmethod
    def forward(ctx, x, fn, decimals=0):
        if x.dtype.kind == "b" or (x.dtype.kind in "iu" and fn is not np.sign):
            return x.copy()  # already whole numbers (sign of a bool is itself, as torch)
        if fn is np.round:
            return _arr(np.round(x, decimals))
        return _arr(fn(x))

    @staticmethod
    def backward(ctx, g):
        return _zeros(g)

    @staticmethod
    def jvp(ctx, t):
        z = np.zeros(ctx.result.shape, ctx.result.dtype)
        return Tensor(z) if isinstance(t, Tensor) else z
