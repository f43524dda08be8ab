"""The differentiable operations: each forward next to its backward, one docstring each.

Reading guide. ``forward`` gets numpy arrays and returns one array. ``backward`` gets the
gradient of the output, ``g``, and returns one gradient per input (``None`` where no
gradient is needed). Rules never undo broadcasting themselves: the engine sums each
returned gradient down to its input's shape. Rules use only operations that numpy arrays
and Tensors share (``* / + - @ .sum .reshape .transpose``) plus the small ``_exp``,
``_log``, ``_expand``, ``_getitem`` and ``_scatter`` helpers, so the same rule runs on raw
arrays (ordinary backward) and on Tensors (``create_graph=True``, higher-order gradients).

Integer inputs to math ops are promoted to float32 before forward (see
``Function.promote_int``); shape ops (reshape, indexing, cat...) keep the dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_mlp.function import Context, Function
from tinygrad_mlp.tensor import Tensor

# ----- helpers that work on arrays and Tensors alike ----------------------------------------


def _arr(x: Any) -> np.ndarray:
    """``x`` as an ndarray (ufuncs return numpy scalars for 0-d inputs)."""
    return x if type(x) is np.ndarray else np.asarray(x)


def _exp(x: Any) -> Any:
    return x.exp() if isinstance(x, Tensor) else np.exp(x)


def _log(x: Any) -> Any:
    return x.log() if isinstance(x, Tensor) else np.log(x)


def _values(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _zero_where(mask: Any, x: Any) -> Any:
    """``x`` with zeros where ``mask`` holds (a constant), for rules' 0·∞ corner cases."""
    if not np.any(mask):
        return x
    if isinstance(x, Tensor):
        return Where.apply(Tensor(np.zeros((), x.dtype)), x, cond=np.asarray(mask))
    return np.where(mask, np.zeros((), x.dtype), x)


def _expand(x: Any, shape: tuple[int, ...]) -> Any:
    return Expand.apply(x, shape=shape) if isinstance(x, Tensor) else np.broadcast_to(x, shape)


def _getitem(x: Any, index: Any) -> Any:
    return GetItem.apply(x, index=index) if isinstance(x, Tensor) else x[index]


def _scatter(g: Any, shape: tuple[int, ...], index: Any) -> Any:
    if isinstance(g, Tensor):
        return ScatterAdd.apply(g, shape=shape, index=index)
    return ScatterAdd.forward(Context(ScatterAdd), g, shape=shape, index=index)


# ----- arithmetic --------------------------------------------------------------------------


class Add(Function):
    """a + b;  da = g, db = g."""

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    """a - b;  da = g, db = -g."""

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Neg(Function):
    """-a;  da = -g."""

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return -g


class Mul(Function):
    """a * b;  da = g·b, db = g·a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (g * b if da else None), (g * a if db else None)


class Div(Function):
    """q = a / b;  da = g / b, db = -(g / b)·q."""

    @staticmethod
    def forward(ctx, a, b):
        q = _arr(a / b)
        ctx.save_for_backward(b, q)
        return q

    @staticmethod
    def backward(ctx, g):
        b, q = ctx.saved_tensors
        ga = g / b
        return ga, (-ga * q if ctx.needs_input_grad[1] else None)


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


class MatMul(Function):
    """c = a @ b (numpy semantics: batched, 1-D operands);  da = g @ bᵀ, db = aᵀ @ g.

    A 1-D operand is treated as a row (a) or column (b) matrix and the gradient is
    reshaped back; batch dimensions broadcast and are summed back by the engine.
    """

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


class Linear(Function):
    """y = x @ Wᵀ + b (fused, PyTorch layout W: (out, in));  dx = g @ W, dW = gᵀ x, db = Σ g.

    One op instead of matmul + transpose + add: fewer graph nodes and temporaries.
    """

    @staticmethod
    def forward(ctx, x, w, b=None):
        if x.shape[-1:] != w.shape[1:] or w.ndim != 2:
            raise ValueError(
                f"linear: input of shape {x.shape} does not match weight of shape {w.shape} "
                f"(expected input (..., {w.shape[-1]}))"
            )
        ctx.save_for_backward(x, w)
        y = x @ w.T
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


# ----- elementwise functions ---------------------------------------------------------------


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


class Abs(Function):
    """y = |x|;  dx = g·sign(x)  (sign(0) = 0, as PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(np.sign(x))
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        (sign,) = ctx.saved_tensors
        return g * sign


class Sigmoid(Function):
    """s = 1 / (1 + e⁻ˣ);  dx = g·s·(1 - s).

    e⁻ˣ overflows to inf for x ≪ 0 and 1/inf = 0 exactly, so no input gives NaN.
    """

    @staticmethod
    def forward(ctx, x):
        with np.errstate(over="ignore"):
            e = _arr(np.exp(-x))
        e += 1
        s = np.reciprocal(e, out=e)
        ctx.save_for_backward(s)
        return s

    @staticmethod
    def backward(ctx, g):
        (s,) = ctx.saved_tensors
        return g * s * (1 - s)


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


class ReLU(Function):
    """y = max(x, 0);  dx = g·[not x ≤ 0]  (relu'(0) = 0, and a NaN passes g on, as PyTorch)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(~(x <= 0))
        return np.maximum(x, 0)

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return g * mask


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


class Maximum(Function):
    """y = max(a, b) elementwise (``fn=np.minimum`` for min);  ties split g half and half."""

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


# ----- reductions and normalisations -------------------------------------------------------


def _keepdims_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    """``shape`` with the reduced axes kept as size 1."""
    return tuple(1 if axes is None or i in axes else n for i, n in enumerate(shape))


class Sum(Function):
    """y = Σ x over ``axis``;  dx = g broadcast back over the summed axes."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        ctx.in_shape = x.shape
        ctx.kd_shape = _keepdims_shape(x.shape, axis)
        return np.sum(x, axis=axis, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        return _expand(g.reshape(ctx.kd_shape), ctx.in_shape)


class Max(Function):
    """y = max x over ``axis`` (``fn=np.min`` for min);  dx = g split evenly among the ties.

    Like ``torch.amax``: every element equal to the extreme gets g / (number of ties).
    """

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False, fn=np.max):
        y = fn(x, axis=axis, keepdims=True)
        w = (x == y).astype(np.result_type(x, np.float32))
        with np.errstate(invalid="ignore", divide="ignore"):  # NaN input: NaN gradient
            w /= w.sum(axis=axis, keepdims=True)
        ctx.kd_shape = y.shape
        ctx.save_for_backward(w)
        return y if keepdims else y.reshape(_reduced_shape(x.shape, axis))

    @staticmethod
    def backward(ctx, g):
        (w,) = ctx.saved_tensors
        return g.reshape(ctx.kd_shape) * w


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


# ----- shape and indexing ------------------------------------------------------------------


class Cast(Function):
    """y = x as ``dtype``;  dx = g as x's dtype (the engine's gradient casts, create_graph)."""

    promote_int = False

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.in_dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        if isinstance(g, Tensor):
            return Cast.apply(g, dtype=ctx.in_dtype)
        return g.astype(ctx.in_dtype)


class Reshape(Function):
    """y = x viewed with a new shape;  dx = g reshaped back."""

    promote_int = False

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.in_shape)


class Transpose(Function):
    """y = x with axes permuted (None reverses them);  dx = g with the inverse permutation."""

    promote_int = False

    @staticmethod
    def forward(ctx, x, axes=None):
        ctx.inverse = tuple(int(i) for i in np.argsort(axes)) if axes is not None else None
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(*ctx.inverse) if ctx.inverse is not None else g.transpose()


class Expand(Function):
    """y = x broadcast to ``shape``;  dx = g (the engine sums it back to x's shape)."""

    promote_int = False

    @staticmethod
    def forward(ctx, x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return g


def _is_advanced(index: Any) -> bool:
    """Does ``index`` hold integer arrays (which may repeat positions)?"""
    parts = index if isinstance(index, tuple) else (index,)
    return any(
        isinstance(p, list) or (isinstance(p, np.ndarray) and p.dtype.kind in "iu") for p in parts
    )


class GetItem(Function):
    """y = x[index] (slices, integer arrays, boolean masks);  dx = g scattered into zeros."""

    promote_int = False

    @staticmethod
    def forward(ctx, x, index):
        ctx.in_shape = x.shape
        ctx.index = index
        return x[index]

    @staticmethod
    def backward(ctx, g):
        return _scatter(g, ctx.in_shape, ctx.index)


class ScatterAdd(Function):
    """y = zeros(shape) with g added at ``index`` (repeats add up);  dg = dy[index].

    The backward of indexing, and itself differentiable, so indexing has second derivatives.
    """

    promote_int = False

    @staticmethod
    def forward(ctx, g, shape, index):
        ctx.index = index
        out = np.zeros(shape, dtype=g.dtype)
        if _is_advanced(index):
            np.add.at(out, index, g)
        else:
            out[index] = g
        return out

    @staticmethod
    def backward(ctx, g):
        return _getitem(g, ctx.index)


class Cat(Function):
    """y = concatenate(xs, axis);  each dxᵢ = its slice of g."""

    promote_int = False

    @staticmethod
    def forward(ctx, *xs, axis=0):
        y = np.concatenate(xs, axis=axis)
        ctx.axis = axis % y.ndim
        ctx.bounds = np.cumsum([0] + [x.shape[ctx.axis] for x in xs])
        return y

    @staticmethod
    def backward(ctx, g):
        before = (slice(None),) * ctx.axis
        b = ctx.bounds
        return tuple(g[before + (slice(b[i], b[i + 1]),)] for i in range(len(b) - 1))


class Stack(Function):
    """y = stack(xs, axis) (a new axis);  each dxᵢ = g[..., i, ...]."""

    promote_int = False

    @staticmethod
    def forward(ctx, *xs, axis=0):
        y = np.stack(xs, axis=axis)
        ctx.axis = axis % y.ndim
        ctx.count = len(xs)
        return y

    @staticmethod
    def backward(ctx, g):
        before = (slice(None),) * ctx.axis
        return tuple(g[before + (i,)] for i in range(ctx.count))


# ----- public functional forms: tg.exp(x), tg.sum(x, axis=0), ... -------------------------


def tensor(x: Any) -> Tensor:
    """``x`` as a Tensor (Tensors pass through unchanged)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def _pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Operands of a binary op: next to a Tensor, a number stays a (weakly typed) constant,
    as with operators, so ``tg.maximum(x64, 0.1)`` is not rounded to float32."""
    return (a, b) if isinstance(a, Tensor) or isinstance(b, Tensor) else (tensor(a), b)


def add(a: Any, b: Any) -> Tensor:
    return Add.apply(*_pair(a, b))


def sub(a: Any, b: Any) -> Tensor:
    return Sub.apply(*_pair(a, b))


def mul(a: Any, b: Any) -> Tensor:
    return Mul.apply(*_pair(a, b))


def div(a: Any, b: Any) -> Tensor:
    return Div.apply(*_pair(a, b))


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001  (numpy's name)
    return Pow.apply(*_pair(a, b))


def neg(x: Any) -> Tensor:
    return -tensor(x)


def matmul(a: Any, b: Any) -> Tensor:
    return MatMul.apply(*_pair(a, b))


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias, as one fused op (PyTorch's F.linear)."""
    args = (tensor(x), weight) if bias is None else (tensor(x), weight, bias)
    return Linear.apply(*args)


def exp(x: Any) -> Tensor:
    return tensor(x).exp()


def log(x: Any) -> Tensor:
    return tensor(x).log()


def sqrt(x: Any) -> Tensor:
    return tensor(x).sqrt()


def abs(x: Any) -> Tensor:  # noqa: A001
    return tensor(x).abs()


def sigmoid(x: Any) -> Tensor:
    return tensor(x).sigmoid()


def tanh(x: Any) -> Tensor:
    return tensor(x).tanh()


def relu(x: Any) -> Tensor:
    return tensor(x).relu()


def clip(x: Any, lo: float | None = None, hi: float | None = None) -> Tensor:
    return tensor(x).clip(lo, hi)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return tensor(x).sum(axis, keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return tensor(x).mean(axis, keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return tensor(x).max(axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return tensor(x).min(axis, keepdims)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return tensor(x).argmax(axis, keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return tensor(x).argmin(axis, keepdims)


def softmax(x: Any, axis: int = -1) -> Tensor:
    return tensor(x).softmax(axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    return tensor(x).log_softmax(axis)


def reshape(x: Any, shape: Sequence[int]) -> Tensor:
    return tensor(x).reshape(shape)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    return tensor(x).transpose(axes) if axes is not None else tensor(x).transpose()


def flatten(x: Any) -> Tensor:
    return tensor(x).flatten()


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    return tensor(x).broadcast_to(shape)


def cat(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return Cat.apply(*[tensor(t) for t in tensors], axis=axis)


concatenate = cat


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    return Stack.apply(*[tensor(t) for t in tensors], axis=axis)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a`` where ``cond`` is true, else ``b``; differentiable in a and b."""
    mask = np.asarray(cond.data if isinstance(cond, Tensor) else cond, dtype=bool)
    return Where.apply(*_pair(a, b), cond=mask)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; on ties each side gets half the gradient."""
    return Maximum.apply(*_pair(a, b), fn=np.maximum)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; on ties each side gets half the gradient."""
    return Maximum.apply(*_pair(a, b), fn=np.minimum)

