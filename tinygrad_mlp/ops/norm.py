"""Normalisation layers' functions, composed from primitive ops (so every derivative order
and forward mode come from the primitives' rules; no fused op to get wrong).

Batch norm normalises each channel over the batch (and image positions), layer norm each
sample over its last dimensions::

    x̂ = (x − mean) / √(var + eps)        y = x̂ · weight + bias

with the biased variance (divide by n), as PyTorch. In training, batch norm also moves
the running estimates toward the batch's (unbiased) statistics:
``running = (1 − momentum)·running + momentum·batch``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_mlp.function import Function
from tinygrad_mlp.tensor import Tensor

__all__ = ["TrackRunningStats", "batch_norm", "layer_norm"]


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _per_channel(v: Any, c: int, shape: tuple[int, ...], name: str) -> Tensor:
    """A (C,) vector (Tensor or array) as a Tensor shaped to broadcast over channels."""
    t = _as_tensor(v)
    if t.shape != (c,):
        raise ValueError(f"batch_norm: {name} must have shape ({c},) (one per channel), "
                         f"got {t.shape}")
    return t.reshape(shape)


class TrackRunningStats(Function):
    """A side effect, as an op: move the running statistics toward the batch's, in place.

    ``forward(mean, var, *buffers, kinds, momentum, n)``: ``buffers`` are the arrays named
    by ``kinds`` ("mean", "var", "count"); each running value becomes
    (1 − momentum)·running + momentum·batch (the variance made unbiased, ·n/(n−1)); a
    "count" (``num_batches_tracked``) goes up by one, and ``momentum=None`` then means
    1/count (the plain average of all batches). Being an op on the tape, the update also
    happens when ``tg.jit`` replays a training step. Returns a 0-d zero; no gradient, and
    jvp: none (the output is a constant).
    """

    promote_int = False  # the count is updated in place: never a float copy of it

    @staticmethod
    def forward(ctx, mean, var, *buffers, kinds=(), momentum=0.1, n=2):
        arrays = dict(zip(kinds, buffers, strict=True))
        if "count" in arrays:
            arrays["count"] += 1
            if momentum is None:
                momentum = 1.0 / float(arrays["count"])
        momentum = 0.0 if momentum is None else momentum
        for kind, batch in (("mean", mean), ("var", var * (n / (n - 1)))):
            if kind in arrays:
                running = arrays[kind]
                running *= 1.0 - momentum
                running += momentum * batch.reshape(running.shape).astype(running.dtype,
                                                                        copy=False)
        return np.zeros((), mean.dtype)

    @staticmethod
    def backward(ctx, g):
        return (None,) * len(ctx.needs_input_grad)

    @staticmethod
    def jvp(ctx, *tangents):
        return None


def _track(mean: Tensor, var: Tensor, buffers: dict[str, Any], momentum: float | None,
           n: int) -> None:
    """Apply TrackRunningStats to the buffers given (Tensors, or arrays) and mark them
    changed."""
    named = {k: v for k, v in buffers.items() if v is not None}
    if not named:
        return
    for k, v in named.items():
        if not isinstance(v, Tensor) and not (isinstance(v, np.ndarray) and v.flags.writeable):
            raise ValueError(f"batch_norm: the running {k} must be a Tensor or a writable "
                             f"array (it is updated in place in training), got "
                             f"{type(v).__name__}")
    values = [v if isinstance(v, Tensor) else Tensor._make(v, None) for v in named.values()]
    TrackRunningStats.apply(mean, var, *values, kinds=tuple(named), momentum=momentum, n=n)
    for v in named.values():
        if isinstance(v, Tensor):
            v._bump_version()


def batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float | None = 0.1,
               eps: float = 1e-5, num_batches_tracked: Any = None) -> Tensor:
    """Normalise each channel (axis 1) of ``x`` (N, C, ...) as ``torch.nn.functional.batch_norm``.

    In training the batch's statistics are used and, when given, ``running_mean`` and
    ``running_var`` are updated in place (the variance stored unbiased, n/(n−1)); in eval
    the running statistics are used. ``weight``/``bias`` (C,) scale and shift.
    ``num_batches_tracked`` (the modules' counter, optional) is incremented in training;
    with it, ``momentum=None`` averages all batches so far (``TrackRunningStats``).

    >>> import numpy as np, tinygrad_mlp.nn.functional as F
    >>> x = np.array([[1.0], [3.0]], np.float32)
    >>> F.batch_norm(x, None, None, training=True).data.round(3).ravel()
    array([-1.,  1.], dtype=float32)
    """
    x = _as_tensor(x)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected an input of shape (N, C, ...), got {x.shape}")
    c = x.shape[1]
    shape = (1, c) + (1,) * (x.ndim - 2)
    if training:
        axes = (0, *range(2, x.ndim))
        n = x.size // max(c, 1)
        if n <= 1:
            raise ValueError(f"batch_norm: expected more than 1 value per channel when "
                             f"training, got input of shape {x.shape}")
        mean = x.mean(axes, keepdims=True)
        centred = x - mean
        var = (centred * centred).mean(axes, keepdims=True)
        _track(mean, var, {"mean": running_mean, "var": running_var,
                           "count": num_batches_tracked}, momentum, n)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: running_mean and running_var are needed in eval mode "
                             "(training=False)")
        centred = x - _per_channel(running_mean, c, shape, "running_mean")
        var = _per_channel(running_var, c, shape, "running_var")
    y = centred / (var + eps).sqrt()
    if weight is not None:
        y = y * _per_channel(weight, c, shape, "weight")
    if bias is not None:
        y = y + _per_channel(bias, c, shape, "bias")
    return y


def layer_norm(x: Any, normalized_shape: int | Sequence[int], weight: Any = None,
               bias: Any = None, eps: float = 1e-5) -> Tensor:
    """Normalise over the last ``len(normalized_shape)`` dimensions of each sample, as
    ``torch.nn.functional.layer_norm``; ``weight``/``bias`` have ``normalized_shape``.

    >>> import numpy as np, tinygrad_mlp.nn.functional as F
    >>> F.layer_norm(np.array([[1.0, 3.0]], np.float32), 2).data.round(3)
    array([[-1.,  1.]], dtype=float32)
    """
    x = _as_tensor(x)
    dims = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(
        normalized_shape)
    k = len(dims)
    if k == 0 or x.shape[x.ndim - k:] != tuple(dims) or k > x.ndim:
        raise ValueError(f"layer_norm: normalized_shape {tuple(dims)} must match the last "
                         f"dimensions of the input, got input of shape {x.shape}")
    axes = tuple(range(x.ndim - k, x.ndim))
    mean = x.mean(axes, keepdims=True)
    centred = x - mean
    var = (centred * centred).mean(axes, keepdims=True)
    y = centred / (var + eps).sqrt()
    for value, name in ((weight, "weight"), (bias, "bias")):
        if value is not None:
            t = _as_tensor(value)
            if t.shape != tuple(dims):
                raise ValueError(f"layer_norm: {name} must have shape {tuple(dims)}, "
                                 f"got {t.shape}")
            y = y * t if name == "weight" else y + t
    return y
