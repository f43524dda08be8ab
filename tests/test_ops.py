"""Property tests for every differentiable op in API.md.

Each test draws inputs with hypothesis (0-d, size-1 and broadcast dimensions included)
and calls ``check``, which compares the forward value with numpy and the gradients with
central finite differences in float64: first order with ``tg.gradcheck``, second order
with ``tg.gradgradcheck`` (a random upstream gradient each time, so a transposed or
permuted gradient cannot hide behind an all-ones ``.sum()``).

Inputs stay away from kinks (|x| at 0, clip bounds, ties of max/min/maximum) and domain
edges (log, sqrt, division by ~0), where finite differences are meaningless.
"""

from __future__ import annotations

import operator
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor
from tinygrad_mlp.testing import strategies as tst

MAX_DIMS, MAX_SIDE = 3, 4  # at most 64 elements: gradgradcheck is quadratic in size

# ----- the helper --------------------------------------------------------------------------


def check(fn: Callable[..., Tensor], np_fn: Callable[..., np.ndarray], *arrays: np.ndarray):
    """``fn`` on float64 Tensors equals ``np_fn`` on the arrays; its first and second
    derivatives match finite differences (``gradcheck`` and ``gradgradcheck`` raise
    ``tg.GradcheckError`` with the input, element and both values on a mismatch)."""
    inputs = [Tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = fn(*inputs)
    expected = np.asarray(np_fn(*arrays))
    assert isinstance(out, Tensor)
    assert out.shape == expected.shape
    assert out.dtype == np.float64
    assert out.requires_grad
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)
    assert tg.gradcheck(fn, inputs)
    assert tg.gradgradcheck(fn, inputs)


# ----- strategies ------------------------------------------------------------------------------


def shapes(min_dims: int = 0, max_dims: int = MAX_DIMS):
    return tst.shapes(min_dims=min_dims, max_dims=max_dims, max_side=MAX_SIDE)


def arrays(shape=None, lo: float = -5.0, hi: float = 5.0):
    """float64 arrays with elements in [lo, hi] (shape drawn when not given)."""
    return tst.arrays(shapes() if shape is None else shape, min_value=lo, max_value=hi)


def pairs(lo=-5.0, hi=5.0, lo_b=None, hi_b=None):
    """Two arrays whose shapes broadcast together."""
    lo_b = lo if lo_b is None else lo_b
    hi_b = hi if hi_b is None else hi_b
    return tst.broadcastable_shapes(2, max_dims=MAX_DIMS, max_side=MAX_SIDE).flatmap(
        lambda s: st.tuples(arrays(s[0], lo, hi), arrays(s[1], lo_b, hi_b))
    )


def away_from(x: np.ndarray, point: float, gap: float) -> np.ndarray:
    """``x`` with elements closer than ``gap`` to ``point`` pushed 2·gap further away."""
    side = np.where(x >= point, 1.0, -1.0)
    return np.where(np.abs(x - point) < gap, x + 2 * gap * side, x)


def distinct(shape_strategy=None):
    """Arrays whose elements are all at least 0.3 apart (no ties for max/min)."""

    def build(shape):
        size = int(np.prod(shape))
        return st.tuples(st.permutations(range(size)), arrays(shape, -0.1, 0.1)).map(
            lambda pj: np.reshape(np.array(pj[0], dtype=np.float64), shape) * 0.5
            - size / 4
            + pj[1]
        )

    return (shapes() if shape_strategy is None else shape_strategy).flatmap(build)


def with_axes(array_strategy):
    """(array, axis, keepdims) with the axis valid for the array (None, int, negative, tuple)."""
    return array_strategy.flatmap(
        lambda a: st.tuples(st.just(a), tst.valid_axes(a.ndim), st.booleans())
    )


def np_axis(x: np.ndarray, axis):
    """numpy's spelling of ``axis``: a 0-d array has no axis 0/-1 (torch reduces it whole)."""
    return None if x.ndim == 0 else axis


# ----- arithmetic ----------------------------------------------------------------------------


@given(pairs())
def test_add(ab):
    check(operator.add, np.add, *ab)


@given(pairs())
def test_sub(ab):
    check(operator.sub, np.subtract, *ab)


@given(pairs())
def test_mul(ab):
    check(operator.mul, np.multiply, *ab)


@given(pairs())
def test_div(ab):
    a, b = ab
    check(operator.truediv, np.divide, a, away_from(b, 0.0, 0.5))


@given(pairs(lo=0.5, hi=3.0, lo_b=-2.0, hi_b=2.0))
def test_pow_tensor_exponent(ab):
    check(operator.pow, np.power, *ab)


@given(arrays(lo=0.5, hi=3.0), st.sampled_from([2, 3, 0.5, -1, -1.5, 2.5, 0]))
def test_pow_scalar_exponent(a, p):
    check(lambda t: t**p, lambda x: x**p, a)


@given(arrays(), st.sampled_from([1, 2, 3, 4]))
def test_pow_integer_exponent_negative_base(a, p):
    check(lambda t: t**p, lambda x: x**p, a)


@given(arrays(lo=-2.0, hi=2.0), st.sampled_from([0.5, 2.0, np.e]))
def test_rpow_scalar_base(a, base):
    check(lambda t: base**t, lambda x: base**x, a)


@given(arrays())
def test_neg(a):
    check(operator.neg, np.negative, a)


@given(pairs(), st.sampled_from([2.0, -0.5, 3]))
def test_scalar_operands_both_sides(ab, c):
    a, _ = ab
    check(lambda t: (t + c) * c - c / (t * t + 1) + (c - t) / c, lambda x: (x + c) * c
          - c / (x * x + 1) + (c - x) / c, a)


# ----- matmul ----------------------------------------------------------------------------------


@st.composite
def matmul_operands(draw, kind=None):
    """Operand arrays for every matmul case numpy defines."""
    kind = draw(st.sampled_from(["2d", "batched", "1d@2d", "2d@1d", "1d@1d", "1d@nd", "nd@1d"])
                if kind is None else st.just(kind))
    n, k, m = (draw(st.integers(1, MAX_SIDE)) for _ in range(3))
    ba, bb = draw(tst.broadcastable_shapes(2, max_dims=2, max_side=3))
    a_shape, b_shape = {
        "2d": ((n, k), (k, m)),
        "batched": (ba + (n, k), bb + (k, m)),
        "1d@2d": ((k,), (k, m)),
        "2d@1d": ((n, k), (k,)),
        "1d@1d": ((k,), (k,)),
        "1d@nd": ((k,), bb + (k, m)),
        "nd@1d": (ba + (n, k), (k,)),
    }[kind]
    return draw(arrays(a_shape)), draw(arrays(b_shape))


@given(matmul_operands())
def test_matmul(ab):
    check(operator.matmul, np.matmul, *ab)


@pytest.mark.parametrize("kind", ["2d", "batched", "1d@2d", "2d@1d", "1d@1d", "1d@nd", "nd@1d"])
@given(data=st.data())
def test_matmul_each_case(kind, data):
    check(tg.matmul, np.matmul, *data.draw(matmul_operands(kind)))


@st.composite
def linear_operands(draw):
    batch = draw(shapes(0, 2))
    n_in, n_out = draw(st.integers(1, MAX_SIDE)), draw(st.integers(1, MAX_SIDE))
    x = draw(arrays(batch + (n_in,)))
    return x, draw(arrays((n_out, n_in))), draw(arrays((n_out,)))


@given(linear_operands())
def test_linear_with_bias(xwb):
    check(tg.linear, lambda x, w, b: x @ w.T + b, *xwb)


@given(linear_operands())
def test_linear_without_bias(xwb):
    check(tg.linear, lambda x, w: x @ w.T, *xwb[:2])


# ----- elementwise functions -----------------------------------------------------------------


def np_sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


@given(arrays(lo=-3.0, hi=3.0))
def test_exp(a):
    check(Tensor.exp, np.exp, a)


@given(arrays(lo=0.1, hi=10.0))
def test_log(a):
    check(Tensor.log, np.log, a)


@given(arrays(lo=0.1, hi=10.0))
def test_sqrt(a):
    check(Tensor.sqrt, np.sqrt, a)


@given(arrays().map(lambda a: away_from(a, 0.0, 1e-2)))
def test_abs(a):
    check(Tensor.abs, np.abs, a)


@given(arrays(lo=-10.0, hi=10.0))
def test_sigmoid(a):
    check(Tensor.sigmoid, np_sigmoid, a)


@given(arrays())
def test_tanh(a):
    check(Tensor.tanh, np.tanh, a)


@given(arrays().map(lambda a: away_from(a, 0.0, 1e-2)))
def test_relu(a):
    check(Tensor.relu, lambda x: np.maximum(x, 0), a)


@st.composite
def clip_operands(draw):
    lo = draw(st.one_of(st.none(), st.floats(-3.0, 0.0)))
    hi = draw(st.one_of(st.none(), st.floats(0.5, 3.0)))
    a = draw(arrays())
    for bound in (lo, hi):
        if bound is not None:
            a = away_from(a, bound, 1e-2)
    return a, lo, hi


@given(clip_operands())
def test_clip(a_lo_hi):
    a, lo, hi = a_lo_hi
    expected = a if lo is None and hi is None else np.clip(a, lo, hi)
    check(lambda t: t.clip(lo, hi), lambda x: expected, a)


def snapped(a: np.ndarray, offset: float) -> np.ndarray:
    """Each element moved into [k + offset, k + offset + 0.2) for its integer part k."""
    k = np.floor(a)
    return k + offset + 0.2 * (a - k)


@given(pairs().map(lambda ab: (snapped(ab[0], 0.1), snapped(ab[1], 0.6))))
def test_maximum(ab):
    check(tg.maximum, np.maximum, *ab)


@given(pairs().map(lambda ab: (snapped(ab[0], 0.1), snapped(ab[1], 0.6))))
def test_minimum(ab):
    check(tg.minimum, np.minimum, *ab)


@given(tst.broadcastable_shapes(3, max_dims=MAX_DIMS, max_side=MAX_SIDE).flatmap(
    lambda s: st.tuples(hnp.arrays(bool, s[0]), arrays(s[1]), arrays(s[2]))))
def test_where(cab):
    cond, a, b = cab
    check(lambda x, y: tg.where(cond, x, y), lambda x, y: np.where(cond, x, y), a, b)


# ----- reductions and normalisations ---------------------------------------------------------


@given(with_axes(arrays()))
def test_sum(a_axis_kd):
    a, axis, kd = a_axis_kd
    check(lambda t: t.sum(axis=axis, keepdims=kd),
          lambda x: np.sum(x, np_axis(x, axis), keepdims=kd), a)


@given(with_axes(arrays()))
def test_mean(a_axis_kd):
    a, axis, kd = a_axis_kd
    check(lambda t: t.mean(axis=axis, keepdims=kd),
          lambda x: np.mean(x, np_axis(x, axis), keepdims=kd), a)


@given(with_axes(distinct()))
def test_max(a_axis_kd):
    a, axis, kd = a_axis_kd
    check(lambda t: t.max(axis=axis, keepdims=kd),
          lambda x: np.max(x, np_axis(x, axis), keepdims=kd), a)


@given(with_axes(distinct()))
def test_min(a_axis_kd):
    a, axis, kd = a_axis_kd
    check(lambda t: t.min(axis=axis, keepdims=kd),
          lambda x: np.min(x, np_axis(x, axis), keepdims=kd), a)


def np_softmax(x, axis):
    e = np.exp(x)
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis):
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


@given(arrays(shapes(1)).flatmap(
    lambda a: st.tuples(st.just(a), st.integers(-a.ndim, a.ndim - 1))))
def test_softmax(a_axis):
    a, axis = a_axis
    check(lambda t: t.softmax(axis), lambda x: np_softmax(x, axis), a)


@given(arrays(shapes(1)).flatmap(
    lambda a: st.tuples(st.just(a), st.integers(-a.ndim, a.ndim - 1))))
def test_log_softmax(a_axis):
    a, axis = a_axis
    check(lambda t: t.log_softmax(axis), lambda x: np_log_softmax(x, axis), a)


@given(arrays(shapes(1)))
def test_softmax_default_axis_is_last(a):
    check(lambda t: t.softmax(), lambda x: np_softmax(x, -1), a)
    check(lambda t: t.log_softmax(), lambda x: np_log_softmax(x, -1), a)


# ----- shape ops -------------------------------------------------------------------------------


@st.composite
def reshape_operands(draw):
    a = draw(arrays())
    new = list(draw(st.permutations(a.shape)))
    new.insert(draw(st.integers(0, len(new))), 1) if draw(st.booleans()) else None
    if new and draw(st.booleans()):
        new[draw(st.integers(0, len(new) - 1))] = -1
    return a, tuple(new)


@given(reshape_operands())
def test_reshape(a_shape):
    a, shape = a_shape
    check(lambda t: t.reshape(shape), lambda x: x.reshape(shape), a)
    check(lambda t: t.reshape(*shape), lambda x: x.reshape(shape), a)


@given(arrays().flatmap(lambda a: st.tuples(st.just(a), st.permutations(range(a.ndim)))))
def test_transpose_full_permutation(a_perm):
    a, perm = a_perm
    check(lambda t: t.transpose(perm), lambda x: np.transpose(x, perm), a)
    check(lambda t: t.transpose(*perm), lambda x: np.transpose(x, perm), a)


@given(arrays())
def test_transpose_none_reverses_and_T(a):
    check(lambda t: t.transpose(), np.transpose, a)
    check(lambda t: t.T, lambda x: x.T, a)


@given(arrays())
def test_flatten(a):
    check(Tensor.flatten, np.ravel, a)


@given(tst.broadcastable_shapes(2, max_dims=MAX_DIMS, max_side=MAX_SIDE).flatmap(
    lambda s: st.tuples(arrays(s[0]), st.just(np.broadcast_shapes(*s)))))
def test_broadcast_to(a_shape):
    a, shape = a_shape
    check(lambda t: t.broadcast_to(shape), lambda x: np.broadcast_to(x, shape), a)


@given(arrays().flatmap(lambda a: st.tuples(st.just(a), hnp.basic_indices(a.shape))))
def test_getitem_basic(a_index):
    a, index = a_index
    check(lambda t: t[index], lambda x: x[index], a)


@given(arrays(shapes(1)).flatmap(
    lambda a: st.tuples(st.just(a), hnp.integer_array_indices(a.shape))))
def test_getitem_integer_arrays(a_index):
    a, index = a_index
    check(lambda t: t[index], lambda x: x[index], a)


@given(arrays(shapes(1)).flatmap(lambda a: st.tuples(
    st.just(a), st.lists(st.integers(-a.shape[0], a.shape[0] - 1), min_size=1, max_size=6))))
def test_getitem_repeated_indices(a_index):
    a, index = a_index  # a Python list, repeats likely: gradients must add up
    check(lambda t: t[index], lambda x: x[index], a)
    if a.ndim > 1:  # an integer array along a later axis, mixed with a slice
        idx = np.array(index) % a.shape[1]
        check(lambda t: t[:, idx], lambda x: x[:, idx], a)


@given(arrays(shapes(1)).flatmap(
    lambda a: st.tuples(st.just(a), hnp.arrays(bool, a.shape), hnp.arrays(bool, a.shape[:1]))))
def test_getitem_boolean_masks(a_masks):
    a, mask, rows = a_masks
    check(lambda t: t[mask], lambda x: x[mask], a)
    check(lambda t: t[Tensor(rows)], lambda x: x[rows], a)


@st.composite
def cat_operands(draw):
    shape = draw(shapes(1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    sizes = draw(st.lists(st.integers(1, 3), min_size=1, max_size=3))
    parts = []
    for n in sizes:
        s = list(shape)
        s[axis] = n
        parts.append(draw(arrays(tuple(s))))
    return parts, axis


@given(cat_operands())
def test_cat(parts_axis):
    parts, axis = parts_axis
    check(lambda *ts: tg.cat(ts, axis=axis), lambda *xs: np.concatenate(xs, axis=axis), *parts)


@given(shapes().flatmap(lambda s: st.tuples(
    st.lists(arrays(s), min_size=1, max_size=3), st.integers(-len(s) - 1, len(s)))))
def test_stack(parts_axis):
    parts, axis = parts_axis
    check(lambda *ts: tg.stack(ts, axis=axis), lambda *xs: np.stack(xs, axis=axis), *parts)


# ----- module-level forms ---------------------------------------------------------------------

MODULE_FORMS = [  # (tg function, numpy reference), applied to a positive 2x3 array
    (tg.exp, np.exp),
    (tg.log, np.log),
    (tg.sqrt, np.sqrt),
    (tg.abs, np.abs),
    (tg.sigmoid, np_sigmoid),
    (tg.tanh, np.tanh),
    (tg.relu, lambda x: np.maximum(x, 0)),
    (tg.neg, np.negative),
    (lambda t: tg.clip(t, 0.6, 1.6), lambda x: np.clip(x, 0.6, 1.6)),
    (tg.sum, np.sum),
    (lambda t: tg.sum(t, axis=0), lambda x: np.sum(x, axis=0)),
    (lambda t: tg.sum(t, axis=(0, 1), keepdims=True), lambda x: np.sum(x, (0, 1), keepdims=True)),
    (lambda t: tg.mean(t, axis=-1), lambda x: np.mean(x, axis=-1)),
    (lambda t: tg.max(t, axis=1), lambda x: np.max(x, axis=1)),
    (lambda t: tg.min(t, axis=0, keepdims=True), lambda x: np.min(x, axis=0, keepdims=True)),
    (tg.softmax, lambda x: np_softmax(x, -1)),
    (lambda t: tg.softmax(t, axis=0), lambda x: np_softmax(x, 0)),
    (tg.log_softmax, lambda x: np_log_softmax(x, -1)),
    (lambda t: tg.reshape(t, (3, 2)), lambda x: x.reshape(3, 2)),
    (lambda t: tg.transpose(t), np.transpose),
    (lambda t: tg.transpose(t, (1, 0)), lambda x: np.transpose(x, (1, 0))),
    (tg.flatten, np.ravel),
    (lambda t: tg.broadcast_to(t, (4, 2, 3)), lambda x: np.broadcast_to(x, (4, 2, 3))),
    (lambda t: tg.add(t, 2.0), lambda x: x + 2.0),
    (lambda t: tg.sub(1.0, t), lambda x: 1.0 - x),
    (lambda t: tg.mul(t, t), lambda x: x * x),
    (lambda t: tg.div(t, 4.0), lambda x: x / 4.0),
    (lambda t: tg.pow(t, 3), lambda x: x**3),
    (lambda t: tg.matmul(t, t.T), lambda x: x @ x.T),
    (lambda t: tg.maximum(t, 1.1), lambda x: np.maximum(x, 1.1)),
    (lambda t: tg.minimum(t, 1.1), lambda x: np.minimum(x, 1.1)),
    (lambda t: tg.where(np.array([True, False, True]), t, -t), lambda x: x * [1, -1, 1]),
    (lambda t: tg.cat([t, t], axis=1), lambda x: np.concatenate([x, x], axis=1)),
    (lambda t: tg.concatenate([t, t]), lambda x: np.concatenate([x, x])),
    (lambda t: tg.stack([t, t], axis=-1), lambda x: np.stack([x, x], axis=-1)),
    (lambda t: tg.linear(t, t), lambda x: x @ x.T),
]


BANDS = np.array([[0.2, 1.2, 2.2], [0.7, 1.7, 2.7]])  # element k lies in [BANDS_k, +0.3]


@pytest.mark.parametrize("fn,np_fn", MODULE_FORMS)
@given(arrays((2, 3), lo=0.0, hi=0.3).map(lambda a: a + BANDS))
def test_module_level_functions(fn, np_fn, a):
    check(fn, np_fn, a)  # disjoint positive bands: no ties, no kinks, log/sqrt defined


def test_module_level_functions_accept_arrays_and_lists():
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    np.testing.assert_allclose(tg.exp(x).data, np.exp(x))
    np.testing.assert_allclose(tg.sum(x.tolist(), axis=0).data, x.sum(axis=0))
    assert tg.reshape(Tensor(x), (3, 2)).shape == (3, 2)
    assert tg.tensor(x).dtype == np.float64


# ----- dtypes ----------------------------------------------------------------------------------

FLOAT32_OPS = [
    ("add", lambda a, b: a + b),
    ("sub", lambda a, b: a - b),
    ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / (b * b + 1)),
    ("pow", lambda a, b: (a * a + 1) ** b),
    ("matmul", lambda a, b: a @ b.T),
    ("linear", lambda a, b: tg.linear(a, b, b[:, 0])),
    ("exp", lambda a, b: a.exp() + b),
    ("log", lambda a, b: (a * a + 1).log() * b),
    ("sqrt", lambda a, b: (a * a + 1).sqrt() * b),
    ("abs", lambda a, b: a.abs() * b),
    ("sigmoid", lambda a, b: a.sigmoid() * b),
    ("tanh", lambda a, b: a.tanh() * b),
    ("relu", lambda a, b: a.relu() * b),
    ("clip", lambda a, b: a.clip(-0.5, 0.5) * b),
    ("sum", lambda a, b: (a * b).sum(axis=0)),
    ("mean", lambda a, b: (a * b).mean()),
    ("max", lambda a, b: (a * b).max(axis=1)),
    ("min", lambda a, b: (a * b).min()),
    ("softmax", lambda a, b: a.softmax() * b),
    ("log_softmax", lambda a, b: a.log_softmax(axis=0) * b),
    ("reshape", lambda a, b: (a * b).reshape(-1)),
    ("transpose", lambda a, b: a.T @ b),
    ("getitem", lambda a, b: a[[0, 0, 1]] * b[1]),
    ("cat", lambda a, b: tg.cat([a, b], axis=1)),
    ("stack", lambda a, b: tg.stack([a, b])),
    ("where", lambda a, b: tg.where(a.data > 0, a, b)),
    ("maximum", lambda a, b: tg.maximum(a, b)),
    ("minimum", lambda a, b: tg.minimum(a, b)),
    ("broadcast_to", lambda a, b: a[0].broadcast_to((2, 3)) * b),
    ("scalars", lambda a, b: (a * 2.0 + 1) / 3.0 - 0.5 ** b + 2 ** a - 1.5 * b ** 2),
]


@pytest.mark.parametrize("name,fn", FLOAT32_OPS, ids=[n for n, _ in FLOAT32_OPS])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_kept_in_values_and_gradients(name, fn, dtype):
    rng = np.random.default_rng(0)
    a = Tensor(rng.standard_normal((2, 3)).astype(dtype), requires_grad=True)
    b = Tensor(rng.standard_normal((2, 3)).astype(dtype), requires_grad=True)
    out = fn(a, b)
    assert out.dtype == dtype, f"{name}: forward gave {out.dtype}"
    out.backward(np.ones(out.shape, dtype))
    for t in (a, b):
        assert t.grad is not None and t.grad.dtype == dtype, f"{name}: gradient dtype"
    ga, gb = tg.grad(fn(a, b).sum(), [a, b], create_graph=True)
    assert ga.dtype == dtype and gb.dtype == dtype, f"{name}: create_graph gradient dtype"


@pytest.mark.parametrize(
    "expr",
    [
        lambda t: t * 2.0,
        lambda t: 2.0 * t,
        lambda t: 2.0 - t,
        lambda t: t - 1,
        lambda t: t + 0.1,
        lambda t: t / 3.0,
        lambda t: 3.0 / t,
        lambda t: t**2,
        lambda t: t**0.5,
        lambda t: 2.0**t,
        lambda t: -t,
    ],
)
def test_python_scalars_do_not_upcast_float32(expr):
    t = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    out = expr(t)
    assert out.dtype == np.float32
    out.sum().backward()
    assert t.grad.dtype == np.float32


def test_python_numbers_and_lists_default_to_float32_arrays_keep_dtype():
    assert Tensor(1.5).dtype == np.float32
    assert Tensor(3).dtype == np.float32
    assert Tensor([[1, 2], [3, 4]]).dtype == np.float32
    assert Tensor(np.zeros(2)).dtype == np.float64
    assert Tensor(np.zeros(2, np.float32)).dtype == np.float32
    assert Tensor([1.0], dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize(
    "fn",
    [
        lambda t: t.exp(),
        lambda t: t.log(),
        lambda t: t.sqrt(),
        lambda t: t.sigmoid(),
        lambda t: t.tanh(),
        lambda t: t * 0.5,
        lambda t: t / 2,
        lambda t: t.mean(),
        lambda t: t.softmax(),
        lambda t: t.log_softmax(),
        lambda t: t**0.5,
    ],
)
def test_integer_tensors_are_promoted_to_float_by_math_ops(fn):
    t = Tensor(np.array([1, 2, 4], dtype=np.int64))
    out = fn(t)
    assert out.dtype.kind == "f"
    expected = fn(Tensor(np.array([1.0, 2.0, 4.0])))
    np.testing.assert_allclose(out.data, expected.data, rtol=1e-6)


def test_shape_ops_keep_integer_dtype():
    t = Tensor(np.arange(6).reshape(2, 3))
    for out in (t.reshape(3, 2), t.T, t[0], t.flatten(), tg.cat([t, t]), tg.stack([t, t])):
        assert out.dtype == np.int64


# ----- non-differentiable results --------------------------------------------------------------


@given(pairs())
def test_comparisons_return_bool_tensors_outside_the_graph(ab):
    a, b = (Tensor(x, requires_grad=True) for x in ab)
    for op in (operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne):
        out = op(a, b)
        assert isinstance(out, Tensor)
        assert out.dtype == np.bool_
        assert not out.requires_grad and out.grad_fn is None
        np.testing.assert_array_equal(out.data, op(ab[0], ab[1]))
        np.testing.assert_array_equal(op(a, 0.5).data, op(ab[0], 0.5))


@given(with_axes(arrays(shapes(1))).filter(lambda x: not isinstance(x[1], tuple)))
def test_argmax_argmin(a_axis_kd):
    a, axis, kd = a_axis_kd
    t = Tensor(a, requires_grad=True)
    for method, np_fn in ((Tensor.argmax, np.argmax), (Tensor.argmin, np.argmin)):
        out = method(t, axis=axis, keepdims=kd)
        assert not out.requires_grad and out.dtype.kind == "i"
        np.testing.assert_array_equal(out.data, np_fn(a, axis=axis, keepdims=kd))
    np.testing.assert_array_equal(tg.argmax(t, axis=axis).data, np.argmax(a, axis=axis))
    np.testing.assert_array_equal(tg.argmin(t, axis=axis).data, np.argmin(a, axis=axis))


# ----- regressions from issue 10: silent wrong answers -----------------------------------------


@given(tst.shapes(min_dims=1, max_dims=3, max_side=3).flatmap(
    lambda s: st.tuples(arrays(s), st.permutations(range(len(s))),
                        st.lists(st.booleans(), min_size=len(s), max_size=len(s)))))
def test_transpose_negative_axes_match_numpy(a_perm_neg):
    """Each axis may be written negatively; value and gradient equal the positive form's."""
    a, perm, neg = a_perm_neg
    axes = tuple(p - a.ndim if n else p for p, n in zip(perm, neg, strict=True))
    check(lambda t: t.transpose(axes), lambda x: np.transpose(x, perm), a)


def test_transpose_negative_axes_reproducers():
    t = Tensor(np.ones((2, 3)), requires_grad=True)
    t.transpose((-1, 0)).sum().backward()
    np.testing.assert_array_equal(t.grad.data, np.ones((2, 3)))
    x = Tensor(np.random.default_rng(0).standard_normal((3, 3, 3)), requires_grad=True)
    assert tg.gradcheck(lambda t: t.transpose((-1, 0, 1)), [x])


@pytest.mark.parametrize("axes", [(0, 0), (0, 2), (0,), (0, 1, -3)])
def test_transpose_rejects_non_permutations(axes):
    with pytest.raises(ValueError, match="permutation"):
        Tensor(np.ones((2, 3))).transpose(axes)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("axis", [0, -1, (0,), (-1,)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_of_a_0d_tensor_accept_axis_0_and_minus_1(name, axis, keepdims):
    t = Tensor(np.array(2.5), requires_grad=True)
    out = getattr(t, name)(axis, keepdims)
    assert out.shape == () and out.item() == 2.5
    out.backward()
    assert t.grad.item() == 1.0


@pytest.mark.parametrize("axis", [1, -2, (0, 0)])
def test_reductions_of_a_0d_tensor_reject_other_axes(axis):
    with pytest.raises(ValueError, match="axis"):
        Tensor(np.array(2.5)).sum(axis)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_integer_and_bool_sum_max_min_are_exact(dtype):
    big = 2**24 + 1 if np.dtype(dtype).itemsize >= 4 else 255
    a = np.array([[big, 3], [1, big]]).astype(dtype)
    t = Tensor(a)
    for name in ("sum", "max", "min"):
        for axis in (None, 0, -1):
            out = getattr(t, name)(axis)
            expected = getattr(np, name)(a, axis=axis)
            assert out.dtype == expected.dtype, (name, axis)
            np.testing.assert_array_equal(out.data, expected)
    assert Tensor(np.array([2**24 + 1])).max().item() == 16777217
    assert Tensor(np.array([2**24 + 1, 2**24 + 1])).sum().item() == 2 * (2**24 + 1)
