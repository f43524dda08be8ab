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
    "BCEWithLogitsLoss",
    "CELU",
    "CosineSimilarity",
    "CrossEntropyLoss",
    "Dropout",
    "ELU",
    "Flatten",
    "GELU",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "HuberLoss",
    "Identity",
    "KLDivLoss",
    "L1Loss",
    "LeakyReLU",
    "Linear",
    "LogSigmoid",
    "LogSoftmax",
    "MSELoss",
    "Mish",
    "NLLLoss",
    "QuadraticLoss",
    "ReLU",
    "ReLU6",
    "SELU",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
    "Softsign",
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
        return F.linear(x, self.weight, self.bias)

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
        return F.sigmoid(x)


class ReLU(Module):
    """Elementwise max(x, 0); with ``inplace=True`` written into the input (as torch).

    >>> from tinygrad_mlp import nn
    >>> nn.ReLU()([-1.0, 1.0]).data
    array([0., 1.], dtype=float32)
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""

    def forward(self, x: Any) -> Tensor:
        return F.relu(x, inplace=self.inplace)


class Tanh(Module):
    """Elementwise hyperbolic tangent.

    >>> from tinygrad_mlp import nn
    >>> nn.Tanh()([0.0]).data
    array([0.], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return F.tanh(x)


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
        return F.softmax(x, self.axis)

    def extra_repr(self) -> str:
        return f"axis={self.axis}"


class LogSoftmax(Softmax):
    """Log-softmax along ``axis``, computed stably.

    >>> from tinygrad_mlp import nn
    >>> nn.LogSoftmax()([[0.0, 0.0]]).data.round(4)
    array([[-0.6931, -0.6931]], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return F.log_softmax(x, self.axis)


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

    def __init__(self, p: float = 0.5, inplace: bool = False,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = float(p)
        self.inplace = bool(inplace)
        self.generator = generator

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training, self.inplace, generator=self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}" + (", inplace=True" if self.inplace else "")


# ----- more activations (each a Module around its function in nn.functional) ----------------


class _Activation(Module):
    """An elementwise activation: ``forward`` calls ``F.<function>`` with the options kept
    on the module; where torch has ``inplace=True``, the result is written into the input,
    which is returned."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = bool(inplace)

    def extra_repr(self) -> str:
        options = {**self._options(), **({"inplace": True} if self.inplace else {})}
        return ", ".join(f"{k}={v}" for k, v in options.items())

    def _options(self) -> dict[str, Any]:
        return {}


class LeakyReLU(_Activation):
    """x for x > 0, ``negative_slope``·x otherwise.

    >>> from tinygrad_mlp import nn
    >>> nn.LeakyReLU(0.5)([-2.0]).data
    array([-1.], dtype=float32)
    """

    def __init__(self, negative_slope: float = 0.01, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.negative_slope = negative_slope

    def _options(self) -> dict[str, Any]:
        return {"negative_slope": self.negative_slope}

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope, self.inplace)


class ELU(_Activation):
    """x for x > 0, α(eˣ − 1) otherwise.

    >>> from tinygrad_mlp import nn
    >>> nn.ELU()([0.0, 1.0]).data
    array([0., 1.], dtype=float32)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.alpha = alpha

    def _options(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    def forward(self, x: Any) -> Tensor:
        return F.elu(x, self.alpha, self.inplace)


class CELU(_Activation):
    """max(0, x) + min(0, α(e^(x/α) − 1)).

    >>> from tinygrad_mlp import nn
    >>> nn.CELU(2.0)([1.0]).data
    array([1.], dtype=float32)
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        self.alpha = alpha

    def _options(self) -> dict[str, Any]:
        return {"alpha": self.alpha}

    def forward(self, x: Any) -> Tensor:
        return F.celu(x, self.alpha, self.inplace)


class SELU(_Activation):
    """Self-normalising ELU, scale·elu(x, α) with torch's constants.

    >>> from tinygrad_mlp import nn
    >>> nn.SELU()([0.0]).data
    array([0.], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return F.selu(x, self.inplace)


class GELU(_Activation):
    """x·Φ(x) (``approximate="tanh"`` for the tanh approximation).

    >>> from tinygrad_mlp import nn
    >>> nn.GELU(approximate="tanh")
    GELU(approximate='tanh')
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"

    def forward(self, x: Any) -> Tensor:
        return F.gelu(x, self.approximate)


class SiLU(_Activation):
    """x·σ(x).

    >>> from tinygrad_mlp import nn
    >>> nn.SiLU()([0.0]).data
    array([0.], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return F.silu(x, self.inplace)


class Mish(_Activation):
    """x·tanh(softplus(x)).

    >>> from tinygrad_mlp import nn
    >>> nn.Mish()([0.0]).data
    array([0.], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return F.mish(x, self.inplace)


class Hardswish(_Activation):
    """x·relu6(x + 3)/6.

    >>> from tinygrad_mlp import nn
    >>> nn.Hardswish()([4.0]).data
    array([4.], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return F.hardswish(x, self.inplace)


class Hardsigmoid(_Activation):
    """relu6(x + 3)/6.

    >>> from tinygrad_mlp import nn
    >>> nn.Hardsigmoid()([0.0]).data
    array([0.5], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return F.hardsigmoid(x, self.inplace)


class ReLU6(_Activation):
    """min(max(x, 0), 6).

    >>> from tinygrad_mlp import nn
    >>> nn.ReLU6()([7.0]).data
    array([6.], dtype=float32)
    """

    def forward(self, x: Any) -> Tensor:
        return F.relu6(x, self.inplace)


class Softplus(_Activation):
    """ln(1 + e^(βx))/β, linear above ``threshold``.

    >>> from tinygrad_mlp import nn
    >>> nn.Softplus(beta=2.0)
    Softplus(beta=2.0, threshold=20.0)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def _options(self) -> dict[str, Any]:
        return {"beta": self.beta, "threshold": self.threshold}

    def forward(self, x: Any) -> Tensor:
        return F.softplus(x, self.beta, self.threshold)


class Softsign(_Activation):
    """x / (1 + |x|).

    >>> from tinygrad_mlp import nn
    >>> nn.Softsign()([1.0]).data
    array([0.5], dtype=float32)
    """

    def __init__(self) -> None:  # no inplace option, as torch
        super().__init__()

    def forward(self, x: Any) -> Tensor:
        return F.softsign(x)


class LogSigmoid(_Activation):
    """ln σ(x), stable for any x.

    >>> from tinygrad_mlp import nn
    >>> nn.LogSigmoid()([-1e4]).data
    array([-10000.], dtype=float32)
    """

    def __init__(self) -> None:  # no inplace option, as torch
        super().__init__()

    def forward(self, x: Any) -> Tensor:
        return F.logsigmoid(x)


class Hardtanh(_Activation):
    """x clipped to [min_val, max_val] (zero gradient at and beyond the bounds).

    >>> from tinygrad_mlp import nn
    >>> nn.Hardtanh(-2.0, 2.0)([3.0]).data
    array([2.], dtype=float32)
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False) -> None:
        super().__init__(inplace)
        if min_val > max_val:
            raise ValueError(f"Hardtanh: min_val {min_val} is greater than max_val {max_val}")
        self.min_val = min_val
        self.max_val = max_val

    def _options(self) -> dict[str, Any]:
        return {"min_val": self.min_val, "max_val": self.max_val}

    def forward(self, x: Any) -> Tensor:
        return F.hardtanh(x, self.min_val, self.max_val, self.inplace)


# ----- losses as modules --------------------------------------------------------------------


class _Loss(Module):
    """Holds the options of a loss (``reduction``; torch's deprecated ``size_average`` and
    ``reduce`` are translated into it) and calls its function in ``forward``."""

    _reductions = F._REDUCTIONS

    def __init__(
        self, size_average: bool | None = None, reduce: bool | None = None, reduction: str = "mean"
    ) -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = F._legacy_reduction(size_average, reduce, reduction, type(self).__name__)
        if reduction not in self._reductions:
            raise ValueError(
                f"{type(self).__name__}: reduction must be one of {self._reductions}, "
                f"got {reduction!r}"
            )
        self.reduction = reduction

    def extra_repr(self) -> str:
        return "" if self.reduction == "mean" else f"reduction={self.reduction!r}"


class _WeightedLoss(_Loss):
    """A loss with an optional constant ``weight``, kept as a buffer (in the state_dict, as
    torch)."""

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", None if weight is None else F._raw(weight).copy())


class MSELoss(_Loss):
    """Mean squared error (``F.mse_loss``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.MSELoss()(np.array([2.0], np.float32), [0.0]).item()
    4.0
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    """Mean absolute error (``F.l1_loss``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.L1Loss()(np.array([2.0, -4.0], np.float32), [0.0, 0.0]).item()
    3.0
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Squared error below ``beta``, absolute error above (``F.smooth_l1_loss``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.SmoothL1Loss(beta=0.5)(np.array([2.0]), [0.0]).item()
    1.75
    """

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        beta: float = 1.0,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Squared error below ``delta``, ``delta``-scaled absolute error above (``F.huber_loss``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.HuberLoss(delta=0.5)(np.array([2.0]), [0.0]).item()
    0.875
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(_Loss):
    """KL divergence of log-probabilities from a target (``F.kl_div``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> p = np.array([[0.25, 0.75]])
    >>> nn.KLDivLoss(reduction="batchmean")(np.log(p), p).item()
    0.0
    """

    _reductions = ("mean", "batchmean", "sum", "none")

    def __init__(
        self,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        log_target: bool = False,
    ) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy from logits, targets as indices or probabilities (``F.cross_entropy``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> round(nn.CrossEntropyLoss()(np.zeros((1, 4), np.float32), [3]).item(), 4)
    1.3863
    """

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.cross_entropy(
            input,
            target,
            weight=self.weight,
            ignore_index=self.ignore_index,
            reduction=self.reduction,
            label_smoothing=self.label_smoothing,
        )


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities (``F.nll_loss``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.NLLLoss()(np.array([[-1.0, -2.0]], np.float32), [1]).item()
    2.0
    """

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        ignore_index: int = -100,
        reduce: bool | None = None,
        reduction: str = "mean",
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.nll_loss(
            input, target, weight=self.weight, ignore_index=self.ignore_index,
            reduction=self.reduction,
        )


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (``F.binary_cross_entropy``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> round(nn.BCELoss()(np.array([0.5], np.float32), [0.0]).item(), 4)
    0.6931
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_WeightedLoss):
    """Binary cross-entropy from logits, stable for any logit
    (``F.binary_cross_entropy_with_logits``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> round(nn.BCEWithLogitsLoss()(np.array([0.0], np.float32), [1.0]).item(), 4)
    0.6931
    """

    def __init__(
        self,
        weight: Any = None,
        size_average: bool | None = None,
        reduce: bool | None = None,
        reduction: str = "mean",
        pos_weight: Any = None,
    ) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        pos_weight = None if pos_weight is None else F._raw(pos_weight).copy()
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(
            input, target, weight=self.weight, reduction=self.reduction,
            pos_weight=self.pos_weight,
        )


class CosineSimilarity(Module):
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (``F.cosine_similarity``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.CosineSimilarity(dim=0)(np.array([1.0, 0.0]), np.array([0.0, 2.0])).item()
    0.0
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim = dim
        self.eps = eps

    def forward(self, x1: Any, x2: Any) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, eps={self.eps}"


class QuadraticLoss(Module):
    """Nielsen's quadratic cost (1/2N) Σ_n ||pred_n − target_n||² (``F.quadratic_loss``).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.QuadraticLoss()(np.array([[2.0]], np.float32), [[0.0]]).item()
    2.0
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.quadratic_loss(input, target)
