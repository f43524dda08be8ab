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

from tinygrad_mlp.tensor import Tensor

__all__ = ["batch_norm", "layer_norm"]


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def _values(x: Any) -> np.ndarray:
    return x.data if isinstance(x, Tensor) else np.asarray(x)


def _per_channel(v: Any, c: int, shape: tuple[int, ...], name: str) -> Tensor:
    """A (C,) vector (Tensor or array) as a Tensor shaped to broadcast over channels."""
    t = _as_tensor(v)
    if t.shape != (c,):
        raise ValueError(f"batch_norm: {name} must have shape ({c},) (one per channel), "
                         f"got {t.shape}")
    return t.reshape(shape)


def _update(running: Any, batch: np.ndarray, momentum: float) -> None:
    """running ← (1 − momentum)·running + momentum·batch, in place (a buffer, no graph)."""
    arr = _values(running)
    arr *= 1.0 - momentum
    arr += momentum * batch.astype(arr.dtype, copy=False)
    if isinstance(running, Tensor):
        running._bump_version()


def batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Normalise each channel (axis 1) of ``x`` (N, C, ...) as ``torch.nn.functional.batch_norm``.

    In training the batch's statistics are used and, when given, ``running_mean`` and
    ``running_var`` are updated in place (the variance stored unbiased, n/(n−1)); in eval
    the running statistics are used. ``weight``/``bias`` (C,) scale and shift.

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
        if running_mean is not None:
            _update(running_mean, mean.data.reshape(c), momentum)
        if running_var is not None:
            _update(running_var, var.data.reshape(c) * (n / (n - 1)), momentum)
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
