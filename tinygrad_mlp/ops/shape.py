"""Shape and indexing ops: cast, reshape, transpose, expand, indexing, cat, stack.

Shape ops keep their input's dtype (``promote_int = False``): reshaping an integer
tensor gives an integer tensor.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_mlp.function import Context, Function
from tinygrad_mlp.tensor import Tensor


def _expand(x: Any, shape: tuple[int, ...]) -> Any:
    return Expand.apply(x, shape=shape) if isinstance(x, Tensor) else np.broadcast_to(x, shape)

def _getitem(x: Any, index: Any) -> Any:
    return GetItem.apply(x, index=index) if isinstance(x, Tensor) else x[index]

def _scatter(g: Any, shape: tuple[int, ...], index: Any) -> Any:
    if isinstance(g, Tensor):
        return ScatterAdd.apply(g, shape=shape, index=index)
    return ScatterAdd.forward(Context(ScatterAdd), g, shape=shape, index=index)


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

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t as the output's dtype."""
        dtype = ctx.result.dtype
        return Cast.apply(t, dtype=dtype) if isinstance(t, Tensor) else t.astype(dtype)


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

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t reshaped the same way."""
        return t.reshape(ctx.result.shape)


def _permutation(axes: Any, ndim: int) -> tuple[int, ...]:
    """``axes`` (negatives allowed) as non-negative ints; a clear error unless they are a
    permutation of ``range(ndim)``. The one place permutations are normalised."""
    perm = tuple(int(a) + ndim if -ndim <= int(a) < 0 else int(a) for a in axes)
    if sorted(perm) != list(range(ndim)):
        raise ValueError(
            f"transpose: axes {tuple(axes)} must be a permutation of the dimensions "
            f"0..{ndim - 1} of a {ndim}-d tensor (negatives allowed; swapaxes(a, b) "
            "exchanges two)"
        )
    return perm


class Transpose(Function):
    """y = x with axes permuted (None reverses them);  dx = g with the inverse permutation."""

    promote_int = False

    @staticmethod
    def forward(ctx, x, axes=None):
        if axes is not None:
            axes = _permutation(axes, x.ndim)
        ctx.inverse = tuple(int(i) for i in np.argsort(axes)) if axes is not None else None
        return np.transpose(x, axes)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(*ctx.inverse) if ctx.inverse is not None else g.transpose()

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t permuted the same way."""
        axes = ctx.options.get("axes")
        return t.transpose(*axes) if axes is not None else t.transpose()


class Expand(Function):
    """y = x broadcast to ``shape``;  dx = g (the engine sums it back to x's shape)."""

    promote_int = False

    @staticmethod
    def forward(ctx, x, shape):
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t broadcast the same way."""
        return _expand(t, ctx.result.shape)


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
        out = x[index]
        if type(out) is not np.ndarray:  # one element: a 0-d view of it (as torch), not a copy
            out = x[(*index, ...) if isinstance(index, tuple) else (index, ...)]
        return out

    @staticmethod
    def backward(ctx, g):
        return _scatter(g, ctx.in_shape, ctx.index)

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t[index]."""
        return _getitem(t, ctx.index)


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

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = zeros with t added at ``index`` (the op is linear)."""
        return _scatter(t, ctx.result.shape, ctx.index)


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

    @staticmethod
    def jvp(ctx, *ts):
        """Forward mode: dy = concatenate(tangents) (zeros for inputs without one)."""
        ts = [np.zeros_like(x) if t is None else t for x, t in zip(ctx.primals, ts, strict=True)]
        if any(isinstance(t, Tensor) for t in ts):
            return Cat.apply(*ts, axis=ctx.axis)
        return np.concatenate(ts, axis=ctx.axis)


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

    @staticmethod
    def jvp(ctx, *ts):
        """Forward mode: dy = stack(tangents) (zeros for inputs without one)."""
        ts = [np.zeros_like(x) if t is None else t for x, t in zip(ctx.primals, ts, strict=True)]
        if any(isinstance(t, Tensor) for t in ts):
            return Stack.apply(*ts, axis=ctx.axis)
        return np.stack(ts, axis=ctx.axis)


class SetItem(Function):
    """y = x with y[index] = v (what ``x[index] = v`` records);  dx = g with zeros at
    ``index``, dv = g[index] (summed back to v's shape by the engine)."""

    promote_int = False

    @staticmethod
    def forward(ctx, x, v, index):
        ctx.index = index
        ctx.hit = np.zeros(x.shape, dtype=bool)
        ctx.hit[index] = True
        y = x.copy()
        y[index] = v
        return y

    @staticmethod
    def backward(ctx, g):
        from tinygrad_mlp.ops.elementwise import _zero_where

        need_x, need_v = ctx.needs_input_grad
        return (_zero_where(ctx.hit, g) if need_x else None,
                _getitem(g, ctx.index) if need_v else None)

    @staticmethod
    def jvp(ctx, tx, tv):
        """Forward mode: dy = tx with dy[index] = tv (zeros where a tangent is missing)."""
        return _part_replaced(ctx, tx, tv, lambda a, b: SetItem.apply(a, b, index=ctx.index),
                              lambda y, t: y.__setitem__(ctx.index, t))


def _part_replaced(ctx: Any, tx: Any, tv: Any, record: Any, write: Any) -> Any:
    """The tangent of "x with a part replaced by v": tx with that part replaced by tv
    (zeros where a tangent is missing). ``record(tx, tv)`` is the op itself, for Tensor
    tangents; ``write(y, tv)`` writes the part of an array in place."""
    x, v = ctx.primals
    tx = np.zeros_like(x) if tx is None else tx
    tv = np.zeros(np.shape(v), dtype=x.dtype) if tv is None else tv
    if isinstance(tx, Tensor) or isinstance(tv, Tensor):
        return record(tx if isinstance(tx, Tensor) else Tensor._make(tx, None), tv)
    y = np.array(tx, copy=True)
    write(y, tv)
    return y


class WriteView(Function):
    """y = x with the part that ``view`` (a :class:`~tinygrad_mlp.tensor._View`) sees
    replaced by v: what an in-place change through a view does to the viewed tensor
    (PyTorch's CopySlices);  dx = g with that part zeroed, dv = that part of g."""

    promote_int = False

    @staticmethod
    def forward(ctx, x, v, view):
        ctx.view = view
        y = np.array(x, copy=True)
        np.copyto(view.of(y), v, casting="same_kind")
        return y

    @staticmethod
    def backward(ctx, g):
        need_x, need_v = ctx.needs_input_grad
        gx = None
        if need_x:
            if isinstance(g, Tensor):  # create_graph: a mask keeps the rule differentiable
                keep = np.ones(g.shape, g.dtype)
                ctx.view.of(keep)[...] = 0
                gx = g * keep
            else:
                gx = g.copy()
                ctx.view.of(gx)[...] = 0
        return gx, (ctx.view.of(g) if need_v else None)

    @staticmethod
    def jvp(ctx, tx, tv):
        """Forward mode: dy = tx with the viewed part replaced by tv."""
        return _part_replaced(ctx, tx, tv, lambda a, b: WriteView.apply(a, b, view=ctx.view),
                              lambda y, t: ctx.view.of(y).__setitem__(..., t))
