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

The other losses (weighted / ignored / smoothed / K-dimensional cross-entropy, nll, BCE
from logits, KL divergence, L1, smooth L1, Huber, cosine similarity) compose existing ops
and get their gradients, to any order, for free.

Activations follow ``torch.nn.functional`` names and arguments. Most compose existing
ops; six are fused Functions, because the composite would overflow at ±1e4 or take a
different one-sided derivative at a kink than PyTorch does: :class:`Erf` (for gelu),
:class:`Hardtanh` (also relu6, hardsigmoid), :class:`Hardswish`, :class:`ELU` (also selu,
celu), :class:`Softplus` (also mish) and :class:`LogSigmoid` (also BCE from logits).

Every backward rule also runs on Tensors, so second derivatives work (``create_graph``),
and every fused op has a forward-mode ``jvp`` rule beside its backward.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_mlp import ops as _ops
from tinygrad_mlp.function import Context, Function
from tinygrad_mlp.nn import init as _init
from tinygrad_mlp.ops._common import _arr, _exp, _log, _tsum, _values
from tinygrad_mlp.ops.conv import avg_pool2d, conv2d, max_pool2d  # re-exported (CNNs)
from tinygrad_mlp.ops.norm import batch_norm, layer_norm  # re-exported (CNNs)
from tinygrad_mlp.tensor import Tensor

__all__ = [
    "BinaryCrossEntropy",
    "ELU",
    "Erf",
    "Hardswish",
    "Hardtanh",
    "LogSigmoid",
    "SoftmaxCrossEntropy",
    "Softplus",
    "TargetIndexError",
    "avg_pool2d",
    "batch_norm",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "celu",
    "celu_",
    "conv2d",
    "cosine_similarity",
    "cross_entropy",
    "cross_entropy_simple",
    "dropout",
    "elu",
    "elu_",
    "gelu",
    "hardsigmoid",
    "hardswish",
    "hardtanh",
    "hardtanh_",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "layer_norm",
    "leaky_relu",
    "leaky_relu_",
    "linear",
    "log_softmax",
    "logsigmoid",
    "max_pool2d",
    "mish",
    "mse_loss",
    "nll_loss",
    "one_hot",
    "quadratic_loss",
    "relu",
    "relu_",
    "relu6",
    "selu",
    "selu_",
    "sigmoid",
    "silu",
    "smooth_l1_loss",
    "softmax",
    "softplus",
    "softsign",
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
    return _ops.Sigmoid.apply(_ops.tensor(x))


def relu(x: Any, inplace: bool = False) -> Tensor:
    """max(x, 0), elementwise (``inplace=True``: into ``x``, which is returned, as torch).

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.relu([-1.0, 2.0]).data
    array([0., 2.], dtype=float32)
    """
    if inplace:
        return _in_place(x, relu)
    return _ops.ReLU.apply(_ops.tensor(x))


def _in_place(x: Any, fn: Any, *options: Any) -> Tensor:
    """``fn(x, *options)`` written into the Tensor ``x``, which is returned: what torch's
    ``inplace=True`` does. Recorded in the graph as any in-place op (``Tensor._inplace``)."""
    if not isinstance(x, Tensor):
        raise TypeError(f"inplace=True changes a Tensor; got {type(x).__name__}")
    return x._inplace(None, lambda t: fn(t, *options))


def tanh(x: Any) -> Tensor:
    """Hyperbolic tangent, elementwise.

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.tanh([0.0]).data
    array([0.], dtype=float32)
    """
    return _ops.Tanh.apply(_ops.tensor(x))


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
    if bias is None:
        return _ops.Linear.apply(_ops.tensor(x), _ops.tensor(weight))
    return _ops.Linear.apply(_ops.tensor(x), _ops.tensor(weight), _ops.tensor(bias))


def dropout(
    x: Any, p: float = 0.5, training: bool = True, inplace: bool = False,
    generator: np.random.Generator | None = None,
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
    if inplace and training and p > 0.0:
        return _in_place(x, dropout, p, True, False, generator)
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


def _legacy_reduction(
    size_average: bool | None, reduce: bool | None, reduction: str, fn: str
) -> str:
    """``reduction``, or what PyTorch's deprecated ``size_average``/``reduce`` pair means."""
    if size_average is not None or reduce is not None:
        if reduce is False:
            reduction = "none"
        else:
            reduction = "sum" if size_average is False else "mean"
    _check_reduction(reduction, fn)
    return reduction


def _raw(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _mean_by(total: Tensor, divisor: Any) -> Tensor:
    """``total / divisor``: a mean (by a count, or by the weights of the kept targets). With
    nothing to average over (every target ignored, all weights 0) it is NaN, as PyTorch,
    and its gradient is 0, as PyTorch's (no element contributed), so such a batch does not
    turn the parameters into NaN. The factor is a Python float: float32 stays float32."""
    if divisor:
        return total * (1.0 / float(divisor))
    return total * 0.0 + float("nan")


def _class_weights(weight: Any, num_classes: int, dtype: Any, fn: str) -> np.ndarray | None:
    """The per-class ``weight`` (constants) as an array of shape (C,), or None."""
    if weight is None:
        return None
    w = _raw(weight)
    if w.shape != (num_classes,):
        raise ValueError(
            f"{fn}: weight has shape {w.shape}, expected ({num_classes},): one per class"
        )
    return w.astype(dtype, copy=False)


def _element_weights(weight: Any, x: Tensor, fn: str, same_shape: bool = False) -> np.ndarray:
    """A constant ``weight`` broadcastable to ``x``'s shape (or of exactly that shape, where
    torch requires it), in ``x``'s dtype."""
    w = _raw(weight)
    if same_shape and w.shape != x.shape:
        raise ValueError(f"{fn}: weight has shape {w.shape}, the input has shape {x.shape}")
    try:
        np.broadcast_shapes(w.shape, x.shape)
    except ValueError:
        raise ValueError(
            f"{fn}: weight of shape {w.shape} does not broadcast to the input's {x.shape}"
        ) from None
    return w.astype(x.dtype, copy=False)


def _class_indices(
    target: Any, num_classes: int, fn: str, shape: tuple[int, ...], ignore_index: int | None = None,
    check_range: bool = True,
) -> np.ndarray:
    """``target`` as int64 class indices of ``shape``, checked to lie in ``[0, num_classes)``
    (or to equal ``ignore_index``) unless the caller's op checks that itself."""
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
    if check_range:
        _check_class_range(idx, num_classes, fn, ignore_index)
    return idx


def _check_class_range(idx: np.ndarray, num_classes: int, fn: str,
                       ignore_index: int | None = None) -> None:
    """Raise ``TargetIndexError`` for a class index outside ``[0, num_classes)``. Fused
    losses call it in their forward too, so a ``tg.jit`` replay checks every batch."""
    # as unsigned, a negative index is huge: one comparison finds both ends of the range
    bad = idx.astype(np.int64, copy=False).view(np.uint64) >= num_classes
    if ignore_index is not None:
        bad &= idx != ignore_index
    if np.count_nonzero(bad):
        pos = tuple(int(i) for i in np.argwhere(bad)[0])
        raise TargetIndexError(
            f"{fn}: target {int(idx[pos])} at position {pos if len(pos) != 1 else pos[0]} is "
            f"out of range for {num_classes} classes (valid: 0..{num_classes - 1})"
        )


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
    if type(g) is np.ndarray:  # 0-d: a Python float multiplies faster than a 0-d array
        g = float(g)
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
        log_s = np.log(s)
        p = e
        p /= s
        if indices is not None:  # log p only where the targets are: −loss_n = z[n, t_n] − ln Σe
            _check_class_range(indices, x.shape[1], "cross_entropy")
            logp = None
            neg = z[np.arange(n), indices]
            neg -= log_s[:, 0]
        else:
            logp = z
            logp -= log_s
            neg = (probs * logp).sum(axis=1)
        if reduction == "none":
            out = -neg
        else:
            out = -neg.sum()
            if reduction == "mean":
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
    logits: Any, target: Any, fn: str, check_range: bool = True
) -> tuple[Tensor, np.ndarray | None, Any, bool]:
    """(logits as 2-D, class indices or None, probability target or None, unbatched).
    ``check_range=False`` leaves the class-index range to the fused op's forward."""
    x = _ops.tensor(logits)
    if x.ndim not in (1, 2):
        raise ValueError(f"{fn}: expected logits of shape (N, C) or (C,), got shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: logits must be floating point, got dtype {x.dtype}")
    unbatched = x.ndim == 1
    t_shape = tuple(target.shape) if isinstance(target, Tensor) else np.shape(target)
    if len(t_shape) == x.ndim - 1:
        idx = _class_indices(target, x.shape[-1], fn, x.shape[:-1], check_range=check_range)
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


def cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy loss computed from logits (softmax and log fused, stable), as PyTorch.

    Parameters
    ----------
    input : Tensor or array_like, shape (N, C), (C,) or (N, C, d1, ...)
        Unnormalised class scores; the class axis is 1 (0 for an unbatched input).
    target : array_like or Tensor
        Class indices of shape (N,) / () / (N, d1, ...) (integers in ``[0, C)`` or
        ``ignore_index``), or class probabilities of ``input``'s shape (rows need not sum
        to 1: the loss is −Σ_c target·log_softmax, as PyTorch).
    weight : array_like of shape (C,), optional
        A rescaling weight per class. (A string here is taken as ``reduction``, the
        older signature ``cross_entropy(logits, target, reduction)``.)
    ignore_index : int, default -100
        Index targets equal to it contribute nothing, to the loss or to the mean's divisor.
    reduction : {"mean", "sum", "none"}
        ``"mean"`` divides by N (by Σ weight[target] for weighted or ignored index targets).
    label_smoothing : float in [0, 1]
        Mixes the target with the uniform distribution: (1 − ε)·target + ε/C.
    size_average, reduce : deprecated PyTorch spellings of ``reduction``.

    Returns
    -------
    Tensor
        A 0-d loss, or one loss per sample with ``reduction="none"``.

    The ordinary case (2-D logits, plain targets, no weight, ignore or smoothing) is one
    fused graph node, :class:`SoftmaxCrossEntropy`; the rest composes log_softmax and
    indexing. :func:`cross_entropy_simple` is the composite twin the tests compare with.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> logits = np.array([[2.0, 0.0, 0.0]], np.float32)
    >>> round(F.cross_entropy(logits, np.array([0])).item(), 4)
    0.2395
    >>> round(F.cross_entropy(logits, np.array([[1.0, 0.0, 0.0]])).item(), 4)
    0.2395
    >>> round(F.cross_entropy(logits, np.array([0]), label_smoothing=0.1).item(), 4)
    0.3729
    """
    if isinstance(weight, str):
        weight, reduction = None, weight
    reduction = _legacy_reduction(size_average, reduce, reduction, "cross_entropy")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    x = _ops.tensor(input)
    if weight is None and not label_smoothing and x.ndim in (1, 2):
        x2, idx, q, unbatched = _prepare_cross_entropy(x, target, "cross_entropy",
                                                       check_range=False)
        if idx is not None and 0 <= ignore_index < x.shape[-1] and (idx == ignore_index).any():
            idx = None  # an ignore_index that is also a class: the general path skips those
        try:  # the fused op checks the class range in its forward (so jit replays do too);
            if idx is not None:  # an ignored target (−100) fails it at no extra cost
                out = SoftmaxCrossEntropy.apply(x2, indices=idx, reduction=reduction)
            elif q is not None:
                out = SoftmaxCrossEntropy.apply(x2, q, reduction=reduction)
            else:
                out = None
        except TargetIndexError:  # ignored, or truly out of range: the general path tells
            out = None
        if out is not None:
            return out.reshape(()) if unbatched and reduction == "none" else out
    return _cross_entropy_general(x, target, weight, ignore_index, reduction, label_smoothing)


def _cross_entropy_general(
    x: Tensor, target: Any, weight: Any, ignore_index: int, reduction: str, smoothing: float
) -> Tensor:
    """cross_entropy with class weights, ignore_index, label smoothing or (N, C, d...) inputs,
    composed from log_softmax and indexing (PyTorch's formulas, term by term)."""
    fn = "cross_entropy"
    if x.ndim == 0:
        raise ValueError(f"{fn}: expected logits with a class axis, got a 0-d input")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn}: logits must be floating point, got dtype {x.dtype}")
    axis = 0 if x.ndim == 1 else 1
    c = x.shape[axis]
    w = _class_weights(weight, c, x.dtype, fn)
    w_bcast = None if w is None else w.reshape((c,) + (1,) * (x.ndim - axis - 1))
    logp = x.log_softmax(axis)
    t_shape = tuple(target.shape) if isinstance(target, Tensor) else np.shape(target)
    if t_shape == x.shape:  # class probabilities: −Σ_c w_c·q_c·log p_c per sample
        q = _target_like(target, x, fn)
        if smoothing:
            q = q * (1 - smoothing) + smoothing / c
        weighted = logp * q if w_bcast is None else logp * q * w_bcast
        losses = -weighted.sum(axis)
        if reduction == "mean":  # PyTorch divides by the number of samples, not by weights
            return _mean_by(losses.sum(), x.size // c if c else 0)
        return _reduce(losses, reduction)
    idx_shape = x.shape[:axis] + x.shape[axis + 1 :]
    if t_shape != idx_shape:
        raise ValueError(
            f"{fn}: target of shape {t_shape} fits neither class indices (shape {idx_shape}) "
            f"nor class probabilities (shape {x.shape}) for logits of shape {x.shape}"
        )
    idx = _class_indices(target, c, fn, idx_shape, ignore_index)
    nll = _picked_nll(logp, idx, w, ignore_index, reduction)
    if not smoothing:
        return nll
    keep = idx != ignore_index
    uniform = -(logp if w_bcast is None else logp * w_bcast).sum(axis) * keep.astype(x.dtype)
    if reduction == "mean":
        divisor = keep.sum() if w is None else w[idx[keep]].sum()
        uniform = _mean_by(uniform.sum(), divisor)
    elif reduction == "sum":
        uniform = uniform.sum()
    return nll * (1 - smoothing) + uniform * (smoothing / c)


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


def nll_loss(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Negative log-likelihood: ``−weight[t]·input[n, t]`` per sample, as PyTorch.

    Parameters
    ----------
    input : Tensor, shape (N, C), (C,) or (N, C, d1, ...)
        Log-probabilities, e.g. from ``log_softmax`` (class axis 1, or 0 if unbatched).
    target : array_like of int, shape (N,), () or (N, d1, ...)
        Class indices in ``[0, C)``, or ``ignore_index``.
    weight : array_like of shape (C,), optional
        Per-class weights. (A string here is taken as ``reduction``.)
    ignore_index : int, default -100
        Targets equal to it contribute 0 and are left out of the mean's divisor.
    reduction : {"mean", "sum", "none"}
        ``"mean"`` divides by Σ weight[target] over the samples not ignored (N unweighted).
    size_average, reduce : deprecated PyTorch spellings of ``reduction``.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> round(F.nll_loss(np.log(np.array([[0.5, 0.5]], np.float32)), [1]).item(), 4)
    0.6931
    >>> F.nll_loss(np.array([[-1.0, -2.0], [-3.0, -4.0]]), [1, -100]).item()
    2.0
    """
    if isinstance(weight, str):
        weight, reduction = None, weight
    reduction = _legacy_reduction(size_average, reduce, reduction, "nll_loss")
    lp = _ops.tensor(input)
    if lp.ndim == 0:
        raise ValueError("nll_loss: expected input of shape (N, C), (C,) or (N, C, d1, ...)")
    axis = 0 if lp.ndim == 1 else 1
    c = lp.shape[axis]
    idx = _class_indices(target, c, "nll_loss", lp.shape[:axis] + lp.shape[axis + 1 :],
                         ignore_index)
    return _picked_nll(lp, idx, _class_weights(weight, c, lp.dtype, "nll_loss"), ignore_index,
                       reduction)


def _picked_nll(
    logp: Tensor, idx: np.ndarray, weight: np.ndarray | None, ignore_index: int, reduction: str
) -> Tensor:
    """−w[t]·logp[..., t, ...] per target (0 where ignored), reduced; the mean divides by
    Σ w[t] over the targets kept."""
    c = logp.shape[0 if logp.ndim == 1 else 1]
    if logp.ndim > 2:  # (N, C, d1, ...) -> (N, d1, ..., C): one row of C per target
        logp = logp.transpose(0, *range(2, logp.ndim), 1)
    keep = idx != ignore_index
    safe = np.where(keep, idx, 0)
    picked = logp.reshape(-1, c)[np.arange(idx.size), safe.reshape(-1)].reshape(idx.shape)
    if weight is None and keep.all():
        return _reduce(-picked, reduction)
    w = keep.astype(logp.dtype) if weight is None else weight[safe] * keep
    losses = -picked * w
    if reduction == "none":
        return losses
    return losses.sum() if reduction == "sum" else _mean_by(losses.sum(), w.sum())


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


def binary_cross_entropy(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
) -> Tensor:
    """Binary cross-entropy between probabilities and targets of the same shape.

    Parameters
    ----------
    input : Tensor or array_like
        Probabilities in [0, 1] (e.g. a sigmoid's output).
    target : Tensor or array_like
        Same shape as ``input``; values in [0, 1].
    weight : array_like, optional
        Broadcastable to ``input``: a rescaling weight per element. (A string here is
        taken as ``reduction``.)
    reduction : {"mean", "sum", "none"}
        ``"mean"`` averages over all elements.
    size_average, reduce : deprecated PyTorch spellings of ``reduction``.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> round(F.binary_cross_entropy(np.array([0.5], np.float32), [1.0]).item(), 4)
    0.6931
    """
    if isinstance(weight, str):
        weight, reduction = None, weight
    reduction = _legacy_reduction(size_average, reduce, reduction, "binary_cross_entropy")
    p = _ops.tensor(input)
    t = _target_like(target, p, "binary_cross_entropy")
    if weight is None:
        return BinaryCrossEntropy.apply(p, t, reduction=reduction)
    losses = BinaryCrossEntropy.apply(p, t, reduction="none")
    return _reduce(losses * _element_weights(weight, p, "binary_cross_entropy"), reduction)


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
        else:  # g is 0-d: one multiply by a Python float, not two numpy calls
            gx = d * (float(g) * 2 * ctx.scale)
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


# ----- helpers for rules that run on arrays and on Tensors alike ---------------------------


def _where(mask: np.ndarray, a: Any, b: Any) -> Any:
    """``a`` where the constant boolean ``mask`` holds, else ``b`` (arrays, Tensors, numbers)."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return _ops.Where.apply(a, b, cond=mask)
    return np.where(mask, a, b)


def _sigmoid(x: Any) -> Any:
    """1 / (1 + e⁻ˣ), without overflow warnings (e⁻ˣ = inf gives exactly 0)."""
    if isinstance(x, Tensor):
        return x.sigmoid()
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x))


_erf_scalar = np.frompyfunc(math.erf, 1, 1)
_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


# ----- fused activations: forward, backward and forward-mode rule side by side --------------
# Each one is fused because its composite form overflows or differs from PyTorch at a kink.
# ``backward`` and ``jvp`` share one derivative helper written with operations that arrays
# and Tensors both have, so the rule is itself differentiable (create_graph).


class Erf(Function):
    """y = erf x = (2/√π) ∫₀ˣ e^(−s²) ds;  dx = g·(2/√π)·e^(−x²);  jvp ẏ = (2/√π)·e^(−x²)·ẋ.

    numpy has no erf, so forward applies ``math.erf`` elementwise (exact to the last bit,
    about 0.1 µs per element).
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.asarray(_erf_scalar(x), dtype=x.dtype)

    @staticmethod
    def _slope(x):
        return _exp(-(x * x)) * _TWO_OVER_SQRT_PI

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * Erf._slope(x)

    @staticmethod
    def jvp(ctx, t):
        return t * Erf._slope(ctx.primals[0])


class Hardtanh(Function):
    """y = min(max(x, lo), hi);  dx = g·[lo < x < hi];  jvp ẏ = ẋ·[lo < x < hi].

    Unlike ``clip``, the gradient is 0 *at* the bounds, as ``torch.nn.functional.hardtanh``
    (and relu6, hardsigmoid, which are built on it).
    """

    @staticmethod
    def forward(ctx, x, lo=-1.0, hi=1.0):
        inside = (x > lo) & (x < hi)
        ctx.lo, ctx.hi = lo, hi
        ctx.save_for_backward(inside)
        return _arr(np.clip(x, lo, hi))

    @staticmethod
    def backward(ctx, g):
        (inside,) = ctx.saved_tensors
        return g * inside

    @staticmethod
    def jvp(ctx, t):
        x = _values(ctx.primals[0])
        return t * ((x > ctx.lo) & (x < ctx.hi))


class Hardswish(Function):
    """y = x·hardtanh(x + 3, 0, 6)/6;  dy/dx = 0 (x ≤ −3), x/3 + ½ (−3 < x < 3), 1 (x ≥ 3);
    dx = g·dy/dx;  jvp ẏ = ẋ·dy/dx  (PyTorch's choice of one-sided slopes at ±3)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _arr(x * np.clip(x + 3, 0, 6) / 6)

    @staticmethod
    def _slope(x):
        v = _values(x)
        return _where((v > -3) & (v < 3), x / 3 + 0.5, (v >= 3).astype(v.dtype))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * Hardswish._slope(x)

    @staticmethod
    def jvp(ctx, t):
        return t * Hardswish._slope(ctx.primals[0])


class ELU(Function):
    """y = s·x (x > 0), s·α·(e^(κx) − 1) (x ≤ 0)  — elu (s = κ = 1), selu (PyTorch's α, s),
    celu (κ = 1/α);  dy/dx = s (x > 0), s·α·κ·e^(κx) (x ≤ 0);  dx = g·dy/dx;
    jvp ẏ = ẋ·dy/dx.

    The exponential only ever sees min(x, 0), so x = 1e4 cannot overflow.
    """

    @staticmethod
    def forward(ctx, x, alpha=1.0, scale=1.0, input_scale=1.0):
        ctx.coefs = (alpha, scale, input_scale)
        ctx.save_for_backward(x)
        neg = np.expm1(np.minimum(x, 0) * input_scale) * (scale * alpha)
        return _arr(np.where(x <= 0, neg, x * scale))

    @staticmethod
    def _slope(ctx, x):
        alpha, scale, input_scale = ctx.coefs
        neg = _values(x) <= 0
        e = _exp(_where(neg, x, 0.0) * input_scale)
        return _where(neg, e * (scale * alpha * input_scale), scale)

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * ELU._slope(ctx, x)

    @staticmethod
    def jvp(ctx, t):
        return t * ELU._slope(ctx, ctx.primals[0])


class Softplus(Function):
    """y = ln(1 + e^(βx))/β, or x where βx > threshold;  dy/dx = σ(βx) (1 above the
    threshold);  dx = g·dy/dx;  jvp ẏ = ẋ·dy/dx.

    Computed as (max(βx, 0) + ln(1 + e^(−|βx|)))/β, which never overflows.
    """

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        ctx.beta, ctx.threshold = beta, threshold
        ctx.save_for_backward(x)
        bx = x * beta
        soft = (np.maximum(bx, 0) + np.log1p(np.exp(-np.abs(bx)))) / beta
        return _arr(np.where(bx > threshold, x, soft))

    @staticmethod
    def _slope(ctx, x):
        over = _values(x) * ctx.beta > ctx.threshold
        return _where(over, 1.0, _sigmoid(x * ctx.beta))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * Softplus._slope(ctx, x)

    @staticmethod
    def jvp(ctx, t):
        return t * Softplus._slope(ctx, ctx.primals[0])


class LogSigmoid(Function):
    """y = ln σ(x) = min(x, 0) − ln(1 + e^(−|x|));  dx = g·σ(−x);  jvp ẏ = ẋ·σ(−x).

    Exact for any x (no ln 0 for x ≪ 0, no cancellation for x ≫ 0).
    """

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return _arr(np.minimum(x, 0) - np.log1p(np.exp(-np.abs(x))))

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * _sigmoid(-x)

    @staticmethod
    def jvp(ctx, t):
        return t * _sigmoid(-ctx.primals[0])


# ----- activations: the public functions -----------------------------------------------------

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def leaky_relu(input: Any, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x for x > 0, ``negative_slope``·x otherwise (the gradient at 0 is the slope, as torch).

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.leaky_relu([-2.0, 3.0], 0.1).data
    array([-0.2,  3. ], dtype=float32)
    """
    if inplace:
        return _in_place(input, leaky_relu, negative_slope)
    x = _ops.tensor(input)
    return _where(x.data > 0, x, x * negative_slope)


def elu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x for x > 0, α(eˣ − 1) otherwise.

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.elu([-1e4, 0.0, 2.0]).data
    array([-1.,  0.,  2.], dtype=float32)
    """
    if inplace:
        return _in_place(input, elu, alpha)
    return ELU.apply(_ops.tensor(input), alpha=alpha)


def selu(input: Any, inplace: bool = False) -> Tensor:
    """scale·elu(x, α) with the self-normalising constants α ≈ 1.6733, scale ≈ 1.0507.

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.selu([1.0]).data
    array([1.050701], dtype=float32)
    """
    if inplace:
        return _in_place(input, selu)
    return ELU.apply(_ops.tensor(input), alpha=_SELU_ALPHA, scale=_SELU_SCALE)


def celu(input: Any, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, α(e^(x/α) − 1)): elu whose slope at 0 is 1 for every α.

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.celu([-1e4, 1.0], alpha=2.0).data
    array([-2.,  1.], dtype=float32)
    """
    if alpha == 0:
        raise ValueError("celu: alpha must not be 0 (the input is divided by it)")
    if inplace:
        return _in_place(input, celu, alpha)
    return ELU.apply(_ops.tensor(input), alpha=alpha, input_scale=1.0 / alpha)


def gelu(input: Any, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit x·Φ(x), Φ the standard normal CDF.

    ``approximate="tanh"`` uses ½x(1 + tanh(√(2/π)(x + 0.044715x³))) instead, as torch.
    Composed from :class:`Erf` (or tanh), so it is differentiable to any order.

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.gelu([-1e4, 0.0, 1.0]).data.round(4)
    array([-0.    ,  0.    ,  0.8413], dtype=float32)
    """
    x = _ops.tensor(input)
    if approximate == "none":
        return x * 0.5 * (Erf.apply(x * (1 / math.sqrt(2))) + 1)
    if approximate == "tanh":
        inner = (x + x * x * x * 0.044715) * math.sqrt(2 / math.pi)
        return x * 0.5 * (inner.tanh() + 1)
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Any, inplace: bool = False) -> Tensor:
    """x·σ(x) (also called swish).

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.silu([0.0, -1e4]).data
    array([ 0., -0.], dtype=float32)
    """
    if inplace:
        return _in_place(input, silu)
    x = _ops.tensor(input)
    return x * x.sigmoid()


def softplus(input: Any, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """ln(1 + e^(βx))/β, reverting to x where βx > ``threshold`` (as torch).

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.softplus([0.0, 1e4]).data.round(4)
    array([6.931e-01, 1.000e+04], dtype=float32)
    """
    return Softplus.apply(_ops.tensor(input), beta=beta, threshold=threshold)


def softsign(input: Any) -> Tensor:
    """x / (1 + |x|).

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.softsign([1.0, -3.0]).data
    array([ 0.5 , -0.75], dtype=float32)
    """
    x = _ops.tensor(input)
    return x / (x.abs() + 1)


def hardtanh(
    input: Any, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """x clipped to [min_val, max_val]; the gradient is 0 at and beyond the bounds.

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.hardtanh([-2.0, 0.5, 2.0]).data
    array([-1. ,  0.5,  1. ], dtype=float32)
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} is greater than max_val {max_val}")
    if inplace:
        return _in_place(input, hardtanh, min_val, max_val)
    return Hardtanh.apply(_ops.tensor(input), lo=min_val, hi=max_val)


def relu6(input: Any, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6) (hardtanh(x, 0, 6), as torch).

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.relu6([-1.0, 3.0, 9.0]).data
    array([0., 3., 6.], dtype=float32)
    """
    if inplace:
        return _in_place(input, relu6)
    return Hardtanh.apply(_ops.tensor(input), lo=0.0, hi=6.0)


def hardsigmoid(input: Any, inplace: bool = False) -> Tensor:
    """relu6(x + 3)/6: 0 below −3, 1 above 3, linear between.

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.hardsigmoid([-4.0, 0.0, 4.0]).data
    array([0. , 0.5, 1. ], dtype=float32)
    """
    if inplace:
        return _in_place(input, hardsigmoid)
    return Hardtanh.apply(_ops.tensor(input) + 3, lo=0.0, hi=6.0) / 6


def hardswish(input: Any, inplace: bool = False) -> Tensor:
    """x·relu6(x + 3)/6.

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.hardswish([-4.0, 1.0, 4.0]).data.round(4)
    array([-0.    ,  0.6667,  4.    ], dtype=float32)
    """
    if inplace:
        return _in_place(input, hardswish)
    return Hardswish.apply(_ops.tensor(input))


def mish(input: Any, inplace: bool = False) -> Tensor:
    """x·tanh(softplus(x)).

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.mish([0.0, 1e4]).data
    array([    0., 10000.], dtype=float32)
    """
    if inplace:
        return _in_place(input, mish)
    x = _ops.tensor(input)
    return x * Softplus.apply(x).tanh()


def relu_(input: Tensor) -> Tensor:
    """``relu(input, inplace=True)``, as ``torch.nn.functional.relu_``."""
    return relu(input, inplace=True)


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``leaky_relu(input, negative_slope, inplace=True)``."""
    return leaky_relu(input, negative_slope, inplace=True)


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``elu(input, alpha, inplace=True)``."""
    return elu(input, alpha, inplace=True)


def selu_(input: Tensor) -> Tensor:
    """``selu(input, inplace=True)``."""
    return selu(input, inplace=True)


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``celu(input, alpha, inplace=True)``."""
    return celu(input, alpha, inplace=True)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """``hardtanh(input, min_val, max_val, inplace=True)``."""
    return hardtanh(input, min_val, max_val, inplace=True)


def logsigmoid(input: Any) -> Tensor:
    """ln σ(x), exact for inputs of any size.

    >>> import tinygrad_mlp.nn.functional as F
    >>> F.logsigmoid([-1e4, 0.0]).data.round(4)
    array([-1.000e+04, -6.931e-01], dtype=float32)
    """
    return LogSigmoid.apply(_ops.tensor(input))


# ----- more losses, composed from the ops above ---------------------------------------------


def binary_cross_entropy_with_logits(
    input: Any,
    target: Any,
    weight: Any = None,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    pos_weight: Any = None,
) -> Tensor:
    """Binary cross-entropy of ``sigmoid(input)``, computed from the logits (stable).

    Per element, with l = 1 + (pos_weight − 1)·t:
    ``loss = (1 − t)·x − l·log σ(x)`` = −[pos_weight·t·log σ(x) + (1 − t)·log(1 − σ(x))],
    built on :class:`LogSigmoid`, so logits of ±1e4 give finite values and gradients.

    Parameters
    ----------
    input : Tensor or array_like
        Logits.
    target : Tensor or array_like
        Same shape as ``input``: probabilities of the positive class (soft labels allowed).
    weight : array_like, optional
        Broadcastable to ``input``: rescales each element's loss.
    reduction : {"mean", "sum", "none"}
    pos_weight : array_like, optional
        Weight of the positive examples, broadcast along the last axis (one per class).
    size_average, reduce : deprecated PyTorch spellings of ``reduction``.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> round(F.binary_cross_entropy_with_logits(np.array([0.0, 1e4]), [1.0, 1.0]).item(), 4)
    0.3466
    """
    fn = "binary_cross_entropy_with_logits"
    reduction = _legacy_reduction(size_average, reduce, reduction, fn)
    x = _ops.tensor(input)
    t = _target_like(target, x, fn)
    log_sig = LogSigmoid.apply(x)
    if pos_weight is None:
        losses = x * (1 - t) - log_sig
    else:
        pw = _element_weights(pos_weight, x, fn + " (pos_weight)")
        losses = x * (1 - t) - log_sig * (t * (pw - 1) + 1)
    if weight is not None:
        losses = losses * _element_weights(weight, x, fn)
    return _reduce(losses, reduction)


def kl_div(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    log_target: bool = False,
) -> Tensor:
    """Kullback–Leibler divergence ``target·(log target − input)``, input in log space.

    With ``log_target=True`` the target is in log space too: ``e^t·(t − input)``. A zero
    target contributes 0 (xlogy).

    Parameters
    ----------
    input : Tensor
        Log-probabilities.
    target : Tensor or array_like
        Probabilities (or log-probabilities), same shape as ``input``.
    reduction : {"mean", "batchmean", "sum", "none"}
        ``"batchmean"`` (the true KL divergence of a batch) divides the sum by
        ``input.shape[0]``; ``"mean"`` divides by the number of elements, as torch.
    size_average, reduce : deprecated PyTorch spellings of ``reduction``.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> p = np.array([[0.5, 0.5]])
    >>> F.kl_div(np.log(p), p, reduction="batchmean").item()
    0.0
    """
    if reduction == "batchmean" and size_average is None and reduce is None:
        batchmean = True
    else:
        batchmean = False
        reduction = _legacy_reduction(size_average, reduce, reduction, "kl_div")
    x = _ops.tensor(input)
    t = _target_like(target, x, "kl_div")
    if log_target:
        losses = _exp(t) * (t - x)
    else:
        zero = _values(t) == 0
        with np.errstate(invalid="ignore", divide="ignore"):
            log_t = _log(_where(zero, 1.0, t))
        losses = t * (log_t - x)
    if batchmean:
        return _mean_by(losses.sum(), x.shape[0] if x.ndim else 1)
    return _reduce(losses, reduction)


def l1_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    weight: Any = None,
) -> Tensor:
    """Mean absolute error ``|input − target|`` (gradient sign(input − target), 0 at 0).

    With ``weight`` (input's shape), each error is scaled and ``"mean"`` divides by Σ weight,
    as torch.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> F.l1_loss(np.array([1.0, -3.0], np.float32), [0.0, 0.0]).item()
    2.0
    """
    reduction = _legacy_reduction(size_average, reduce, reduction, "l1_loss")
    x = _ops.tensor(input)
    losses = (x - _target_like(target, x, "l1_loss")).abs()
    if weight is None:
        return _reduce(losses, reduction)
    w = _element_weights(weight, x, "l1_loss", same_shape=True)
    if reduction == "mean":
        return _mean_by((losses * w).sum(), w.sum())
    return _reduce(losses * w, reduction)


def smooth_l1_loss(
    input: Any,
    target: Any,
    size_average: bool | None = None,
    reduce: bool | None = None,
    reduction: str = "mean",
    beta: float = 1.0,
) -> Tensor:
    """½d²/β where |d| < β, else |d| − ½β (d = input − target); β = 0 is the L1 loss.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> F.smooth_l1_loss(np.array([0.5, 3.0]), [0.0, 0.0], reduction="none").data
    array([0.125, 2.5  ])
    """
    reduction = _legacy_reduction(size_average, reduce, reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    x = _ops.tensor(input)
    d = x - _target_like(target, x, "smooth_l1_loss")
    a = d.abs()
    if beta == 0:
        return _reduce(a, reduction)
    return _reduce(_where(a.data < beta, d * d * (0.5 / beta), a - 0.5 * beta), reduction)


def huber_loss(
    input: Any, target: Any, reduction: str = "mean", delta: float = 1.0, weight: Any = None
) -> Tensor:
    """½d² where |d| < δ, else δ(|d| − ½δ) (d = input − target): smooth_l1 scaled by δ.

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> F.huber_loss(np.array([0.5, 3.0]), [0.0, 0.0], reduction="none", delta=2.0).data
    array([0.125, 4.   ])
    """
    _check_reduction(reduction, "huber_loss")
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    x = _ops.tensor(input)
    d = x - _target_like(target, x, "huber_loss")
    a = d.abs()
    losses = _where(a.data < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
    if weight is not None:
        losses = losses * _element_weights(weight, x, "huber_loss", same_shape=True)
    return _reduce(losses, reduction)


def cosine_similarity(x1: Any, x2: Any, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Σ x1·x2 / (max(‖x1‖, eps)·max(‖x2‖, eps)) along ``dim``, the inputs broadcast first.

    As torch, each vector is divided by its own norm before the product (the result stays
    in [−1, 1]) and the eps floor is a constant (no gradient through the clamp).

    >>> import numpy as np
    >>> import tinygrad_mlp.nn.functional as F
    >>> F.cosine_similarity(np.array([[1.0, 0.0]]), np.array([[1.0, 1.0]])).data.round(4)
    array([0.7071])
    """
    a, b = _ops.tensor(x1), _ops.tensor(x2)
    shape = np.broadcast_shapes(a.shape, b.shape)
    if not -len(shape) <= dim < max(len(shape), 1):
        raise ValueError(f"cosine_similarity: dim {dim} is out of range for shape {shape}")
    axis = dim % max(len(shape), 1)
    a = a if a.shape == shape else a.broadcast_to(shape)
    b = b if b.shape == shape else b.broadcast_to(shape)

    def unit(v: Tensor) -> Tensor:
        norm = (v * v).sum(axis, keepdims=True).sqrt()
        return v / (norm + np.maximum(eps - norm.data, 0))

    return (unit(a) * unit(b)).sum(axis)
