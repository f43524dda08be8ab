"""Layers: ``Linear``, activations, ``Flatten``, ``Dropout``, ``Identity``, and loss modules.

Each layer is a thin Module around a function in ``nn.functional``; the loss modules hold
only their options (``reduction``) and call the function in ``forward(input, target)``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tinygrad_mlp import ops as _ops
from tinygrad_mlp.nn import functional as F
from tinygrad_mlp.nn import init
from tinygrad_mlp.nn.module import Module, Parameter
from tinygrad_mlp.tensor import Tensor

__all__ = [
    "BCELoss",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "Identity",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "NLLLoss",
    "QuadraticLoss",
    "ReLU",
    "Sigmoid",
    "Softmax",
    "Tanh",
]


class Linear(Module):
    """Affine map ``y = x @ W.T + b`` with W of shape (out_features, in_features).

    Initialised as ``torch.nn.Linear``: W and b from U(−1/√in, 1/√in) (W through
    ``kaiming_uniform_(a=√5)``), drawn from the default generator (``tg.manual_seed``)
    unless ``generator`` is given.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool, default True
    dtype : numpy dtype, default float32
    generator : numpy.random.Generator, optional

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> layer = nn.Linear(3, 2)
    >>> layer.weight.shape, layer(tg.Tensor(np.ones((4, 3), np.float32))).shape
    ((2, 3), (4, 2))
    >>> layer
    Linear(in_features=3, out_features=2, bias=True)
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        dtype: Any = np.float32,
        generator: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(
                f"Linear: feature counts must be non-negative, got {in_features}, {out_features}"
            )
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Linear: dtype must be floating point, got {dtype}")
        self.in_features = int(in_features)
        self.out_features = int(out_features)
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        if bias:
            self.bias = Parameter(np.empty(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """Draw fresh weights exactly as ``torch.nn.Linear.reset_parameters`` does."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, x: Any) -> Tensor:
        if self.bias is None:
            return _ops.Linear.apply(_ops.tensor(x), self.weight)
        return _ops.Linear.apply(_ops.tensor(x), self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Identity(Module):
    """Returns its input unchanged (a placeholder layer).

    >>> from tinygrad_mlp import nn
    >>> nn.Identity()(3)
    3
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, x: Any) -> Any:
        return x


class Sigmoid(Module):
    """Elementwise logistic function.

    >>> from tinygrad_mlp import nn
    >>> nn.Sigmoid()([0.0]).data
    array([0.5], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return _ops.tensor(x).sigmoid()


class ReLU(Module):
    """Elementwise max(x, 0).

    >>> from tinygrad_mlp import nn
    >>> nn.ReLU()([-1.0, 1.0]).data
    array([0., 1.], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return _ops.tensor(x).relu()


class Tanh(Module):
    """Elementwise hyperbolic tangent.

    >>> from tinygrad_mlp import nn
    >>> nn.Tanh()([0.0]).data
    array([0.], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return _ops.tensor(x).tanh()


class Softmax(Module):
    """Softmax along ``axis`` (``dim`` accepted as PyTorch's name).

    >>> from tinygrad_mlp import nn
    >>> nn.Softmax(axis=-1)([[0.0, 0.0]]).data
    array([[0.5, 0.5]], dtype=float32)
    """

    def __init__(self, axis: int = -1, dim: int | None = None) -> None:
        super().__init__()
        self.axis = axis if dim is None else dim

    def forward(self, x: Any) -> Tensor:
        return _ops.tensor(x).softmax(self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """Log-softmax along ``axis``, computed stably.

    >>> from tinygrad_mlp import nn
    >>> nn.LogSoftmax()([[0.0, 0.0]]).data.round(4)
    array([[-0.6931, -0.6931]], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return _ops.tensor(x).log_softmax(self.axis)


class Flatten(Module):
    """Flatten dimensions ``start_dim..end_dim`` into one (default: all but the first).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.Flatten()(np.zeros((2, 3, 4), np.float32)).shape
    (2, 12)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, x: Any) -> Tensor:
        x = _ops.tensor(x)
        shape = x.shape
        nd = max(len(shape), 1)
        start, end = self.start_dim, self.end_dim
        if not (-nd <= start < nd and -nd <= end < nd):
            raise ValueError(
                f"Flatten: dims ({start}, {end}) out of range for an input of shape {shape}"
            )
        start, end = start % nd, end % nd
        if start > end:
            raise ValueError(f"Flatten: start_dim {start} comes after end_dim {end}")
        if not shape:
            return x.reshape(1)
        new = shape[:start] + (math.prod(shape[start : end + 1]),) + shape[end + 1 :]
        return x if new == shape else x.reshape(new)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Dropout(Module):
    """Zero elements with probability ``p`` in training, scaling the rest by 1/(1−p).

    The identity in ``eval()`` mode. Masks come from the default generator
    (``tg.manual_seed``) unless ``generator`` is given.

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> drop = nn.Dropout(0.5).eval()
    >>> drop(np.ones(3, np.float32)).data
    array([1., 1., 1.], dtype=float32)
    """

    def __init__(self, p: float = 0.5, generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = float(p)
        self.generator = generator

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# ----- losses as modules --------------------------------------------------------------------


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        F._check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean squared error (``F.mse_loss``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.MSELoss()(np.array([2.0], np.float32), [0.0]).item()
    4.0
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Cross-entropy from logits, targets as indices or probabilities (``F.cross_entropy``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> round(nn.CrossEntropyLoss()(np.zeros((1, 4), np.float32), [3]).item(), 4)
    1.3863
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.cross_entropy(input, target, self.reduction)


class NLLLoss(_Loss):
    """Negative log-likelihood of log-probabilities (``F.nll_loss``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.NLLLoss()(np.array([[-1.0, -2.0]], np.float32), [1]).item()
    2.0
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.nll_loss(input, target, self.reduction)


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (``F.binary_cross_entropy``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> round(nn.BCELoss()(np.array([0.5], np.float32), [0.0]).item(), 4)
    0.6931
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.reduction)


class QuadraticLoss(Module):
    """Nielsen's quadratic cost (1/2N) Σ_n ||pred_n − target_n||² (``F.quadratic_loss``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.QuadraticLoss()(np.array([[2.0]], np.float32), [[0.0]]).item()
    2.0
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.quadratic_loss(input, target)
