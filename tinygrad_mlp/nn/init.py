"""Parameter initialisation, as ``torch.nn.init``: in place on a Tensor's values.

Every function fills ``tensor.data`` in place (keeping its dtype) and returns the tensor.
Random draws come from one module-level numpy ``Generator`` that :func:`manual_seed`
resets, so the same seed gives bit-identical weights (and dropout masks); pass
``generator=`` to use your own instead.

Fans follow PyTorch: for a weight of shape ``(out, in, *kernel)``,
``fan_in = in * prod(kernel)`` and ``fan_out = out * prod(kernel)``.

>>> import numpy as np, tinygrad_mlp as tg
>>> from tinygrad_mlp import nn
>>> w = tg.Tensor(np.zeros((3, 4), dtype=np.float32))
>>> _ = nn.init.xavier_uniform_(w)
>>> bool((abs(w.data) <= (6 / 7) ** 0.5).all())
True
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from tinygrad_mlp.tensor import Tensor

__all__ = [
    "calculate_gain",
    "constant_",
    "default_generator",
    "kaiming_normal_",
    "kaiming_uniform_",
    "manual_seed",
    "normal_",
    "ones_",
    "uniform_",
    "xavier_normal_",
    "xavier_uniform_",
    "zeros_",
]

#: Seed of the default generator when ``manual_seed`` was never called. Fixed, as in
#: PyTorch, so that an unseeded program still draws the same weights on every run.
DEFAULT_SEED = 0

_generator = np.random.default_rng(DEFAULT_SEED)


def manual_seed(seed: int) -> np.random.Generator:
    """Reset the generator behind initialisation and dropout; returns it.

    Parameters
    ----------
    seed : int
        A non-negative integer; the same seed gives bit-identical draws.

    Returns
    -------
    numpy.random.Generator
        The new default generator.

    >>> import tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> _ = tg.manual_seed(0); a = nn.Linear(3, 2).weight.numpy()
    >>> _ = tg.manual_seed(0); b = nn.Linear(3, 2).weight.numpy()
    >>> bool((a == b).all())
    True
    """
    global _generator
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"manual_seed expects an int, got {type(seed).__name__}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when no ``generator=`` is given (reset by ``manual_seed``)."""
    return _generator


def _rng(generator: np.random.Generator | None) -> np.random.Generator:
    """``generator`` if given, else the module-level default."""
    return _generator if generator is None else generator


def _values(tensor: Any) -> np.ndarray:
    """The ndarray to fill in place (a Tensor's ``.data``, or an ndarray itself)."""
    arr = tensor.data if isinstance(tensor, Tensor) else tensor
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"nn.init expects a Tensor or an ndarray, got {type(tensor).__name__}")
    if arr.dtype.kind not in "fc":
        raise TypeError(f"nn.init fills floating-point tensors, got dtype {arr.dtype}")
    return arr


def _fill(tensor: Any, values: Any) -> Any:
    """Write ``values`` into ``tensor``'s array in place (cast to its dtype); return tensor."""
    _values(tensor)[...] = values
    return tensor


def _is_empty(arr: np.ndarray) -> bool:
    """Warn (as PyTorch) and report whether there is nothing to initialise."""
    if arr.size == 0:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """Recommended gain for a nonlinearity (PyTorch's table).

    ``linear``, ``conv*``, ``sigmoid``: 1; ``tanh``: 5/3; ``relu``: √2;
    ``leaky_relu``: √(2 / (1 + slope²)) with slope ``param`` (default 0.01); ``selu``: 3/4.

    Parameters
    ----------
    nonlinearity : str
        Name of the function, as above.
    param : float, optional
        Negative slope of ``leaky_relu``.

    Returns
    -------
    float

    >>> from tinygrad_mlp import nn
    >>> round(nn.init.calculate_gain("relu"), 6)
    1.414214
    """
    linear_fns = {
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
    }
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, bool) or not isinstance(param, (int, float)):
            raise ValueError(f"negative_slope {param!r} is not a valid number")
        else:
            slope = float(param)
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(f"unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Any) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped ``(out, in, *receptive_field)``."""
    shape = _values(tensor).shape
    if len(shape) < 2:
        raise ValueError(
            "fan in and fan out can not be computed for a tensor with fewer than 2 "
            f"dimensions (shape {shape})"
        )
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor: Any, mode: str) -> int:
    """fan_in or fan_out, as ``mode`` says."""
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode {mode!r} not supported, please use one of 'fan_in', 'fan_out'")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(
    tensor: Any, a: float = 0.0, b: float = 1.0, generator: np.random.Generator | None = None
) -> Any:
    """Fill with draws from U(a, b).

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> t = nn.init.uniform_(tg.Tensor(np.empty(5, np.float32)), -1, 1)
    >>> bool((abs(t.data) <= 1).all())
    True
    """
    arr = _values(tensor)
    return _fill(tensor, _rng(generator).uniform(a, b, size=arr.shape))


def normal_(
    tensor: Any, mean: float = 0.0, std: float = 1.0, generator: np.random.Generator | None = None
) -> Any:
    """Fill with draws from N(mean, std²).

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.init.normal_(tg.Tensor(np.empty((2, 2), np.float32)), std=0.01).shape
    (2, 2)
    """
    arr = _values(tensor)
    return _fill(tensor, _rng(generator).normal(mean, std, size=arr.shape))


def constant_(tensor: Any, val: float) -> Any:
    """Fill with ``val``.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.init.constant_(tg.Tensor(np.empty(2, np.float32)), 0.5).data
    array([0.5, 0.5], dtype=float32)
    """
    return _fill(tensor, val)


def zeros_(tensor: Any) -> Any:
    """Fill with 0.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.init.zeros_(tg.Tensor(np.ones(2, np.float32))).data
    array([0., 0.], dtype=float32)
    """
    return _fill(tensor, 0)


def ones_(tensor: Any) -> Any:
    """Fill with 1.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.init.ones_(tg.Tensor(np.zeros(2, np.float32))).data
    array([1., 1.], dtype=float32)
    """
    return _fill(tensor, 1)


def xavier_uniform_(
    tensor: Any, gain: float = 1.0, generator: np.random.Generator | None = None
) -> Any:
    """Glorot uniform: U(-a, a), a = gain·√(6 / (fan_in + fan_out)).

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> w = nn.init.xavier_uniform_(tg.Tensor(np.empty((4, 2), np.float32)))
    >>> bool((abs(w.data) <= 1).all())
    True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(
    tensor: Any, gain: float = 1.0, generator: np.random.Generator | None = None
) -> Any:
    """Glorot normal: N(0, std²), std = gain·√(2 / (fan_in + fan_out)).

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.init.xavier_normal_(tg.Tensor(np.empty((4, 2), np.float32))).shape
    (4, 2)
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(
    tensor: Any,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Any:
    """He uniform: U(-bound, bound), bound = gain·√(3 / fan), gain = calculate_gain(nonlin, a).

    ``nn.Linear`` uses ``a=√5``, which gives bound = 1/√fan_in.

    >>> import math, numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> w = nn.init.kaiming_uniform_(tg.Tensor(np.empty((3, 16), np.float32)), a=math.sqrt(5))
    >>> bool((abs(w.data) <= 0.25).all())
    True
    """
    arr = _values(tensor)
    if _is_empty(arr):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    gain = calculate_gain(nonlinearity, a)
    bound = math.sqrt(3.0) * gain / math.sqrt(fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Any,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator: np.random.Generator | None = None,
) -> Any:
    """He normal: N(0, std²), std = gain / √fan, gain = calculate_gain(nonlinearity, a).

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> nn.init.kaiming_normal_(tg.Tensor(np.empty((3, 16), np.float32))).shape
    (3, 16)
    """
    arr = _values(tensor)
    if _is_empty(arr):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)
