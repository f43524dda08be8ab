"""Linear algebra beyond matmul: einsum (with outer and dot as its simplest cases) and the
vector 2-norm.

Einsum's gradient with respect to one operand is another einsum: the output's gradient
contracted with the other operands, written out in that operand's letters. Letters only
that operand uses are summed away in the forward, so their gradient is broadcast back;
a repeated letter (``"ii->i"``, a diagonal) puts the gradient on the diagonal only.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from tinygrad_mlp.function import Function
from tinygrad_mlp.ops.shape import _expand
from tinygrad_mlp.tensor import Tensor


def _parse(subscripts: str, shapes: list[tuple[int, ...]]) -> tuple[list[str], str]:
    """Operand and output letters with every ``...`` spelled out in spare letters and the
    implicit output (letters used once, alphabetical) made explicit."""
    s = subscripts.replace(" ", "")
    ins, arrow, out = s.partition("->")
    subs = ins.split(",")
    if len(subs) != len(shapes):
        raise ValueError(
            f"einsum: {subscripts!r} names {len(subs)} operand(s) but {len(shapes)} were given"
        )
    spare = [c for c in string.ascii_letters if c not in s]
    rank = 0
    for sub, shape in zip(subs, shapes, strict=True):
        if "..." in sub:
            rank = max(rank, len(shape) - (len(sub) - 3))
    ell = "".join(spare[:rank])
    full = []
    for k, (sub, shape) in enumerate(zip(subs, shapes, strict=True)):
        if "..." in sub:
            n = len(shape) - (len(sub) - 3)
            sub = sub.replace("...", ell[rank - n:] if n > 0 else "")
        if len(sub) != len(shape) or (sub and not sub.isalpha()):
            raise ValueError(
                f"einsum: operand {k} has shape {shape} but subscripts {subs[k]!r} "
                f"({len(sub)} letters for {len(shape)} dimensions)"
            )
        full.append(sub)
    if arrow:
        out = out.replace("...", ell)
    else:
        letters = "".join(full)
        once = (c for c in set(letters) if letters.count(c) == 1 and c not in ell)
        out = ell + "".join(sorted(once))
    unknown = set(out) - set("".join(full))
    if unknown:
        raise ValueError(f"einsum: output letters {sorted(unknown)} appear in no operand")
    return full, out


def _einsum(spec: str, *operands: Any) -> Any:
    """numpy's einsum on arrays; the differentiable op when any operand is a Tensor."""
    if any(isinstance(o, Tensor) for o in operands):
        return Einsum.apply(*operands, subscripts=spec)
    return np.einsum(spec, *operands, optimize=len(operands) > 2)


def _to_operand(g: Any, sub: str, shape: tuple[int, ...], others: list, out: str) -> Any:
    """The gradient for an operand with letters ``sub`` and ``shape``: ``g`` (letters
    ``out``) contracted with ``others`` (pairs of letters and values)."""
    unique = "".join(dict.fromkeys(sub))
    size = {c: shape[sub.index(c)] for c in unique}
    known = set(out).union(*[set(s) for s, _ in others])
    present = "".join(c for c in unique if c in known)
    spec = ",".join([out] + [s for s, _ in others]) + "->" + present
    gi = _einsum(spec, g, *[v for _, v in others])
    if present != unique:  # letters only this operand had: summed in forward, broadcast back
        got = {c: gi.shape[k] for k, c in enumerate(present)}  # may exceed size (broadcast)
        gi = gi.reshape(tuple(got.get(c, 1) for c in unique))
        gi = _expand(gi, tuple(got.get(c, size[c]) for c in unique))
    if unique == sub:
        return gi
    # repeated letters: a diagonal. Spread gi over sub's positions and keep the diagonal.
    first = [sub.index(c) == p for p, c in enumerate(sub)]
    gi = gi.reshape(tuple(n if f else 1 for n, f in zip(shape, first, strict=True)))
    mask = np.ones(shape, dtype=bool)
    for p, c in enumerate(sub):
        q = sub.index(c)
        if q != p:
            along = [1] * len(shape)
            along_q, along_p = list(along), list(along)
            along_q[q], along_p[p] = shape[q], shape[p]
            mask &= np.arange(shape[q]).reshape(along_q) == np.arange(shape[p]).reshape(along_p)
    return gi * mask.astype(gi.dtype)


class Einsum(Function):
    """y = einsum(subscripts, x₀, x₁, …);  dxᵢ = einsum(g and the other operands → xᵢ's
    letters);  jvp: Σᵢ einsum(x₀, …, tᵢ in place of xᵢ, …).

    Integer operands stay integer (exact, as numpy's einsum).
    """

    promote_int = False

    @staticmethod
    def forward(ctx, *xs, subscripts):
        subs, out = _parse(subscripts, [x.shape for x in xs])
        ctx.subs, ctx.out_letters = subs, out
        ctx.save_for_backward(*xs)
        y = np.asarray(_einsum(",".join(subs) + "->" + out, *xs))
        if any(np.may_share_memory(y, x) for x in xs):  # "ii->i", "ij->ji": numpy's views
            y = y.copy()
        return y

    @staticmethod
    def backward(ctx, g):
        xs = ctx.saved_tensors
        grads = []
        for i, need in enumerate(ctx.needs_input_grad):
            if not need:
                grads.append(None)
                continue
            others = [(s, x) for j, (s, x) in enumerate(zip(ctx.subs, xs, strict=True)) if j != i]
            grads.append(_to_operand(g, ctx.subs[i], tuple(xs[i].shape), others, ctx.out_letters))
        return tuple(grads)

    @staticmethod
    def jvp(ctx, *tangents):
        spec = ",".join(ctx.subs) + "->" + ctx.out_letters
        total = None
        for i, t in enumerate(tangents):
            if t is not None:
                ops = list(ctx.primals)
                ops[i] = t
                term = _einsum(spec, *ops)
                total = term if total is None else total + term
        return total


class Norm(Function):
    """y = √(Σ x²) over ``axis`` (the vector 2-norm);  dx = g·x / y, and 0 where y = 0
    (as torch: the norm of zeros has gradient 0);  jvp: Σ t·x / y."""

    @staticmethod
    def forward(ctx, x, axis=None, keepdims=False):
        if x.ndim == 0:
            axis = None
        y = np.sqrt(np.sum(x * x, axis=axis, keepdims=True))
        ctx.axis, ctx.keepdims = axis, keepdims
        ctx.save_for_backward(x, y)
        return y if keepdims else y.reshape(np.sum(x, axis=axis).shape)

    @staticmethod
    def _scaled(x: Any, y: Any) -> Any:
        """x / y with 0 where y = 0 (y has the reduced axes kept)."""
        yv = y.data if isinstance(y, Tensor) else y
        zero = yv == 0
        return x * (~zero / (y + zero))

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        if isinstance(g, Tensor):  # create_graph: y as a function of x, not a constant
            y = Norm.apply(x, axis=ctx.axis, keepdims=True)
        if not ctx.keepdims:
            g = g.reshape(tuple(y.shape))
        return g * Norm._scaled(x, y)

    @staticmethod
    def jvp(ctx, t):
        x, y = ctx.primals[0], ctx.saved[1]
        return (t * Norm._scaled(x, y)).sum(axis=ctx.axis, keepdims=ctx.keepdims)
