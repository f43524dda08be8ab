"""Operations composed from other ops: they add no rules of their own, so their gradients
(first, second order and forward mode) come from the ops they use.

    shape      flatten(start, end), unflatten, squeeze, unsqueeze, tile/repeat, flip,
               narrow, split, chunk, unbind, hstack, vstack
    reductions var, std (correction=1, as torch), logsumexp, norm (vector p-norms),
               argmax/argmin and torch's max(dim=) pair
    products   outer, dot, einsum (the op is in linalg.py)
    dtype      astype: differentiable between float dtypes, a plain conversion otherwise

Composites are written where the numerics allow it; where they do not, the op gets its
own rule (prod with zeros in scan.py, the 2-norm at zero in linalg.py).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_mlp.ops._args import (
    ValuesIndices,
    axis_index,
    split_sizes,
    squeezed_shape,
    tile_shapes,
)
from tinygrad_mlp.ops.arithmetic import MatMul
from tinygrad_mlp.ops.index import take_along_axis
from tinygrad_mlp.ops.linalg import Einsum, Norm
from tinygrad_mlp.ops.shape import Cast, Cat, Expand, GetItem, Reshape
from tinygrad_mlp.tensor import Tensor, _axes

# ----- shape ---------------------------------------------------------------------------


def flatten_dims(x: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Dimensions ``start_dim..end_dim`` (inclusive) merged into one."""
    if x.ndim == 0:
        return Reshape.apply(x, shape=(1,))
    s = axis_index(start_dim, x.ndim, "flatten")
    e = axis_index(end_dim, x.ndim, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim}")
    shape = x.shape[:s] + (math.prod(x.shape[s:e + 1]),) + x.shape[e + 1:]
    return Reshape.apply(x, shape=shape)


def unflatten(x: Tensor, axis: int, sizes: Sequence[int]) -> Tensor:
    """Axis ``axis`` split into dimensions ``sizes`` (one may be -1)."""
    a = axis_index(axis, x.ndim, "unflatten")
    sizes = tuple(int(n) for n in sizes)
    known = math.prod(n for n in sizes if n != -1)
    if sizes.count(-1) == 1 and known:
        sizes = tuple(x.shape[a] // known if n == -1 else n for n in sizes)
    if math.prod(sizes) != x.shape[a]:
        raise ValueError(f"unflatten: sizes {sizes} do not multiply to axis {a}'s {x.shape[a]}")
    return Reshape.apply(x, shape=x.shape[:a] + sizes + x.shape[a + 1:])


def squeeze(x: Tensor, axis: Any = None) -> Tensor:
    """Size-1 dimensions removed (only those named by ``axis``, when given; a named one
    whose size is not 1 is left alone, as torch)."""
    axes = None if axis is None else _axes(axis, x.ndim)
    if x.ndim == 0:
        return x
    return Reshape.apply(x, shape=squeezed_shape(x.shape, axes))


def unsqueeze(x: Tensor, axis: int) -> Tensor:
    """A new size-1 dimension at ``axis`` (-1: last, as torch)."""
    a = axis_index(axis, x.ndim, "unsqueeze", extra=1)
    return Reshape.apply(x, shape=x.shape[:a] + (1,) + x.shape[a:])


def tile(x: Tensor, reps: Any) -> Tensor:
    """numpy's tile: ``reps`` copies along each axis (missing leading entries are 1)."""
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    inter, big, final = tile_shapes(x.shape, reps)
    y = Expand.apply(Reshape.apply(x, shape=inter), shape=big)
    return Reshape.apply(y, shape=final)


def repeat(x: Tensor, *reps: Any) -> Tensor:
    """torch's repeat: ``reps`` (as sizes or a tuple) copies along each axis; at least as
    many entries as x has dimensions."""
    if len(reps) == 1 and isinstance(reps[0], (tuple, list)):
        reps = tuple(reps[0])
    if len(reps) < x.ndim:
        raise ValueError(
            f"repeat: {len(reps)} repetition(s) for a {x.ndim}-d tensor: give at least one "
            "per dimension (tile pads with 1s instead)"
        )
    return tile(x, reps)


def flip(x: Tensor, axis: Any = None) -> Tensor:
    """Order reversed along ``axis`` (an int or tuple; None: every axis)."""
    axes = range(x.ndim) if axis is None else (_axes(axis, x.ndim) or ())
    if x.ndim == 0:
        return x
    index = tuple(slice(None, None, -1) if i in axes else slice(None) for i in range(x.ndim))
    return GetItem.apply(x, index=index)


def narrow(x: Tensor, axis: int, start: int, length: int) -> Tensor:
    """Elements ``start .. start+length-1`` along ``axis`` (start may be negative)."""
    a = axis_index(axis, x.ndim, "narrow")
    n = x.shape[a]
    s = start + n if start < 0 else start
    if not 0 <= s <= n or length < 0 or s + length > n:
        raise ValueError(
            f"narrow: start {start} and length {length} do not fit axis {a} of size {n}"
        )
    return GetItem.apply(x, index=(slice(None),) * a + (slice(s, s + length),))


def split(x: Tensor, size_or_sections: Any, axis: int = 0) -> tuple[Tensor, ...]:
    """Pieces along ``axis``: an int is each piece's size (torch.split), a list the sizes."""
    a = axis_index(axis, x.ndim, "split")
    starts = np.cumsum([0] + split_sizes(x.shape[a], size_or_sections))
    bounds = zip(starts[:-1], starts[1:], strict=True)
    return tuple(narrow(x, a, int(b), int(e - b)) for b, e in bounds)


def chunk(x: Tensor, chunks: int, axis: int = 0) -> tuple[Tensor, ...]:
    """At most ``chunks`` pieces of equal size along ``axis`` (the last may be smaller)."""
    if chunks <= 0:
        raise ValueError(f"chunk: number of chunks must be positive, got {chunks}")
    a = axis_index(axis, x.ndim, "chunk")
    return split(x, max(-(-x.shape[a] // chunks), 1), a)


def unbind(x: Tensor, axis: int = 0) -> tuple[Tensor, ...]:
    """The slices along ``axis``, that axis removed."""
    a = axis_index(axis, x.ndim, "unbind")
    return tuple(GetItem.apply(x, index=(slice(None),) * a + (i,)) for i in range(x.shape[a]))


def _tensors(ts: Sequence[Any]) -> list[Tensor]:
    return [t if isinstance(t, Tensor) else Tensor(t) for t in ts]


def hstack(tensors: Sequence[Any]) -> Tensor:
    """Joined along axis 1 (axis 0 for 1-D tensors), as numpy and torch."""
    ts = [t.reshape(1) if t.ndim == 0 else t for t in _tensors(tensors)]
    return Cat.apply(*ts, axis=0 if all(t.ndim == 1 for t in ts) else 1)


def vstack(tensors: Sequence[Any]) -> Tensor:
    """Joined along axis 0, 1-D tensors first made rows, as numpy and torch."""
    ts = [t.reshape(1, -1) if t.ndim < 2 else t for t in _tensors(tensors)]
    return Cat.apply(*ts, axis=0)


# ----- reductions ------------------------------------------------------------------------


def arg_extreme(x: Tensor, fn: Any, axis: Any, keepdims: bool) -> Tensor:
    """``np.argmax``/``np.argmin`` as a non-differentiable int64 Tensor (0-d: axis 0/-1)."""
    if axis is not None:
        axis = axis_index(axis, x.ndim, fn.__name__)
        if x.ndim == 0:
            axis = None
    return Tensor._make(np.asarray(fn(x.data, axis=axis, keepdims=keepdims)), None)


def values_indices(x: Tensor, fn: Any, axis: int, keepdims: bool) -> ValuesIndices:
    """torch's ``max(dim=)``/``min(dim=)``: ``(values, indices)``; the values' gradient
    goes to the element the index names (not shared among ties, as torch)."""
    idx = arg_extreme(x, fn, axis, keepdims=True)
    if x.ndim == 0:
        return ValuesIndices(x * 1, idx)
    a = axis_index(axis, x.ndim, fn.__name__)
    values = take_along_axis(x, idx.data, a)
    if not keepdims:
        values = squeeze(values, a)
        idx = Tensor._make(idx.data.squeeze(a), None)
    return ValuesIndices(values, idx)


def var(x: Tensor, axis: Any = None, correction: float = 1, keepdims: bool = False) -> Tensor:
    """Σ (x - mean)² / (N - correction) over ``axis``; correction=1 (Bessel's) as torch."""
    axes = _axes(axis, x.ndim) if x.ndim else None
    d = x - x.mean(axes, keepdims=True)
    s = (d * d).sum(axes, keepdims)
    n = x.size // max(s.size, 1) if x.size else 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return s / float(max(n - correction, 0))


def std(x: Tensor, axis: Any = None, correction: float = 1, keepdims: bool = False) -> Tensor:
    """√var (correction=1, as torch)."""
    return var(x, axis, correction, keepdims).sqrt()


def logsumexp(x: Tensor, axis: Any = None, keepdims: bool = False) -> Tensor:
    """ln Σ eˣ over ``axis``, stable for huge values: the max is taken out first (as a
    constant: the gradient is softmax either way)."""
    axes = _axes(axis, x.ndim) if x.ndim else None
    m = np.max(x.data, axis=axes, keepdims=True) if x.size else np.zeros((1,) * x.ndim)
    m = np.where(np.isfinite(m), m, 0).astype(np.result_type(x.dtype, np.float32))
    y = (x - m).exp().sum(axes, keepdims=True).log() + m
    return y if keepdims else squeeze(y, axes if axes is not None else tuple(range(x.ndim)))


def norm(x: Tensor, ord: Any = 2, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """The vector ``ord``-norm over ``axis`` (all elements by default), as torch's
    ``Tensor.norm``: 2 (or 'fro'), 1, inf, -inf, 0 (non-zeros) or any p > 0. Over two
    axes it is still a vector norm (Frobenius for 2), not numpy's matrix norms."""
    axes = _axes(axis, x.ndim) if x.ndim else None
    if ord is None or ord == 2 or ord == "fro":
        return Norm.apply(x, axis=axes, keepdims=keepdims)
    if ord == 1:
        return x.abs().sum(axes, keepdims)
    if ord == math.inf:
        return x.abs().max(axes, keepdims)
    if ord == -math.inf:
        return x.abs().min(axes, keepdims)
    if ord == 0:
        nonzero = Tensor._make((x.data != 0).astype(np.result_type(x.dtype, np.float32)), None)
        return nonzero.sum(axes, keepdims)
    if isinstance(ord, str) or ord < 0:
        raise ValueError(f"norm: unsupported ord {ord!r} (2, 'fro', 1, inf, -inf, 0 or p > 0)")
    return (x.abs() ** ord).sum(axes, keepdims) ** (1.0 / ord)


# ----- products ----------------------------------------------------------------------------


def einsum(subscripts: str, *operands: Any) -> Tensor:
    """Einstein summation, as numpy/torch: ``tg.einsum("ij,jk->ik", a, b)``. Operands may
    also be given as one list. Supports ``...``, implicit output and repeated letters.

    >>> import tinygrad_mlp as tg
    >>> tg.einsum("i,i->", tg.tensor([1.0, 2.0]), tg.tensor([3.0, 4.0])).item()
    11.0
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return Einsum.apply(*_tensors(operands), subscripts=subscripts)


def outer(a: Any, b: Any) -> Tensor:
    """``out[i, j] = a[i]·b[j]`` for 1-D a and b."""
    a, b = _tensors((a, b))
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"outer: needs two 1-D tensors, got shapes {a.shape} and {b.shape}")
    return a.reshape(-1, 1) * b.reshape(1, -1)


def dot(a: Any, b: Any) -> Tensor:
    """Σ aᵢ·bᵢ for two 1-D tensors of the same length (torch.dot)."""
    a, b = _tensors((a, b))
    if a.ndim != 1 or b.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"dot: needs two 1-D tensors of the same length, got shapes {a.shape} and {b.shape}"
        )
    return MatMul.apply(a, b)


# ----- dtype -------------------------------------------------------------------------------


def astype(x: Tensor, dtype: Any) -> Tensor:
    """``x`` as ``dtype``: differentiable between floating dtypes (the gradient is cast
    back); to or from integers and bools a plain conversion outside the graph."""
    dt = np.dtype(dtype)
    if dt.kind in "fc" and x.dtype.kind in "fc":
        return Cast.apply(x, dtype=dt)
    return Tensor._make(x.data.astype(dt), None)


__all__ = [
    "arg_extreme", "astype", "chunk", "dot", "einsum", "flatten_dims", "flip", "hstack",
    "logsumexp", "narrow", "norm", "outer", "repeat", "split", "squeeze", "std",
    "tile", "unbind", "unflatten", "unsqueeze", "values_indices", "var", "vstack",
]
