"""Hypothesis strategies for testing differentiable code (needs the ``test`` extra).

Every argument is optional; elements are always finite.

>>> from hypothesis import given
>>> from tinygrad_mlp.testing import strategies as st_tg
>>> @given(st_tg.tensors())
... def test_double(x):
...     assert ((x + x).data == 2 * x.data).all()
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from hypothesis import strategies as st
    from hypothesis.extra import numpy as hnp
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise ImportError(
        "tinygrad_mlp.testing.strategies needs hypothesis: pip install 'tinygrad_mlp[test]'"
    ) from e

from tinygrad_mlp.tensor import Tensor

Shape = tuple[int, ...]


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5):
    """Array shapes: 0-d, size-1 and larger dimensions."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def arrays(
    shape: Shape | st.SearchStrategy | None = None,
    dtype: Any = np.float64,
    min_value: float = -10,
    max_value: float = 10,
):
    """numpy arrays of ``dtype`` with finite elements in [min_value, max_value].

    ``shape`` may be a tuple, a strategy of tuples, or None (shapes drawn, 0-d included).
    """
    dtype = np.dtype(dtype)
    elements = st.floats(min_value, max_value, allow_nan=False, allow_infinity=False,
                         width=dtype.itemsize * 8)
    return hnp.arrays(dtype, shapes() if shape is None else shape, elements=elements)


def tensors(
    shape: Shape | st.SearchStrategy | None = None,
    dtype: Any = np.float64,
    min_value: float = -10,
    max_value: float = 10,
    requires_grad: bool = True,
):
    """Tensors (``requires_grad=True`` by default) wrapping ``arrays(...)``."""
    return arrays(shape, dtype, min_value, max_value).map(
        lambda a: Tensor(a, requires_grad=requires_grad)
    )


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 4,
                         max_side: int = 4):
    """Tuples of ``num_shapes`` shapes that broadcast together (size-1 and missing dims)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda r: r.input_shapes)


def valid_axes(ndim: int | None = None):
    """``axis`` arguments valid for a tensor of ``ndim`` dimensions: None, an int
    (negative too) or a tuple of distinct axes. With no ``ndim``: axes valid for any
    tensor of at least one dimension (None, 0, -1)."""
    if ndim is None:
        return st.sampled_from([None, 0, -1, (0,), (-1,)])
    choices = [st.none()]
    if ndim > 0:  # a 0-d tensor has no axis to name
        choices += [hnp.valid_tuple_axes(ndim, min_size=1), st.integers(-ndim, ndim - 1)]
    return st.one_of(*choices)


def array_and_axes(min_dims: int = 0, max_dims: int = 4, **array_kwargs: Any):
    """Pairs ``(array, axis)`` with the axis valid for that array."""
    return shapes(min_dims, max_dims).flatmap(
        lambda s: st.tuples(arrays(s, **array_kwargs), valid_axes(len(s)))
    )


__all__ = ["array_and_axes", "arrays", "broadcastable_shapes", "shapes", "tensors", "valid_axes"]
