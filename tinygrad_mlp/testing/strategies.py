"""Hypothesis strategies for testing differentiable code (needs the ``test`` extra).

Every argument is optional; elements are always finite. Beyond shapes and values they
draw what hides bugs: memory layouts (``layout=``: Fortran order, transposed, strided and
broadcast views), dtypes (``dtypes()``: float32/float64, integers, bools) and axes with
negative numbers (``valid_axes``, ``permutations``), 0-d tensors included.

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
        "tinygrad_mlp.testing.strategies needs hypothesis: pip install hypothesis (from a "
        "checkout: pip install -e \".[test]\")"
    ) from e

from tinygrad_mlp.tensor import Tensor

Shape = tuple[int, ...]

#: Memory layouts ``arrays(layout=...)`` can produce: the same kind of values, stored
#: differently (code under test must not care).
LAYOUTS = ("C", "F", "transposed", "strided", "broadcast")


def shapes(min_dims: int = 0, max_dims: int = 4, min_side: int = 1, max_side: int = 5):
    """Array shapes: 0-d, size-1 and larger dimensions."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def layouts(include_broadcast: bool = True):
    """Names of memory layouts (see ``LAYOUTS``), for ``arrays(layout=...)``."""
    return st.sampled_from(LAYOUTS if include_broadcast else LAYOUTS[:-1])


def with_layout(a: np.ndarray, layout: str) -> np.ndarray:
    """The values of ``a`` stored in ``layout``: ``"C"`` (row-major), ``"F"`` (Fortran
    order), ``"transposed"`` (a transposed view of a row-major buffer) or ``"strided"`` (a
    view of every second element of a bigger buffer). ``"broadcast"`` cannot keep
    arbitrary values; draw it with ``arrays(layout="broadcast")``.

    >>> with_layout(np.ones((2, 3)), "strided").strides
    (96, 16)
    """
    if layout == "C":  # np.array, not np.ascontiguousarray, which makes 0-d arrays 1-d
        return np.array(a, order="C")
    if layout == "F":
        return np.array(a, order="F")
    if layout == "transposed":
        return np.array(a.T, order="C").T
    if layout == "strided":
        buffer = np.zeros(tuple(2 * n for n in a.shape), dtype=a.dtype)
        view = buffer[(slice(None, None, 2),) * a.ndim] if a.ndim else buffer[...]
        view[...] = a
        return view
    raise ValueError(f"with_layout: unknown layout {layout!r}; expected one of "
                     f"{LAYOUTS[:-1]} (draw 'broadcast' with arrays(layout='broadcast'))")


def _elements(dtype: np.dtype, min_value: float, max_value: float):
    """Finite elements of ``dtype``: floats, integers (bounds rounded inwards) or bools."""
    if dtype.kind == "f":
        return st.floats(min_value, max_value, allow_nan=False, allow_infinity=False,
                         width=dtype.itemsize * 8)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        lo = max(int(np.ceil(min_value)), int(info.min))
        hi = min(int(np.floor(max_value)), int(info.max))
        return st.integers(lo, hi)
    if dtype.kind == "b":
        return st.booleans()
    raise ValueError(f"arrays: unsupported dtype {dtype} (use a float, integer or bool dtype)")


def _broadcast_view(draw: Any, shape: Shape, dtype: np.dtype, elements: Any) -> np.ndarray:
    """A read-only view with stride 0 along some axes: values drawn for a smaller array
    (size 1 on those axes), then ``np.broadcast_to`` the full shape."""
    small = tuple(1 if draw(st.booleans()) else n for n in shape)
    if small == shape and shape:  # at least one axis really broadcast
        axis = draw(st.integers(0, len(shape) - 1))
        small = small[:axis] + (1,) + small[axis + 1:]
    return np.broadcast_to(draw(hnp.arrays(dtype, small, elements=elements)), shape)


def arrays(
    shape: Shape | st.SearchStrategy | None = None,
    dtype: Any = np.float64,
    min_value: float = -10,
    max_value: float = 10,
    layout: str | st.SearchStrategy | None = "C",
):
    """numpy arrays of ``dtype`` with finite elements in [min_value, max_value].

    ``shape`` may be a tuple, a strategy of tuples, or None (shapes drawn, 0-d included).
    ``dtype`` may be a float, integer or bool dtype, or a strategy of them (``dtypes()``);
    integer bounds are rounded inwards, bools ignore them. ``layout`` is one of
    ``LAYOUTS``, a strategy of them (``layouts()``), or None for any of them: code under
    test should give the same values and gradients whatever the layout.

    >>> from hypothesis import given
    >>> @given(arrays((2, 3), layout="F"))
    ... def test_fortran(a):
    ...     assert a.flags.f_contiguous and not a.flags.c_contiguous
    >>> test_fortran()
    """
    shape_st = shapes() if shape is None else shape
    if not isinstance(shape_st, st.SearchStrategy):
        shape_st = st.just(tuple(shape_st))
    dtype_st = dtype if isinstance(dtype, st.SearchStrategy) else st.just(dtype)
    layout_st = layouts() if layout is None else layout
    if not isinstance(layout_st, st.SearchStrategy):
        if layout_st not in LAYOUTS:
            raise ValueError(f"arrays: unknown layout {layout_st!r}; expected one of {LAYOUTS}")
        layout_st = st.just(layout_st)

    @st.composite
    def draw_array(draw: Any) -> np.ndarray:
        dt = np.dtype(draw(dtype_st))
        s = draw(shape_st)
        how = draw(layout_st)
        elements = _elements(dt, min_value, max_value)
        if how == "broadcast":
            return _broadcast_view(draw, s, dt, elements)
        return with_layout(draw(hnp.arrays(dt, s, elements=elements)), how)

    return draw_array()


def dtypes(floats: bool = True, ints: bool = False, bools: bool = False):
    """numpy dtypes: float32 and float64, plus int32/int64 and bool when asked."""
    choices = [np.dtype(np.float32), np.dtype(np.float64)] if floats else []
    choices += [np.dtype(np.int32), np.dtype(np.int64)] if ints else []
    choices += [np.dtype(np.bool_)] if bools else []
    if not choices:
        raise ValueError("dtypes: ask for at least one of floats, ints, bools")
    return st.sampled_from(choices)


def tensors(
    shape: Shape | st.SearchStrategy | None = None,
    dtype: Any = np.float64,
    min_value: float = -10,
    max_value: float = 10,
    requires_grad: bool = True,
    layout: str | st.SearchStrategy | None = "C",
):
    """Tensors wrapping ``arrays(...)``, ``requires_grad=True`` by default (for float
    dtypes: integer and bool tensors never require grad)."""
    return arrays(shape, dtype, min_value, max_value, layout).map(
        lambda a: Tensor(a, requires_grad=requires_grad and a.dtype.kind == "f")
    )


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = 4,
                         max_side: int = 4):
    """Tuples of ``num_shapes`` shapes that broadcast together (size-1 and missing dims)."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, max_side=max_side
    ).map(lambda r: r.input_shapes)


def valid_axes(ndim: int | None = None, allow_none: bool = True, allow_tuple: bool = True):
    """``axis`` arguments valid for a tensor of ``ndim`` dimensions: None, an int in
    [-ndim, ndim) or a tuple of distinct axes, negative numbers included.

    A 0-d tensor accepts axis 0 and -1 (and ``(0,)``, ``(-1,)``), as in PyTorch, where
    reducing a scalar over its "only" axis gives the scalar back. With no ``ndim``: axes
    valid for any tensor (None, 0, -1, (0,), (-1,)). ``allow_none`` / ``allow_tuple``
    restrict the draw for ops that take a single int (softmax, cat, stack).

    >>> from hypothesis import given
    >>> @given(valid_axes(0))
    ... def test_scalar_axes(axis):
    ...     assert axis in (None, 0, -1, (0,), (-1,))
    >>> test_scalar_axes()
    """
    choices = [st.none()] if allow_none else []
    if ndim is None or ndim == 0:
        choices.append(st.sampled_from([0, -1]))
        if allow_tuple:
            choices.append(st.sampled_from([(0,), (-1,)]))
    else:
        choices.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            choices.append(hnp.valid_tuple_axes(ndim, min_size=1).flatmap(
                lambda axes: st.tuples(*(_either_sign(a, ndim) for a in axes))))
    return st.one_of(*choices)


def permutations(ndim: int):
    """Permutations of ``range(ndim)`` (for ``transpose``/``permute``), each axis written
    as its positive or its negative number at random: ``(-1, 0, 1)`` is as valid as
    ``(2, 0, 1)``."""
    return st.permutations(range(ndim)).flatmap(
        lambda perm: st.tuples(*(_either_sign(a, ndim) for a in perm))
    )


def _either_sign(axis: int, ndim: int):
    """``axis`` of an ``ndim``-d array as its positive or its negative number."""
    return st.sampled_from([axis % ndim, axis % ndim - ndim])


def array_and_axes(min_dims: int = 0, max_dims: int = 4, **array_kwargs: Any):
    """Pairs ``(array, axis)`` with the axis valid for that array (0-d: see valid_axes)."""
    return shapes(min_dims, max_dims).flatmap(
        lambda s: st.tuples(arrays(s, **array_kwargs), valid_axes(len(s)))
    )


__all__ = [
    "LAYOUTS", "array_and_axes", "arrays", "broadcastable_shapes", "dtypes", "layouts",
    "permutations", "shapes", "tensors", "valid_axes", "with_layout",
]
