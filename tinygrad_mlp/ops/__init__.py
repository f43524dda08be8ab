"""The differentiable operations: each forward next to its backward, one docstring each.

One module per family, each readable in one sitting:

    arithmetic.py   + - * / ** neg, matmul, the fused linear layer
    elementwise.py  exp log sqrt abs sigmoid tanh relu clip, maximum/minimum, where
    reduce.py       sum, max/min, softmax, log-softmax
    shape.py        cast, reshape, transpose, expand, indexing, cat, stack
    math.py         sin cos tan log2 log1p exp2 expm1 rsqrt reciprocal square, rounding
    scan.py         prod, cumsum, cumprod (exact at zeros, exact for integers)
    layout.py       clone, pad, roll, tril/triu
    linalg.py       einsum, the vector 2-norm
    index.py        gather/take_along_axis, index_select, scatter_add, index_add (indexing)
    conv.py         conv2d (im2col + BLAS) and its two gradient ops, max/avg pooling
    norm.py         batch norm, layer norm (composed from the ops above)
    composite.py    ops built from the others: squeeze, split, var/std, logsumexp, ...
    creation.py     factories, as torch: tg.tensor, zeros, ones, full, arange, eye, rand...
    _args.py        torch/numpy argument names (dim/axis, keepdim/keepdims), axis checks

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
``Function.promote_int``); shape ops (reshape, indexing, cat...) keep the dtype, and so do
the reductions where numpy is exact (sum, max/min, prod, cumsum, cumprod, einsum).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_mlp.ops import composite, creation  # noqa: F401  (Tensor methods call them)
from tinygrad_mlp.ops import index as index_ops  # noqa: F401
from tinygrad_mlp.ops._args import axis_index, pad_widths, pick, var_args  # noqa: F401
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
from tinygrad_mlp.ops.conv import (  # noqa: F401  (re-exported)
    AvgPool2d,
    AvgPoolSpread,
    Conv2d,
    ConvInputGrad,
    ConvWeightGrad,
    MaxPool2d,
    PoolGather,
    PoolScatter,
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
from tinygrad_mlp.ops.layout import Clone, Pad, Roll, Triangle  # noqa: F401  (re-exported)
from tinygrad_mlp.ops.linalg import Einsum, Norm  # noqa: F401  (re-exported)
from tinygrad_mlp.ops.math import (  # noqa: F401  (re-exported)
    Cos,
    Exp2,
    Expm1,
    Log1p,
    Log2,
    Reciprocal,
    Rounding,
    Rsqrt,
    Sin,
    Square,
    Tan,
)
from tinygrad_mlp.ops.reduce import (  # noqa: F401  (re-exported)  # noqa: F401
    LogSoftmax,
    Max,
    Softmax,
    Sum,
    _keepdims_shape,
    _reduced_shape,
)
from tinygrad_mlp.ops.scan import CumProd, CumSum, Prod  # noqa: F401  (re-exported)
from tinygrad_mlp.ops.shape import (  # noqa: F401  (re-exported)
    Cast,
    Cat,
    Expand,
    GetItem,
    Reshape,
    ScatterAdd,
    SetItem,
    Stack,
    Transpose,
    WriteView,
    _is_advanced,  # noqa: F401
)
from tinygrad_mlp.tensor import Tensor, _to_array

# ----- public functional forms: tg.exp(x), tg.sum(x, axis=0), ... -------------------------


def tensor(x: Any) -> Tensor:
    """``x`` as a Tensor for an op's input: Tensors pass through, arrays are wrapped without
    a copy (an op never writes into its inputs), lists and numbers become float32 arrays."""
    return x if isinstance(x, Tensor) else Tensor._make(_to_array(x), None)


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


def sum(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Any:  # noqa: A001
    """``x.sum(...)``; torch's ``dim=``/``keepdim=`` accepted."""
    return tensor(x).sum(axis, keepdims, **torch_names)


def mean(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Any:
    """``x.mean(...)``; torch's ``dim=``/``keepdim=`` accepted."""
    return tensor(x).mean(axis, keepdims, **torch_names)


def max(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Any:  # noqa: A001
    """``x.max(...)``; torch's ``dim=``/``keepdim=`` accepted."""
    return tensor(x).max(axis, keepdims, **torch_names)


def min(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Any:  # noqa: A001
    """``x.min(...)``; torch's ``dim=``/``keepdim=`` accepted."""
    return tensor(x).min(axis, keepdims, **torch_names)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    return tensor(x).argmax(axis, keepdims, **torch_names)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    return tensor(x).argmin(axis, keepdims, **torch_names)


def softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    return tensor(x).softmax(axis, dim=dim)


def log_softmax(x: Any, axis: int = -1, *, dim: int | None = None) -> Tensor:
    return tensor(x).log_softmax(axis, dim=dim)


def reshape(x: Any, shape: Sequence[int]) -> Tensor:
    return tensor(x).reshape(shape)


def transpose(x: Any, *axes: Any) -> Tensor:
    """``x.transpose(...)``: a permutation (or none: reversed); on a tensor of more than two
    dimensions two axes are swapped, as ``torch.transpose(x, 0, 1)``."""
    return tensor(x).transpose(*[a for a in axes if a is not None])


def swapaxes(x: Any, a: int, b: int) -> Tensor:
    return tensor(x).swapaxes(a, b)


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return tensor(x).flatten(start_dim, end_dim)


def broadcast_to(x: Any, *shape: Any) -> Tensor:
    return tensor(x).broadcast_to(*shape)


def cat(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along an existing axis (``dim=`` as torch)."""
    return Cat.apply(*[tensor(t) for t in tensors], axis=axis if dim is None else dim)


concatenate = cat


def stack(tensors: Sequence[Any], axis: int = 0, *, dim: int | None = None) -> Tensor:
    """Join tensors along a new axis (``dim=`` as torch)."""
    return Stack.apply(*[tensor(t) for t in tensors], axis=axis if dim is None else dim)


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


# ----- the PyTorch surface (issue 12): tg.sin(x), tg.einsum(...), tg.hstack([...]), ... -----


def sin(x: Any) -> Tensor:
    return tensor(x).sin()


def cos(x: Any) -> Tensor:
    return tensor(x).cos()


def tan(x: Any) -> Tensor:
    return tensor(x).tan()


def log2(x: Any) -> Tensor:
    return tensor(x).log2()


def log1p(x: Any) -> Tensor:
    return tensor(x).log1p()


def exp2(x: Any) -> Tensor:
    return tensor(x).exp2()


def expm1(x: Any) -> Tensor:
    return tensor(x).expm1()


def rsqrt(x: Any) -> Tensor:
    return tensor(x).rsqrt()


def reciprocal(x: Any) -> Tensor:
    return tensor(x).reciprocal()


def square(x: Any) -> Tensor:
    return tensor(x).square()


def sign(x: Any) -> Tensor:
    return tensor(x).sign()


def floor(x: Any) -> Tensor:
    return tensor(x).floor()


def ceil(x: Any) -> Tensor:
    return tensor(x).ceil()


def round(x: Any, decimals: int = 0) -> Tensor:  # noqa: A001
    return tensor(x).round(decimals)


def trunc(x: Any) -> Tensor:
    return tensor(x).trunc()


def clone(x: Any) -> Tensor:
    return tensor(x).clone()


def clamp(x: Any, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002
    return tensor(x).clamp(min, max)


def permute(x: Any, *dims: Any) -> Tensor:
    return tensor(x).permute(*dims)


def tril(x: Any, k: int = 0, **torch_names: Any) -> Tensor:
    return tensor(x).tril(k, **torch_names)


def triu(x: Any, k: int = 0, **torch_names: Any) -> Tensor:
    return tensor(x).triu(k, **torch_names)


def pad(x: Any, pad_width: Any, value: float = 0.0) -> Tensor:
    return tensor(x).pad(pad_width, value)


def roll(x: Any, shift: Any = None, axis: Any = None, **torch_names: Any) -> Tensor:
    return tensor(x).roll(shift, axis, **torch_names)


def prod(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    return tensor(x).prod(axis, keepdims, **torch_names)


def cumsum(x: Any, axis: int | None = None, **torch_names: Any) -> Tensor:
    return tensor(x).cumsum(axis, **torch_names)


def cumprod(x: Any, axis: int | None = None, **torch_names: Any) -> Tensor:
    return tensor(x).cumprod(axis, **torch_names)


def amax(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    return tensor(x).amax(axis, keepdims, **torch_names)


def amin(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    return tensor(x).amin(axis, keepdims, **torch_names)


def all(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:  # noqa: A001
    return tensor(x).all(axis, keepdims, **torch_names)


def any(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:  # noqa: A001
    return tensor(x).any(axis, keepdims, **torch_names)


def squeeze(x: Any, axis: Any = None, **torch_names: Any) -> Tensor:
    return tensor(x).squeeze(axis, **torch_names)


def unsqueeze(x: Any, axis: Any = None, **torch_names: Any) -> Tensor:
    return tensor(x).unsqueeze(axis, **torch_names)


def unflatten(x: Any, axis: int, sizes: Sequence[int]) -> Tensor:
    return tensor(x).unflatten(axis, sizes)


def tile(x: Any, reps: Any) -> Tensor:
    return tensor(x).tile(reps)


def flip(x: Any, axis: Any = None, **torch_names: Any) -> Tensor:
    return tensor(x).flip(axis, **torch_names)


def narrow(x: Any, axis: int, start: int, length: int) -> Tensor:
    return tensor(x).narrow(axis, start, length)


def split(x: Any, size_or_sections: Any, axis: int = 0, **torch_names: Any) -> tuple:
    return tensor(x).split(size_or_sections, axis, **torch_names)


def chunk(x: Any, chunks: int, axis: int = 0, **torch_names: Any) -> tuple:
    return tensor(x).chunk(chunks, axis, **torch_names)


def unbind(x: Any, axis: int = 0, **torch_names: Any) -> tuple:
    return tensor(x).unbind(axis, **torch_names)


def var(x: Any, axis: Any = None, correction: Any = None, keepdims: bool = False,
        **torch_names: Any) -> Tensor:
    return tensor(x).var(axis, correction, keepdims, **torch_names)


def std(x: Any, axis: Any = None, correction: Any = None, keepdims: bool = False,
        **torch_names: Any) -> Tensor:
    return tensor(x).std(axis, correction, keepdims, **torch_names)


def logsumexp(x: Any, axis: Any = None, keepdims: bool = False, **torch_names: Any) -> Tensor:
    return tensor(x).logsumexp(axis, keepdims, **torch_names)


def gather(x: Any, axis: int, index: Any) -> Tensor:
    return tensor(x).gather(axis, index)


def take_along_axis(x: Any, indices: Any, axis: int) -> Tensor:
    return tensor(x).take_along_axis(indices, axis)


def index_select(x: Any, axis: int, index: Any) -> Tensor:
    return tensor(x).index_select(axis, index)


def scatter_add(x: Any, axis: int, index: Any, src: Any) -> Tensor:
    return tensor(x).scatter_add(axis, index, src)


def index_add(x: Any, axis: int, index: Any, source: Any, alpha: float = 1) -> Tensor:
    return tensor(x).index_add(axis, index, source, alpha)


hstack = composite.hstack
vstack = composite.vstack
einsum = composite.einsum
outer = composite.outer
dot = composite.dot
