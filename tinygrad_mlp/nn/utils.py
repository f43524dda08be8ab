"""Gradient clipping, as ``torch.nn.utils``: ``clip_grad_norm_`` and ``clip_grad_value_``.

Both change the gradients in place (the trailing underscore, as torch), between
``loss.backward()`` and ``optimizer.step()``::

    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    opt.step()
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from tinygrad_mlp.tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_"]


def _grads(parameters: Tensor | Iterable[Tensor]) -> list[Tensor]:
    params = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    for p in params:
        if not isinstance(p, Tensor):
            raise TypeError(f"expected Tensors (parameters), got {type(p).__name__}")
    return [p.grad for p in params if p.grad is not None]


def clip_grad_norm_(
    parameters: Tensor | Iterable[Tensor],
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach: Any = None,
) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``.

    The total norm is the ``norm_type``-norm of the vector of every gradient element
    (``inf`` for the largest absolute value). Each gradient is multiplied by
    min(1, max_norm / (total + 1e-6)), as torch.

    Parameters
    ----------
    parameters : Tensor or iterable of Tensors
        Parameters whose ``.grad`` is clipped (those without a gradient are skipped).
    max_norm : float
    norm_type : float, default 2.0
    error_if_nonfinite : bool, default False
        Raise if the total norm is NaN or infinite instead of scaling by it.
    foreach : ignored (accepted for PyTorch compatibility).

    Returns
    -------
    Tensor
        The total norm before clipping (0-d).

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> p = nn.Parameter(np.zeros(2))
    >>> p.grad = tg.Tensor(np.array([3.0, 4.0]))
    >>> nn.utils.clip_grad_norm_([p], max_norm=1.0).item()
    5.0
    >>> p.grad.data.round(6)
    array([0.6, 0.8])
    """
    grads = _grads(parameters)
    if not grads:
        return Tensor(np.zeros((), np.float32))
    norm_type = float(norm_type)
    if math.isinf(norm_type):
        norms = [np.max(np.abs(g.data)) if g.data.size else 0.0 for g in grads]
        total = np.max(norms)
    else:
        norms = [np.linalg.norm(g.data.reshape(-1), norm_type) for g in grads]
        total = np.linalg.norm(np.array(norms), norm_type)
    total = np.asarray(total, dtype=np.result_type(*[g.dtype for g in grads]))
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"the total norm of order {norm_type} of the gradients is non-finite ({total}), "
            "so it cannot be clipped; pass error_if_nonfinite=False to scale anyway"
        )
    coef = min(float(max_norm) / (float(total) + 1e-6), 1.0)
    for g in grads:
        g.data *= coef
        g._bump_version()
    return Tensor(total)


def clip_grad_value_(
    parameters: Tensor | Iterable[Tensor], clip_value: float, foreach: Any = None
) -> None:
    """Clip every gradient element to [−clip_value, clip_value], in place.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> p = nn.Parameter(np.zeros(3))
    >>> p.grad = tg.Tensor(np.array([-5.0, 0.5, 5.0]))
    >>> nn.utils.clip_grad_value_(p, 1.0)
    >>> p.grad.data
    array([-1. ,  0.5,  1. ])
    """
    c = float(clip_value)
    for g in _grads(parameters):
        np.clip(g.data, -c, c, out=g.data)
        g._bump_version()
