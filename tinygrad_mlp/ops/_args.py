"""Argument handling shared by the Tensor methods: torch's names next to numpy's (``dim=``
for ``axis=``, ``keepdim=`` for ``keepdims=``), axes normalised in one place, and the
small shape computations of squeeze/unsqueeze/pad/tile."""

from __future__ import annotations

from collections import namedtuple
from typing import Any

import numpy as np

#: What ``x.max(dim=1)`` returns, as torch's ``torch.return_types.max``: ``.values`` and
#: ``.indices`` (unpacks as a pair).
ValuesIndices = namedtuple("ValuesIndices", ["values", "indices"])


def pick(axis: Any, dim: Any, keepdims: Any = False, keepdim: Any = None) -> tuple[Any, bool]:
    """``(axis, keepdims)`` from numpy's or torch's keyword names (not both)."""
    if dim is not None:
        if axis is not None:
            raise TypeError("pass axis= or dim= (the same thing), not both")
        axis = dim
    return axis, bool(keepdims if keepdim is None else keepdim)


def axis_index(axis: Any, ndim: int, name: str, extra: int = 0) -> int:
    """One axis (negatives allowed) as a non-negative int in ``range(ndim + extra)``; a
    0-d tensor accepts 0 and -1 (as torch). A clear error names the op otherwise."""
    n = max(ndim + extra, 1)
    if not isinstance(axis, (int, np.integer)) or not -n <= axis < n:
        raise ValueError(f"{name}: axis {axis!r} is out of range for a {ndim}-d tensor")
    return int(axis) % n


def squeezed_shape(shape: tuple[int, ...], axes: tuple[int, ...] | None) -> tuple[int, ...]:
    """``shape`` without its size-1 dimensions (only those in ``axes`` when given; a named
    dimension whose size is not 1 stays, as torch)."""
    return tuple(n for i, n in enumerate(shape) if n != 1 or (axes is not None and i not in axes))


def pad_widths(pad: Any, ndim: int) -> tuple[tuple[int, int], ...]:
    """Per-axis ``(before, after)`` from numpy's forms (an int; one pair; a pair per axis)
    or torch's flat form ``(last_before, last_after, second_last_before, ...)``."""
    if isinstance(pad, (int, np.integer)):
        widths = [(int(pad), int(pad))] * ndim
    else:
        pad = list(pad)
        if all(isinstance(p, (int, np.integer)) for p in pad):  # torch: flat, last dim first
            if len(pad) % 2 or len(pad) // 2 > ndim:
                raise ValueError(
                    f"pad: a flat padding needs an even number of values, at most 2 per "
                    f"dimension ({2 * ndim}), got {len(pad)}"
                )
            pairs = [(int(pad[i]), int(pad[i + 1])) for i in range(0, len(pad), 2)]
            widths = [(0, 0)] * (ndim - len(pairs)) + pairs[::-1]
        else:  # numpy: ((before, after), ...) per axis, or one pair for every axis
            pairs = [tuple(int(v) for v in p) for p in pad]
            if len(pairs) == 1:
                pairs = pairs * ndim
            if len(pairs) != ndim or any(len(p) != 2 for p in pairs):
                raise ValueError(f"pad: need one (before, after) pair per dimension ({ndim})")
            widths = pairs
    if any(b < 0 or a < 0 for b, a in widths):
        raise ValueError(f"pad: negative padding {widths} is not supported (slice instead)")
    return tuple(widths)


def tile_shapes(shape: tuple[int, ...], reps: tuple[int, ...]) -> tuple[tuple, tuple, tuple]:
    """For ``np.tile``: the interleaved shape (1, s0, 1, s1, ...), what it is expanded to
    (r0, s0, r1, s1, ...) and the final shape (r0·s0, r1·s1, ...)."""
    n = max(len(shape), len(reps))
    s = (1,) * (n - len(shape)) + tuple(shape)
    r = (1,) * (n - len(reps)) + tuple(int(v) for v in reps)
    if any(v < 0 for v in r):
        raise ValueError(f"repeat/tile: repetitions must be non-negative, got {reps}")
    inter = tuple(v for a in s for v in (1, a))
    big = tuple(v for a, b in zip(r, s, strict=True) for v in (a, b))
    return inter, big, tuple(a * b for a, b in zip(r, s, strict=True))


def split_sizes(length: int, size_or_sections: Any, name: str = "split") -> list[int]:
    """torch.split's pieces: an int is each piece's size (the last may be smaller); a
    sequence lists the sizes, which must add up to ``length``."""
    if isinstance(size_or_sections, (int, np.integer)):
        step = int(size_or_sections)
        if step <= 0:
            raise ValueError(f"{name}: split size must be positive, got {step}")
        return [min(step, length - i) for i in range(0, length, step)] or [0]
    sizes = [int(v) for v in size_or_sections]
    if sum(sizes) != length or any(v < 0 for v in sizes):
        raise ValueError(f"{name}: sizes {sizes} do not add up to the axis length {length}")
    return sizes


def var_args(axis: Any, dim: Any, correction: Any, unbiased: Any, ddof: Any) -> tuple[Any, float]:
    """``(axis, correction)`` for var/std from torch's (dim, correction, unbiased) or
    numpy's (axis, ddof) names; correction defaults to 1, as torch."""
    given = [v for v in (correction, unbiased, ddof) if v is not None]
    if len(given) > 1:
        raise TypeError("pass one of correction=, unbiased= or ddof=")
    if unbiased is not None:
        correction = 1 if unbiased else 0
    elif ddof is not None:
        correction = ddof
    return pick(axis, dim)[0], 1 if correction is None else correction
