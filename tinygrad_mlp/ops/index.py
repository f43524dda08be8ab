"""Indexing along an axis: gather / take_along_axis, index_select, scatter_add, index_add.

No new ops: each builds an ordinary numpy index (integer arrays that broadcast
together) and calls ``GetItem`` (read) or ``ScatterAdd`` (add into zeros), whose rules
already undo each other to every order. Repeated indices add up, as in torch.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_mlp.ops.shape import GetItem, ScatterAdd
from tinygrad_mlp.tensor import Tensor


def _index_array(index: Any, name: str) -> np.ndarray:
    """``index`` (Tensor, array or list) as an integer ndarray, or a clear error."""
    idx = np.asarray(index.data if isinstance(index, Tensor) else index)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"{name}: index must hold integers, got dtype {idx.dtype}")
    return idx


def _axis(axis: int, ndim: int, name: str) -> int:
    if not -max(ndim, 1) <= axis < max(ndim, 1):
        raise ValueError(f"{name}: axis {axis} is out of range for a {ndim}-d tensor")
    return int(axis) % max(ndim, 1)


def _grid(idx: np.ndarray, axis: int, sizes: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """A full index: ``idx`` on ``axis``, ``arange(sizes[d])`` along every other axis d."""
    out = []
    for d, n in enumerate(sizes):
        if d == axis:
            out.append(idx)
        else:
            shape = [1] * len(sizes)
            shape[d] = n
            out.append(np.arange(n).reshape(shape))
    return tuple(out)


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def gather(x: Tensor, axis: int, index: Any) -> Tensor:
    """``out[i][j][k] = x[i][index[i][j][k]][k]`` for axis 1 (torch.gather).

    ``index`` has x's number of dimensions, and no dimension larger than x's except along
    ``axis``. The gradient adds ``g`` back at the gathered positions.

    >>> import tinygrad_mlp as tg
    >>> tg.tensor([[1.0, 2.0], [3.0, 4.0]]).gather(1, tg.tensor([[1], [0]])).tolist()
    [[2.0], [3.0]]
    """
    idx = _index_array(index, "gather")
    a = _axis(axis, x.ndim, "gather")
    if idx.ndim != x.ndim or any(
        idx.shape[d] > x.shape[d] for d in range(x.ndim) if d != a
    ):
        raise ValueError(
            f"gather: index of shape {idx.shape} does not fit input of shape {x.shape} "
            f"(same number of dimensions, no larger except along axis {a})"
        )
    return GetItem.apply(x, index=_grid(idx, a, idx.shape) if x.ndim else ())


def take_along_axis(x: Tensor, indices: Any, axis: int) -> Tensor:
    """numpy's ``take_along_axis``: ``indices`` broadcasts against x off ``axis``."""
    idx = _index_array(indices, "take_along_axis")
    a = _axis(axis, x.ndim, "take_along_axis")
    if idx.ndim != x.ndim:
        raise ValueError(
            f"take_along_axis: indices of shape {idx.shape} and input of shape {x.shape} "
            "need the same number of dimensions"
        )
    return GetItem.apply(x, index=_grid(idx, a, x.shape))


def index_select(x: Tensor, axis: int, index: Any) -> Tensor:
    """The slices ``index`` (a 1-D integer sequence) of x along ``axis`` (torch)."""
    idx = _index_array(index, "index_select")
    if idx.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {idx.shape}")
    a = _axis(axis, x.ndim, "index_select")
    return GetItem.apply(x, index=(slice(None),) * a + (idx.reshape(-1),))


def scatter_add(x: Tensor, axis: int, index: Any, src: Any) -> Tensor:
    """``out = x`` with ``src[i][j][k]`` added at ``out[i][index[i][j][k]][k]`` for axis 1
    (torch.scatter_add; repeated indices accumulate). Differentiable in x and src."""
    idx = _index_array(index, "scatter_add")
    src = _as_tensor(src)
    a = _axis(axis, x.ndim, "scatter_add")
    if idx.ndim != x.ndim or src.ndim != x.ndim or any(
        idx.shape[d] > src.shape[d] or (d != a and idx.shape[d] > x.shape[d])
        for d in range(x.ndim)
    ):
        raise ValueError(
            f"scatter_add: index {idx.shape}, src {src.shape} and input {x.shape} do not fit "
            f"(same number of dimensions; index no larger than src, nor than input off axis {a})"
        )
    if src.shape != idx.shape:
        src = src[tuple(slice(0, n) for n in idx.shape)]
    return x + ScatterAdd.apply(src, shape=x.shape, index=_grid(idx, a, idx.shape))


def index_add(x: Tensor, axis: int, index: Any, source: Any, alpha: float = 1) -> Tensor:
    """``out = x`` with ``alpha·source[..., i, ...]`` added at ``out[..., index[i], ...]``
    along ``axis`` (torch.index_add; repeated indices accumulate)."""
    idx = _index_array(index, "index_add").reshape(-1)
    source = _as_tensor(source)
    a = _axis(axis, x.ndim, "index_add")
    expected = x.shape[:a] + (len(idx),) + x.shape[a + 1:]
    if source.shape != expected:
        raise ValueError(
            f"index_add: source has shape {source.shape}, expected {expected} "
            f"(input {x.shape} with axis {a} of length len(index) = {len(idx)})"
        )
    if alpha != 1:
        source = source * alpha
    return x + ScatterAdd.apply(source, shape=x.shape, index=(slice(None),) * a + (idx,))
