"""Stateless network functions: activations, dropout and losses (``import ... as F``).

Losses take predictions first and targets second, as PyTorch's, and return a 0-d Tensor
(``reduction="mean"`` or ``"sum"``) or one value per sample (``"none"``). A float32
prediction gives a float32 loss: float targets are cast to the prediction's dtype.

Two losses are *fused* into a single graph op, because the composite form is either
numerically fragile or wasteful:

* :class:`SoftmaxCrossEntropy` computes log-softmax and the loss in one pass (stable for
  logits any distance apart) and has the famous backward ``(softmax − target)·g / N``.
  :func:`cross_entropy_simple` is its composite twin, built from primitives; the tests use
  it as the oracle.
* :class:`BinaryCrossEntropy` clamps ``log`` at −100 and divides by ``max(p(1−p), 1e-12)``
  in backward, as PyTorch does, so probabilities of exactly 0 or 1 give finite values.

Both backward rules also run on Tensors, so second derivatives work (``create_graph``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_mlp import ops as _ops
from tinygrad_mlp.function import Context, Function
from tinygrad_mlp.nn import init as _init
from tinygrad_mlp.ops._common import _tsum
from tinygrad_mlp.tensor import Tensor

__all__ = [
    "BinaryCrossEntropy",
    "SoftmaxCrossEntropy",
    "TargetIndexError",
    "binary_cross_entropy",
    "cross_entropy",
    "cross_entropy_simple",
    "dropout",
    "linear",
    "log_softmax",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "quadratic_loss",
    "relu",
    "sigmoid",
    "softmax",
    "tanh",
]

_REDUCTIONS = ("mean", "sum", "none")


class TargetIndexError(IndexError, ValueError):
    """A class-index target is outside ``[0, num_classes)``."""


# ----- activations and layers ---------------------------------------------------------------


def sigmoid(x: Any) -> Tensor:
    """Logistic function 1 / (1 + e⁻ˣ), elementwise.

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.sigmoid([0.0]).data
    array([0.5], dtype=float32)
    """
    return _ops.tensor(x).sigmoid()


def relu(x: Any) -> Tensor:
    """max(x, 0), elementwise.

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.relu([-1.0, 2.0]).data
    array([0., 2.], dtype=float32)
    """
    return _ops.tensor(x).relu()


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent, elementwise.

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.tanh([0.0]).data
    array([0.], dtype=float32)
    """
    return _ops.tensor(x).tanh()


def softmax(x: Any, axis: int = -1, dim: int | None = None) -> Tensor:
    """exp(x) / Σ exp(x) along ``axis`` (``dim`` is accepted as PyTorch's name for it).

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.softmax([[0.0, 0.0]]).data
    array([[0.5, 0.5]], dtype=float32)
    """
    return _ops.tensor(x).softmax(axis if dim is None else dim)


def log_softmax(x: Any, axis: int = -1, dim: int | None = None) -> Tensor:
    """log(softmax(x)) along ``axis``, computed stably.

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.log_softmax([[0.0, 0.0]]).data.round(4)
    array([[-0.6931, -0.6931]], dtype=float32)
    """
    return _ops.tensor(x).log_softmax(axis if dim is None else dim)


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias (weight has shape (out, in)), one fused op.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> F.linear(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32)).shape
    (2, 4)
    """
    return _ops.linear(x, _ops.tensor(weight), None if bias is None else _ops.tensor(bias))


def dropout(
    x: Any, p: float = 0.5, training: bool = True, generator: np.random.Generator | None = None
) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by 1/(1−p) (training only).

    The mask comes from ``generator`` or the default generator (``tg.manual_seed``).
    With ``training=False`` (or ``p=0``) ``x`` is returned unchanged.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> y = F.dropout(np.ones(1000, np.float32), p=0.5)
    >>> sorted(set(y.data.tolist()))
    [0.0, 2.0]
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    x = _ops.tensor(x)
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = _init._rng(generator).random(x.shape, dtype=np.float32) >= p
    scale = keep.astype(x.dtype if x.dtype.kind == "f" else np.float32)
    scale *= 1.0 / (1.0 - p)
    return x * scale


def one_hot(indices: Any, num_classes: int, dtype: Any = np.float32) -> np.ndarray:
    """Rows of the identity: ``one_hot([2], 3) -> [[0, 0, 1]]`` (an ndarray, not differentiable).

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.one_hot([2, 0], 3)
    array([[0., 0., 1.],
           [1., 0., 0.]], dtype=float32)
    """
    idx = _class_indices(indices, num_classes, "one_hot", np.shape(indices))
    out = np.zeros(idx.shape + (num_classes,), dtype=dtype)
    np.put_along_axis(out, idx[..., None], 1, axis=-1)
    return out


# ----- argument checking --------------------------------------------------------------------


def _check_reduction(reduction: str, fn: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{fn}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _raw(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _class_indices(target: Any, num_classes: int, fn: str, shape: tuple[int, ...]) -> np.ndarray:
    """``target`` as int64 class indices of ``shape``, checked to lie in ``[0, num_classes)``."""
    arr = _raw(target)
    if arr.shape != tuple(shape):
        raise ValueError(f"{fn}: class-index target has shape {arr.shape}, expected {tuple(shape)}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise TypeError(
                f"{fn}: class-index target must hold integers, got non-integral {arr.dtype} values"
            )
    elif arr.dtype.kind not in "iu":
        raise TypeError(f"{fn}: class-index target must be integers, got dtype {arr.dtype}")
    idx = arr.astype(np.int64, copy=False)
    bad = (idx < 0) | (idx >= num_classes)
    if bad.any():
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise TargetIndexError(
            f"{fn}: target {int(idx[pos])} at position {pos if len(pos) != 1 else pos[0]} is "
            f"out of range for {num_classes} classes (valid: 0..{num_classes - 1})"
        )
    return idx


def _target_like(target: Any, pred: Tensor, fn: str) -> Any:
    """A float target of ``pred``'s shape: a Tensor that requires grad, or an ndarray."""
    if isinstance(target, Tensor) and (target.requires_grad or target._tangent is not None):
        t: Any = target  # differentiable (reverse mode, or a tangent in tg.func.jvp)
    else:
        arr = _raw(target)
        if arr.dtype.kind not in "biuf":
            raise TypeError(f"{fn}: target must be numeric, got dtype {arr.dtype}")
        t = arr.astype(pred.dtype if pred.dtype.kind == "f" else np.float32, copy=False)
    if tuple(t.shape) != pred.shape:
        raise ValueError(
            f"{fn}: target shape {tuple(t.shape)} does not match input shape {pred.shape}"
        )
    return t


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else losses.mean()


def _grad_scale(ctx: Context, g: Any) -> Any:
    """The upstream gradient shaped to multiply per-element gradients (mean divides by n)."""
    if ctx.reduction == "none":
        return g.reshape(ctx.none_shape)
    if ctx.reduction == "mean":
        return g * (1.0 / ctx.n) if ctx.n else g * float("nan")
    return g


def _reduce_tangent(ctx: Context, t: Any) -> Any:
    """A per-element loss tangent reduced as the loss was (forward mode of a fused loss)."""
    if t is None or ctx.reduction == "none":
        return t
    total = t.sum()
    if ctx.reduction == "mean":
        return total * (1.0 / ctx.n) if ctx.n else total * float("nan")
    return total


# ----- cross-entropy ------------------------------------------------------------------------


class SoftmaxCrossEntropy(Function):
    """Cross-entropy of ``softmax(logits)`` against a target, in one op.

    Forward, for logits x of shape (N, C), z = x − max x:
    ``log p = z − ln Σ e^z`` and ``loss_n = −log p[n, t_n]`` (indices, passed as the
    ``indices=`` option) or ``−Σ_c q[n, c]·log p[n, c]`` (probabilities q, the second
    input). Backward: ``dx = (softmax(x)·Σ_c q − q)·g / N`` (q one-hot for indices, so
    Σ_c q = 1; soft targets need not sum to 1, as PyTorch) and, for a probability target,
    ``dq = −log p·g / N``. Under ``create_graph`` the rule is
    recomputed with Tensor ops from the saved logits, so it is differentiable again.
    """

    @staticmethod
    def forward(ctx, x, probs=None, indices=None, reduction="mean"):
        n = x.shape[0]
        z = x - x.max(axis=1, keepdims=True)
        e = np.exp(z)
        s = e.sum(axis=1, keepdims=True)
        logp = z
        logp -= np.log(s)
        p = e
        p /= s
        if indices is not None:
            losses = -logp[np.arange(n), indices]
        else:
            losses = -(probs * logp).sum(axis=1)
        if reduction == "none":
            out = losses
        else:
            out = losses.sum()
            if reduction == "mean":
                with np.errstate(invalid="ignore", divide="ignore"):
                    out = out / n if n else out * np.nan
        ctx.n, ctx.reduction, ctx.indices, ctx.none_shape = n, reduction, indices, (n, 1)
        ctx.save_for_backward(x, probs, p, logp)
        return np.asarray(out, dtype=x.dtype)

    @staticmethod
    def backward(ctx, g):
        x, probs, p, logp = ctx.saved_tensors
        need = ctx.needs_input_grad
        scale = _grad_scale(ctx, g)
        gx = gq = None
        if isinstance(g, Tensor):  # create_graph: build the rule from differentiable ops
            if need[0]:
                if ctx.indices is None:
                    gx = (x.softmax(axis=1) * probs.sum(axis=1, keepdims=True) - probs) * scale
                else:
                    target = np.zeros(x.shape, dtype=x.dtype)
                    target[np.arange(ctx.n), ctx.indices] = 1
                    gx = (x.softmax(axis=1) - target) * scale
            if len(need) > 1 and need[1]:
                gq = -x.log_softmax(axis=1) * scale
        else:
            if need[0]:
                if ctx.indices is None:
                    gx = p * probs.sum(axis=1, keepdims=True)
                    gx -= probs
                else:
                    gx = p.copy()
                    gx[np.arange(ctx.n), ctx.indices] -= 1
                gx *= scale
            if len(need) > 1 and need[1]:
                gq = -logp * scale
        return (gx,) if len(need) == 1 else (gx, gq)

    @staticmethod
    def jvp(ctx, tx, tq=None):
        """Forward mode: d loss_n = −Σ_c (tq·log p + q·d log p), d log p = tx − Σ_c p·tx
        (q one-hot for indices), then summed or averaged as the loss is."""
        _, probs, p, logp = ctx.saved
        terms = []
        if tx is not None:
            dlogp = tx - (p * tx).sum(axis=1, keepdims=True)
            if ctx.indices is None:
                terms.append(-(probs * dlogp).sum(axis=1))
            else:
                terms.append(-dlogp[np.arange(ctx.n), ctx.indices])
        if tq is not None:
            terms.append(-(tq * logp).sum(axis=1))
        return _reduce_tangent(ctx, _tsum(*terms))


def _prepare_cross_entropy(
    logits: Any, target: Any, fn: str
) -> tuple[Tensor, np.ndarray | None, Any, bool]:
    """(logits as 2-D, class indices or None, probability target or None, unbatched)."""
    x = _ops.tensor(logits)
    if x.ndim not in (1, 2):
        raise ValueError(f"{fn}: expected logits of shape (N, C) or (C,), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: logits must be floating point, got dtype {x.dtype}")
    unbatched = x.ndim == 1
    t_shape = tuple(target.shape) if isinstance(target, Tensor) else np.shape(target)
    if len(t_shape) == x.ndim - 1:
        idx = _class_indices(target, x.shape[-1], fn, x.shape[:-1])
        if unbatched:
            x, idx = x.reshape(1, -1), idx.reshape(1)
        return x, idx, None, unbatched
    if len(t_shape) == x.ndim:
        q = _target_like(target, x, fn)
        if unbatched:
            x, q = x.reshape(1, -1), q.reshape(1, -1)
        return x, None, q, unbatched
    raise ValueError(
        f"{fn}: target of shape {t_shape} fits neither class indices (shape {x.shape[:-1]}) "
        f"nor class probabilities (shape {x.shape}) for logits of shape {x.shape}"
    )


def cross_entropy(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Cross-entropy loss computed from logits (softmax and log fused, stable).

    Parameters
    ----------
    logits : Tensor or array_like, shape (N, C) or (C,)
        Unnormalised class scores.
    target : array_like or Tensor
        Class indices of shape (N,) (integers in ``[0, C)``), or class probabilities /
        one-hot rows of shape (N, C).
    reduction : {"mean", "sum", "none"}
        ``"mean"`` divides the summed loss by N (the batch size), as PyTorch.

    Returns
    -------
    Tensor
        A 0-d loss, or shape (N,) with ``reduction="none"``.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> logits = np.array([[2.0, 0.0, 0.0]], np.float32)
    >>> round(F.cross_entropy(logits, np.array([0])).item(), 4)
    0.2395
    >>> round(F.cross_entropy(logits, np.array([[1.0, 0.0, 0.0]])).item(), 4)
    0.2395
    """
    _check_reduction(reduction, "cross_entropy")
    x, idx, q, unbatched = _prepare_cross_entropy(logits, target, "cross_entropy")
    if idx is not None:
        out = SoftmaxCrossEntropy.apply(x, indices=idx, reduction=reduction)
    else:
        out = SoftmaxCrossEntropy.apply(x, q, reduction=reduction)
    return out.reshape(()) if unbatched and reduction == "none" else out


def cross_entropy_simple(logits: Any, target: Any, reduction: str = "mean") -> Tensor:
    """``cross_entropy`` composed from primitives (log_softmax, indexing, sum): the oracle.

    Same arguments and values as :func:`cross_entropy`; slower, more graph nodes.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> round(F.cross_entropy_simple(np.array([[2.0, 0.0, 0.0]]), [0]).item(), 4)
    0.2395
    """
    _check_reduction(reduction, "cross_entropy_simple")
    x, idx, q, unbatched = _prepare_cross_entropy(logits, target, "cross_entropy_simple")
    logp = x.log_softmax(axis=1)
    if idx is not None:
        losses = -logp[np.arange(x.shape[0]), idx]
    else:
        losses = -(logp * q).sum(axis=1)
    out = _reduce(losses, reduction)
    return out.reshape(()) if unbatched and reduction == "none" else out


def nll_loss(log_probs: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood: ``−log_probs[n, target_n]``, averaged over the batch.

    Parameters
    ----------
    log_probs : Tensor, shape (N, C) or (C,)
        Log-probabilities, e.g. from ``log_softmax``.
    target : array_like of int, shape (N,) or ()
        Class indices in ``[0, C)``.
    reduction : {"mean", "sum", "none"}

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> round(F.nll_loss(np.log(np.array([[0.5, 0.5]], np.float32)), [1]).item(), 4)
    0.6931
    """
    _check_reduction(reduction, "nll_loss")
    lp = _ops.tensor(log_probs)
    if lp.ndim not in (1, 2):
        raise ValueError(f"nll_loss: expected input of shape (N, C) or (C,), got {lp.shape}")
    idx = _class_indices(target, lp.shape[-1], "nll_loss", lp.shape[:-1])
    if lp.ndim == 1:
        return _reduce(-lp[int(idx)], reduction)
    return _reduce(-lp[np.arange(lp.shape[0]), idx], reduction)


# ----- binary cross-entropy -----------------------------------------------------------------


class BinaryCrossEntropy(Function):
    """``−(t·log p + (1−t)·log(1−p))`` elementwise, each log clamped at −100 (as PyTorch).

    Backward: ``dp = g·(p − t) / max(p(1−p), 1e-12)``, ``dt = g·(log(1−p) − log p)``
    (clamped logs), ``g`` divided by the element count for ``reduction="mean"``.
    """

    @staticmethod
    def forward(ctx, p, t, reduction="mean"):
        if not np.all((p >= 0) & (p <= 1)):
            raise ValueError("binary_cross_entropy: all elements of input should be in [0, 1]")
        if not np.all((t >= 0) & (t <= 1)):
            raise ValueError("binary_cross_entropy: all elements of target should be in [0, 1]")
        with np.errstate(divide="ignore"):
            logp = np.maximum(np.log(p), -100)
            log1mp = np.maximum(np.log(1 - p), -100)
        losses = -(t * logp + (1 - t) * log1mp)
        ctx.n, ctx.reduction, ctx.none_shape = p.size, reduction, p.shape
        ctx.save_for_backward(p, t, logp, log1mp)
        if reduction == "none":
            return np.asarray(losses, dtype=p.dtype)
        out = losses.sum()
        if reduction == "mean":
            with np.errstate(invalid="ignore", divide="ignore"):
                out = out / p.size if p.size else out * np.nan
        return np.asarray(out, dtype=p.dtype)

    @staticmethod
    def backward(ctx, g):
        p, t, logp, log1mp = ctx.saved_tensors
        need_p, need_t = ctx.needs_input_grad
        scale = _grad_scale(ctx, g)
        gp = gt = None
        if isinstance(g, Tensor):
            if need_p:
                gp = (p - t) / ((1 - p) * p).clip(1e-12, None) * scale
            if need_t:
                with np.errstate(divide="ignore"):
                    gt = ((1 - p).log().clip(-100, None) - p.log().clip(-100, None)) * scale
        else:
            if need_p:
                gp = (p - t) / np.maximum((1 - p) * p, 1e-12) * scale
            if need_t:
                gt = (log1mp - logp) * scale
        return gp, gt

    @staticmethod
    def jvp(ctx, tp, tt):
        """Forward mode: d loss = tp·(p − t) / max(p(1−p), 1e-12) + tt·(log(1−p) − log p)
        (backward's clamped derivatives), then summed or averaged as the loss is."""
        p, t, logp, log1mp = ctx.saved
        dp = None if tp is None else tp * ((p - t) / np.maximum((1 - p) * p, 1e-12))
        dt = None if tt is None else tt * (log1mp - logp)
        return _reduce_tangent(ctx, _tsum(dp, dt))


def binary_cross_entropy(probs: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy between probabilities and targets of the same shape.

    Parameters
    ----------
    probs : Tensor or array_like
        Probabilities in [0, 1] (e.g. a sigmoid's output).
    target : Tensor or array_like
        Same shape as ``probs``; values in [0, 1].
    reduction : {"mean", "sum", "none"}
        ``"mean"`` averages over all elements.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> round(F.binary_cross_entropy(np.array([0.5], np.float32), [1.0]).item(), 4)
    0.6931
    """
    _check_reduction(reduction, "binary_cross_entropy")
    p = _ops.tensor(probs)
    t = _target_like(target, p, "binary_cross_entropy")
    return BinaryCrossEntropy.apply(p, t, reduction=reduction)


# ----- regression losses --------------------------------------------------------------------


class SquaredError(Function):
    """L = scale · Σ (x − t)²  (fused: one graph node instead of four);
    dx = g · 2·scale·(x − t), dt = −dx.

    The backward recomputes ``x − t`` from the inputs, so it is differentiable again.
    """

    @staticmethod
    def forward(ctx, x, t, scale):
        d = x - t
        ctx.scale = scale
        ctx.save_for_backward(x, t, d)
        return np.asarray(np.vdot(d, d) * scale, dtype=d.dtype)

    @staticmethod
    def backward(ctx, g):
        x, t, d = ctx.saved_tensors
        if isinstance(g, Tensor):  # create_graph: x − t rebuilt from the inputs' Tensors
            gx = (x - t) * (g * (2 * ctx.scale))
        else:
            gx = d * (g * (2 * ctx.scale))
        return gx, (-gx if ctx.needs_input_grad[1] else None)

    @staticmethod
    def jvp(ctx, tx, tt):
        """Forward mode: dL = 2·scale·Σ (x − t)·(tx − tt)."""
        (d,) = ctx.saved[2:]
        return (d * _tsum(tx, None if tt is None else -tt)).sum() * (2 * ctx.scale)


def mse_loss(pred: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((pred − target)²)`` over all elements (as PyTorch).

    Parameters
    ----------
    pred, target : Tensor or array_like
        Same shape.
    reduction : {"mean", "sum", "none"}

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> F.mse_loss(np.array([1.0, 3.0], np.float32), [0.0, 0.0]).item()
    5.0
    """
    _check_reduction(reduction, "mse_loss")
    x = _ops.tensor(pred)
    t = _target_like(target, x, "mse_loss")
    if reduction == "none":
        d = x - t
        return d * d
    scale = 1.0 if reduction == "sum" else (1.0 / x.size if x.size else float("nan"))
    return SquaredError.apply(x, t, scale=scale)


def quadratic_loss(pred: Any, target: Any) -> Tensor:
    """Quadratic cost ``(1/2N) Σ_n ||pred_n − target_n||²``, N = number of rows (batch).

    Nielsen's cost: the gradient is ``(pred − target)/N``. Equals ``mse_loss ·
    (features / 2)`` for 2-D inputs.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> F.quadratic_loss(np.array([[1.0, 1.0], [0.0, 2.0]], np.float32), np.zeros((2, 2))).item()
    1.5
    """
    x = _ops.tensor(pred)
    t = _target_like(target, x, "quadratic_loss")
    n = x.shape[0] if x.ndim else 1
    return SquaredError.apply(x, t, scale=0.5 / n if n else float("nan"))


def quadratic_loss_simple(pred: Any, target: Any) -> Tensor:
    """``quadratic_loss`` composed from primitives: the test oracle of the fused op."""
    x = _ops.tensor(pred)
    d = x - _target_like(target, x, "quadratic_loss")
    n = x.shape[0] if x.ndim else 1
    return (d * d).sum() * (0.5 / n if n else float("nan"))
