"""Layers for image models: ``Conv2d``, pooling, batch and layer normalisation, ``Unflatten``.

Each holds its options and parameters with PyTorch's names and shapes, so a
``state_dict`` moves between the two unchanged (``weight`` (O, C/groups, kH, kW),
``bias``; ``running_mean``, ``running_var``, ``num_batches_tracked`` for batch norm),
and calls the function in ``tinygrad_mlp.ops.conv`` / ``ops.norm`` in ``forward``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_mlp import ops as _ops
from tinygrad_mlp.nn import init
from tinygrad_mlp.nn.module import Module, Parameter
from tinygrad_mlp.ops import conv as _conv
from tinygrad_mlp.ops import norm as _norm
from tinygrad_mlp.tensor import Tensor

__all__ = ["AvgPool2d", "BatchNorm1d", "BatchNorm2d", "Conv2d", "LayerNorm", "MaxPool2d",
           "Unflatten"]


def _float_dtype(dtype: Any, who: str) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{who}: dtype must be floating point, got {dtype}")
    return dtype


class Conv2d(Module):
    """2-D convolution over (N, C, H, W) images: ``F.conv2d(x, weight, bias, ...)``.

    Initialised as ``torch.nn.Conv2d``: weight from ``kaiming_uniform_(a=√5)`` and bias
    from U(−1/√fan_in, 1/√fan_in), fan_in = C/groups · kH · kW.

    Parameters
    ----------
    in_channels, out_channels : int
    kernel_size, stride, dilation : int or pair of ints
    padding : int, pair of ints, "same" or "valid"
    groups : int, default 1
    bias : bool, default True
    padding_mode : "zeros" (the only one supported)
    dtype : numpy dtype, default float32
    generator : numpy.random.Generator, optional

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> conv = nn.Conv2d(1, 4, 3, padding=1)
    >>> conv.weight.shape, conv(np.zeros((2, 1, 5, 5), np.float32)).shape
    ((4, 1, 3, 3), (2, 4, 5, 5))
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | Sequence[int],
                 stride: int | Sequence[int] = 1, padding: int | Sequence[int] | str = 0,
                 dilation: int | Sequence[int] = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", dtype: Any = np.float32,
                 generator: np.random.Generator | None = None) -> None:
        super().__init__()
        who = "Conv2d"
        if padding_mode != "zeros":
            raise ValueError(f"{who}: padding_mode {padding_mode!r} is not supported "
                             "(only 'zeros')")
        if in_channels < 1 or out_channels < 1 or groups < 1:
            raise ValueError(f"{who}: channel counts and groups must be positive, got "
                             f"{in_channels}, {out_channels}, groups={groups}")
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"{who}: in_channels {in_channels} and out_channels {out_channels} "
                             f"must be divisible by groups={groups}")
        kernel = _conv._two(kernel_size, "kernel_size", who, 1)
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = kernel
        self.stride = _conv._two(stride, "stride", who, 1)
        self.padding = padding if isinstance(padding, str) else _conv._two(padding, "padding",
                                                                           who, 0)
        self.dilation = _conv._two(dilation, "dilation", who, 1)
        self.groups = int(groups)
        dtype = _float_dtype(dtype, who)
        self.weight = Parameter(np.empty((out_channels, in_channels // groups, *kernel), dtype))
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters(generator)

    def reset_parameters(self, generator: np.random.Generator | None = None) -> None:
        """Draw fresh weights as ``torch.nn.Conv2d.reset_parameters`` does."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=generator)
        if self.bias is not None:
            fan_in = self.weight.shape[1] * self.kernel_size[0] * self.kernel_size[1]
            bound = 1 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound, generator=generator)

    def forward(self, x: Any) -> Tensor:
        return _conv.conv2d(x, self.weight, self.bias, self.stride, self.padding,
                            self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding not in ((0, 0), "valid"):
            s += f", padding={self.padding!r}" if isinstance(self.padding, str) else \
                f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        return s + ("" if self.bias is not None else ", bias=False")


class MaxPool2d(Module):
    """The maximum of each window: ``F.max_pool2d`` (stride defaults to the kernel size).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.MaxPool2d(2)(np.zeros((1, 3, 8, 8), np.float32)).shape
    (1, 3, 4, 4)
    """

    def __init__(self, kernel_size: int | Sequence[int], stride: Any = None, padding: Any = 0,
                 dilation: Any = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.dilation, self.ceil_mode = padding, dilation, ceil_mode
        self.return_indices = return_indices

    def forward(self, x: Any) -> Tensor | tuple[Tensor, Tensor]:
        return _conv.max_pool2d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                self.ceil_mode, self.return_indices)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}")


class AvgPool2d(Module):
    """The mean of each window: ``F.avg_pool2d`` (stride defaults to the kernel size).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.AvgPool2d(2)(np.ones((1, 1, 4, 4), np.float32)).data[0, 0]
    array([[1., 1.],
           [1., 1.]], dtype=float32)
    """

    def __init__(self, kernel_size: int | Sequence[int], stride: Any = None, padding: Any = 0,
                 ceil_mode: bool = False, count_include_pad: bool = True,
                 divisor_override: int | None = None) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride if stride is not None else kernel_size
        self.padding, self.ceil_mode = padding, ceil_mode
        self.count_include_pad, self.divisor_override = count_include_pad, divisor_override

    def forward(self, x: Any) -> Tensor:
        return _conv.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                count_include_pad=self.count_include_pad,
                                divisor_override=self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _BatchNorm(Module):
    """Shared by BatchNorm1d/2d: parameters, running statistics, train/eval behaviour.

    In training the batch's statistics normalise and the running ones follow them
    (``momentum``; ``None`` gives the plain average of all batches so far); in eval the
    running ones are used. The update is an op (``ops.norm.TrackRunningStats``), so a
    training step replayed by ``tg.jit`` updates them too.
    """

    _dims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        who = type(self).__name__
        if num_features < 1:
            raise ValueError(f"{who}: num_features must be positive, got {num_features}")
        dtype = _float_dtype(dtype, who)
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = affine, track_running_stats
        if affine:
            self.weight = Parameter(np.ones(num_features, dtype))
            self.bias = Parameter(np.zeros(num_features, dtype))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(np.zeros(num_features, dtype)))
            self.register_buffer("running_var", Tensor(np.ones(num_features, dtype)))
            self.register_buffer("num_batches_tracked", Tensor(np.array(0, np.int64)))
        else:
            for name in ("running_mean", "running_var", "num_batches_tracked"):
                self.register_buffer(name, None)

    def reset_running_stats(self) -> None:
        """Running mean 0, variance 1, no batches seen."""
        if self.track_running_stats:
            for buf, value in ((self.running_mean, 0), (self.running_var, 1),
                               (self.num_batches_tracked, 0)):
                buf.data[...] = value
                buf._bump_version()

    def forward(self, x: Any) -> Tensor:
        x = _ops.tensor(x)
        if x.ndim not in self._dims:
            dims = " or ".join(f"{d}-D" for d in self._dims)
            raise ValueError(f"{type(self).__name__}: expected {dims} input, got shape {x.shape}")
        if x.shape[1] != self.num_features:
            raise ValueError(f"{type(self).__name__}: input has {x.shape[1]} channels (shape "
                             f"{x.shape}), expected num_features={self.num_features}")
        # Batch statistics in training, or always when no running ones are kept; the
        # running buffers (None when not tracked) are updated in training, read in eval.
        training = self.training or not self.track_running_stats
        return _norm.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias,
                                training, self.momentum, self.eps,
                                self.num_batches_tracked if self.training else None)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of (N, C) or (N, C, L) inputs, per feature C.

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> bn = nn.BatchNorm1d(2)
    >>> list(bn.state_dict())
    ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
    >>> bn(np.array([[1.0, 2.0], [3.0, 2.0]], np.float32)).data.round(3)
    array([[-1.,  0.],
           [ 1.,  0.]], dtype=float32)
    """

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of (N, C, H, W) images, per channel C.

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> bn = nn.BatchNorm2d(3)
    >>> _ = bn(np.random.default_rng(0).normal(5.0, 1.0, (4, 3, 2, 2)).astype(np.float32))
    >>> bn.running_mean.data.round(1), int(bn.num_batches_tracked.data)
    (array([0.5, 0.5, 0.5], dtype=float32), 1)
    """

    _dims = (4,)


class LayerNorm(Module):
    """Normalise each sample over its last dimensions (``normalized_shape``), then scale and
    shift elementwise (``weight`` ones, ``bias`` zeros at the start).

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.LayerNorm(2)(np.array([[1.0, 3.0]], np.float32)).data.round(3)
    array([[-1.,  1.]], dtype=float32)
    """

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5,
                 elementwise_affine: bool = True, bias: bool = True,
                 dtype: Any = np.float32) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else \
            tuple(normalized_shape)
        self.normalized_shape = tuple(int(s) for s in shape)
        self.eps, self.elementwise_affine = float(eps), elementwise_affine
        dtype = _float_dtype(dtype, "LayerNorm")
        if elementwise_affine:
            self.weight = Parameter(np.ones(self.normalized_shape, dtype))
            if bias:
                self.bias = Parameter(np.zeros(self.normalized_shape, dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: Any) -> Tensor:
        return _norm.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")


class Unflatten(Module):
    """Split dimension ``dim`` into ``unflattened_size`` (the inverse of ``Flatten``), e.g.
    MNIST rows of 784 pixels into (1, 28, 28) images for a convolution.

    >>> import numpy as np
    >>> from tinygrad_mlp import nn
    >>> nn.Unflatten(1, (1, 28, 28))(np.zeros((5, 784), np.float32)).shape
    (5, 1, 28, 28)
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim, self.unflattened_size = int(dim), tuple(int(s) for s in unflattened_size)

    def forward(self, x: Any) -> Tensor:
        x = _ops.tensor(x)
        nd = x.ndim
        if not -nd <= self.dim < nd:
            raise ValueError(f"Unflatten: dim {self.dim} out of range for an input of shape "
                             f"{x.shape}")
        d = self.dim % nd
        if math.prod(self.unflattened_size) != x.shape[d] and -1 not in self.unflattened_size:
            raise ValueError(f"Unflatten: cannot split dimension {d} of size {x.shape[d]} "
                             f"(input shape {x.shape}) into {self.unflattened_size}")
        return x.reshape(x.shape[:d] + self.unflattened_size + x.shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
