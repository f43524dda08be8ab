"""The differentiable operations: each forward next to its backward, one docstring each.

One module per family, each readable in one sitting:

    arithmetic.py   + - * / ** neg, matmul, the fused linear layer
    elementwise.py  exp log sqrt abs sigmoid tanh relu clip, maximum/minimum, where
    reduce.py       sum, max/min, softmax, log-softmax
    shape.py        cast, reshape, transpose, expand, indexing, cat, stack

This package re-exports every op class and defines the public functional forms
(``tg.exp(x)``, ``tg.sum(x, axis=0)``, ...).

Reading guide. ``forward`` gets numpy arrays and returns one array. ``backward`` gets the
gradient of the output, ``g``, and returns one gradient per input (``None`` where no
gradient is needed). Rules never undo broadcasting themselves: the engine sums each
returned gradient down to its input's shape. Rules use only operations that numpy arrays
and Tensors share (``* / + - @ .sum .reshape .transpose``) plus the small ``_exp``,
``_log``, ``_expand``, ``_getitem`` and ``_scatter`` helpers, so the same rule runs on raw
arrays (ordinary backward) and on Tensors (``create_graph=True``, higher-order gradients).

Integer inputs to math ops are promoted to float32 before forward (see
``Function.promote_int``); shape ops (reshape, indexing, cat...) keep the dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_mlp.ops.arithmetic import (  # noqa: F401  (re-exported)
    Add,
    Div,
    Linear,
    MatMul,
    Mul,
    Neg,
    Pow,
    Sub,
)
from tinygrad_mlp.ops.elementwise import (  # noqa: F401  (re-exported)
    Abs,
    Clip,
    Exp,
    Log,
    Maximum,
    ReLU,
    Sigmoid,
    Sqrt,
    Tanh,
    Where,
)
from tinygrad_mlp.ops.reduce import (  # noqa: F401  (re-exported)  # noqa: F401
    LogSoftmax,
    Max,
    Softmax,
    Sum,
    _keepdims_shape,
    _reduced_shape,
)
from tinygrad_mlp.ops.shape import (  # noqa: F401  (re-exported)
    Cast,
    Cat,
    Expand,
    GetItem,
    Reshape,
    ScatterAdd,
    Stack,
    Transpose,
    _is_advanced,  # noqa: F401
)
from tinygrad_mlp.tensor import Tensor

# ----- public functional forms: tg.exp(x), tg.sum(x, axis=0), ... -------------------------


def tensor(x: Any) -> Tensor:
    """``x`` as a Tensor (Tensors pass through unchanged)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def _pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Operands of a binary op: next to a Tensor, a number stays a (weakly typed) constant,
    as with operators, so ``tg.maximum(x64, 0.1)`` is not rounded to float32."""
    return (a, b) if isinstance(a, Tensor) or isinstance(b, Tensor) else (tensor(a), b)


def add(a: Any, b: Any) -> Tensor:
    return Add.apply(*_pair(a, b))


def sub(a: Any, b: Any) -> Tensor:
    return Sub.apply(*_pair(a, b))


def mul(a: Any, b: Any) -> Tensor:
    return Mul.apply(*_pair(a, b))


def div(a: Any, b: Any) -> Tensor:
    return Div.apply(*_pair(a, b))


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001  (numpy's name)
    return Pow.apply(*_pair(a, b))


def neg(x: Any) -> Tensor:
    return -tensor(x)


def matmul(a: Any, b: Any) -> Tensor:
    return MatMul.apply(*_pair(a, b))


def linear(x: Any, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ weight.T + bias, as one fused op (PyTorch's F.linear)."""
    args = (tensor(x), weight) if bias is None else (tensor(x), weight, bias)
    return Linear.apply(*args)


def exp(x: Any) -> Tensor:
    return tensor(x).exp()


def log(x: Any) -> Tensor:
    return tensor(x).log()


def sqrt(x: Any) -> Tensor:
    return tensor(x).sqrt()


def abs(x: Any) -> Tensor:  # noqa: A001
    return tensor(x).abs()


def sigmoid(x: Any) -> Tensor:
    return tensor(x).sigmoid()


def tanh(x: Any) -> Tensor:
    return tensor(x).tanh()


def relu(x: Any) -> Tensor:
    return tensor(x).relu()


def clip(x: Any, lo: float | None = None, hi: float | None = None) -> Tensor:
    return tensor(x).clip(lo, hi)


def sum(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return tensor(x).sum(axis, keepdims)


def mean(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:
    return tensor(x).mean(axis, keepdims)


def max(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return tensor(x).max(axis, keepdims)


def min(x: Any, axis: Any = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return tensor(x).min(axis, keepdims)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return tensor(x).argmax(axis, keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return tensor(x).argmin(axis, keepdims)


def softmax(x: Any, axis: int = -1) -> Tensor:
    return tensor(x).softmax(axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    return tensor(x).log_softmax(axis)


def reshape(x: Any, shape: Sequence[int]) -> Tensor:
    return tensor(x).reshape(shape)


def transpose(x: Any, axes: Sequence[int] | None = None) -> Tensor:
    return tensor(x).transpose(axes) if axes is not None else tensor(x).transpose()


def flatten(x: Any) -> Tensor:
    return tensor(x).flatten()


def broadcast_to(x: Any, shape: Sequence[int]) -> Tensor:
    return tensor(x).broadcast_to(shape)


def cat(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return Cat.apply(*[tensor(t) for t in tensors], axis=axis)


concatenate = cat


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    return Stack.apply(*[tensor(t) for t in tensors], axis=axis)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """Elementwise ``a`` where ``cond`` is true, else ``b``; differentiable in a and b."""
    mask = np.asarray(cond.data if isinstance(cond, Tensor) else cond, dtype=bool)
    return Where.apply(*_pair(a, b), cond=mask)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum; on ties each side gets half the gradient."""
    return Maximum.apply(*_pair(a, b), fn=np.maximum)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum; on ties each side gets half the gradient."""
    return Maximum.apply(*_pair(a, b), fn=np.minimum)
