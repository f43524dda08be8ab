"""``tg.autograd``: the engine's entry points under PyTorch's names.

Everything here is defined in :mod:`tinygrad_mlp.tensor` (the walk) and
:mod:`tinygrad_mlp.function` (the op contract); this module only gathers them where
``torch.autograd`` users look for them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tinygrad_mlp.function import Context, Function
from tinygrad_mlp.tensor import (
    Tensor,
    _inputs_arg,
    _run_backward,
    detect_anomaly,
    enable_grad,
    grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)

__all__ = [
    "Context",
    "Function",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "grad",
    "is_grad_enabled",
    "no_grad",
    "set_grad_enabled",
]


def backward(
    tensors: Tensor | Sequence[Tensor],
    grad_tensors: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    inputs: Tensor | Sequence[Tensor] | None = None,
) -> None:
    """Accumulate the gradients of several outputs into the leaves' ``.grad`` in one walk
    (``torch.autograd.backward``): the same as summing ``t.backward(g)`` over the pairs, but
    each shared part of the graph is visited once. ``inputs``: as ``Tensor.backward``'s.

    >>> import tinygrad_mlp as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> tg.autograd.backward([(x * x).sum(), (3 * x).sum()])
    >>> x.grad
    Tensor([5., 7.], dtype=float32)
    """
    outs = [tensors] if isinstance(tensors, Tensor) else list(tensors)
    if grad_tensors is None:
        gs = [None] * len(outs)
    elif isinstance(grad_tensors, Tensor) or not isinstance(grad_tensors, (list, tuple)):
        gs = [grad_tensors]
    else:
        gs = list(grad_tensors)
    if len(gs) != len(outs):
        raise ValueError(f"grad_tensors has {len(gs)} entries for {len(outs)} tensors")
    _run_backward(outs, gs, retain_graph, create_graph, inputs=_inputs_arg(inputs),
                  accumulate=True)
