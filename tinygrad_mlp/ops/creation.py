"""Making tensors, as PyTorch does: ``tg.tensor``, ``tg.zeros(3, 4)``, ``tg.arange(5)``, ...

Shapes may be given as one tuple or as separate sizes (``tg.zeros((3, 4))`` or
``tg.zeros(3, 4)``). The default dtype is float32, as torch's. Random factories draw
from a ``np.random.Generator``: ``generator=`` if given, else a fresh one from ``seed=``,
else the package's default generator (reset by ``tg.manual_seed``).

``tg.tensor`` copies its data (changing the user's array later never changes the
tensor); ``tg.from_numpy`` and ``tg.as_tensor`` share memory with an ndarray instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tinygrad_mlp.tensor import Tensor


def _shape(sizes: tuple) -> tuple[int, ...]:
    """``(3, 4)`` from ``((3, 4),)``, ``([3, 4],)`` or ``(3, 4)``; a clear error otherwise."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if not all(isinstance(n, (int, np.integer)) and n >= 0 for n in sizes):
        raise ValueError(f"a shape is non-negative integers, got {sizes}")
    return tuple(int(n) for n in sizes)


def _make(data: np.ndarray, requires_grad: bool) -> Tensor:
    """A leaf around ``data``, an array made here (so no second copy is needed)."""
    t = Tensor._make(data, None)
    return t.requires_grad_(True) if requires_grad else t


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new Tensor holding a copy of ``data``, with torch.tensor's dtype inference:
    Python ints → int64, floats → float32, bools → bool; an ndarray keeps its dtype.

    ``requires_grad=True`` needs a floating-point dtype (an integer tensor has no gradient).

    >>> import tinygrad_mlp as tg
    >>> tg.tensor([1, 2]).dtype, tg.tensor([1.5]).dtype, tg.tensor(True).dtype
    (dtype('int64'), dtype('float32'), dtype('bool'))
    """
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        arr = np.array(data, dtype=dtype)
    elif isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data)
    else:
        try:
            arr = np.array(data)
        except (TypeError, ValueError) as e:
            msg = f"tg.tensor: cannot make a tensor from {type(data).__name__}: {e}"
            raise TypeError(msg) from None
        if arr.dtype.kind == "f":
            arr = arr.astype(np.float32)
        elif arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
    if arr.dtype.kind not in "biufc":
        raise TypeError(
            f"tg.tensor: cannot make a tensor from {type(data).__name__} {data!r} "
            f"(numpy dtype {arr.dtype}); give numbers, bools or arrays of them"
        )
    if requires_grad and arr.dtype.kind not in "fc":
        raise TypeError(
            f"tg.tensor: requires_grad=True needs a floating-point dtype, got {arr.dtype} "
            "(pass dtype=np.float32 or float data)"
        )
    return _make(arr, requires_grad)


def from_numpy(array: np.ndarray) -> Tensor:
    """A Tensor sharing ``array``'s memory (no copy): changing one changes the other.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> a = np.zeros(2); t = tg.from_numpy(a); a[0] = 5; t.tolist()
    [5.0, 0.0]
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects an np.ndarray, got {type(array).__name__}")
    return Tensor._make(array, None)


def as_tensor(data: Any, dtype: Any = None) -> Tensor:
    """``data`` as a Tensor, sharing memory when it already is an ndarray (or Tensor) of
    the right dtype, as torch.as_tensor; otherwise converted like ``tg.tensor``."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == np.dtype(dtype)):
        return data
    if isinstance(data, np.ndarray) and (dtype is None or data.dtype == np.dtype(dtype)):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


def zeros(*size: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros. ``tg.zeros(2, 3)`` or ``tg.zeros((2, 3))``.

    >>> import tinygrad_mlp as tg
    >>> tg.zeros(2, 3).shape
    (2, 3)
    """
    return _make(np.zeros(_shape(size), dtype), requires_grad)


def ones(*size: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor of ones.

    >>> import tinygrad_mlp as tg
    >>> tg.ones(2).tolist()
    [1.0, 1.0]
    """
    return _make(np.ones(_shape(size), dtype), requires_grad)


def empty(*size: Any, dtype: Any = np.float32, requires_grad: bool = False) -> Tensor:
    """A tensor whose values are unspecified (here: zeros, so nothing leaks).

    >>> import tinygrad_mlp as tg
    >>> tg.empty(3).shape
    (3,)
    """
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(size: Sequence[int], fill_value: Any, dtype: Any = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``; dtype inferred from it as torch does (float
    → float32, int → int64, bool → bool) unless given.

    >>> import tinygrad_mlp as tg
    >>> tg.full((2,), 7).tolist(), tg.full((1,), 0.5).dtype
    ([7, 7], dtype('float32'))
    """
    if dtype is None:
        dtype = tensor(fill_value).dtype
    return _make(np.full(_shape((size,)), fill_value, dtype), requires_grad)


def _like(t: Any, dtype: Any) -> tuple[tuple[int, ...], Any]:
    arr = np.asarray(t.data if isinstance(t, Tensor) else t)
    return arr.shape, arr.dtype if dtype is None else dtype


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Zeros with ``t``'s shape and dtype."""
    shape, dt = _like(t, dtype)
    return _make(np.zeros(shape, dt), requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Ones with ``t``'s shape and dtype."""
    shape, dt = _like(t, dtype)
    return _make(np.ones(shape, dt), requires_grad)


def empty_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Unspecified values (zeros) with ``t``'s shape and dtype."""
    return zeros_like(t, dtype, requires_grad)


def full_like(t: Any, fill_value: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """``fill_value`` everywhere, with ``t``'s shape and dtype."""
    shape, dt = _like(t, dtype)
    return _make(np.full(shape, fill_value, dt), requires_grad)


def _generator(seed: int | None, generator: np.random.Generator | None) -> np.random.Generator:
    if seed is not None and generator is not None:
        raise ValueError("pass seed= or generator=, not both")
    if generator is not None:
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"generator must be a np.random.Generator, got {type(generator)}")
        return generator
    if seed is not None:
        return np.random.default_rng(seed)
    from tinygrad_mlp.nn.init import default_generator  # the one tg.manual_seed resets

    return default_generator()


def _float_dtype(dtype: Any, name: str) -> np.dtype:
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise TypeError(f"{name}: needs a floating-point dtype, got {dt}")
    return dt


def rand(*size: Any, dtype: Any = np.float32, requires_grad: bool = False,
         seed: int | None = None, generator: np.random.Generator | None = None) -> Tensor:
    """Uniform samples in [0, 1).

    >>> import tinygrad_mlp as tg
    >>> bool((tg.rand(2, 3, seed=0) == tg.rand((2, 3), seed=0)).all())
    True
    """
    dt = _float_dtype(dtype, "rand")
    return _make(_generator(seed, generator).random(_shape(size)).astype(dt), requires_grad)


def randn(*size: Any, dtype: Any = np.float32, requires_grad: bool = False,
          seed: int | None = None, generator: np.random.Generator | None = None) -> Tensor:
    """Standard normal samples.

    >>> import tinygrad_mlp as tg
    >>> tg.randn(4, seed=1).shape
    (4,)
    """
    dt = _float_dtype(dtype, "randn")
    rng = _generator(seed, generator)
    return _make(rng.standard_normal(_shape(size)).astype(dt), requires_grad)


def rand_like(t: Any, dtype: Any = None, requires_grad: bool = False, seed: int | None = None,
              generator: np.random.Generator | None = None) -> Tensor:
    """Uniform [0, 1) samples with ``t``'s shape and (floating) dtype."""
    shape, dt = _like(t, dtype)
    return rand(shape, dtype=dt, requires_grad=requires_grad, seed=seed, generator=generator)


def randn_like(t: Any, dtype: Any = None, requires_grad: bool = False, seed: int | None = None,
               generator: np.random.Generator | None = None) -> Tensor:
    """Standard normal samples with ``t``'s shape and (floating) dtype."""
    shape, dt = _like(t, dtype)
    return randn(shape, dtype=dt, requires_grad=requires_grad, seed=seed, generator=generator)


def arange(start: float, end: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` up to (not including) ``end`` in steps of ``step``; int64 when
    all three are integers, else float32 (as torch).

    >>> import tinygrad_mlp as tg
    >>> tg.arange(3).tolist(), tg.arange(0, 1, 0.5).tolist()
    ([0, 1, 2], [0.0, 0.5])
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be non-zero")
    if dtype is None:
        ints = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
        dtype = np.int64 if ints else np.float32
    return _make(np.arange(start, end, step).astype(dtype), requires_grad)


def linspace(start: float, end: float, steps: int, dtype: Any = np.float32,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included.

    >>> import tinygrad_mlp as tg
    >>> tg.linspace(0, 1, 3).tolist()
    [0.0, 0.5, 1.0]
    """
    if int(steps) < 0:
        raise ValueError(f"linspace: steps must be non-negative, got {steps}")
    return _make(np.linspace(start, end, int(steps)).astype(dtype), requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = np.float32,
        requires_grad: bool = False) -> Tensor:
    """The n×m identity matrix (square when ``m`` is omitted).

    >>> import tinygrad_mlp as tg
    >>> tg.eye(2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    return _make(np.eye(n, m, dtype=dtype), requires_grad)


# dtype names as torch spells them (tg.float32 is np.float32): tg.zeros(2, dtype=tg.float64).
# Not int/float/bool, which would hide Python's own in any module that imports them.
float16 = half = np.float16
float32 = np.float32
float64 = double = np.float64
int8, int16, int32, uint8 = np.int8, np.int16, np.int32, np.uint8
int64 = long = np.int64
bool_ = np.bool_

__all__ = [
    "arange", "as_tensor", "empty", "empty_like", "eye", "from_numpy", "full", "full_like",
    "linspace", "ones", "ones_like", "rand", "rand_like", "randn", "randn_like", "tensor",
    "zeros", "zeros_like",
    "bool_", "double", "float16", "float32", "float64", "half", "int8", "int16", "int32",
    "int64", "long", "uint8",
]
