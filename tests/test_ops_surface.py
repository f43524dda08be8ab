"""The PyTorch-style op surface (issue 12): every op checked three ways by hypothesis.

``check`` compares an op's forward value with numpy, its gradients with central finite
differences in float64 (first order with ``tg.gradcheck``, second order with
``tg.gradgradcheck``, each with a random upstream gradient) and its forward-mode
tangent (``tg.func.jvp``) with a finite-difference directional derivative. Shapes and
axes (negative ones included) are drawn; inputs stay away from kinks and domain edges.
Products are polynomials, so prod/cumprod are checked *at* zeros too.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor
from tinygrad_mlp.testing import strategies as tst

try:  # forward mode (tg.func) is built alongside; the jvp part of ``check`` needs it
    import tinygrad_mlp.func as tgf
except ImportError:  # pragma: no cover
    tgf = None

EPS = 1e-6
#: Each example runs gradcheck, gradgradcheck and a jvp: a third of the profile's examples
#: keeps this file near 20 s under HYPOTHESIS_PROFILE=ci.
EXAMPLES = max(10, settings().max_examples // 3)


def check(fn: Callable[..., Tensor], np_fn: Callable[..., np.ndarray], *arrays: np.ndarray,
          second_order: bool = True) -> None:
    """Forward equals numpy; gradients (1st, 2nd order) and the jvp match finite differences."""
    xs = [np.asarray(a, dtype=np.float64) for a in arrays]
    inputs = [Tensor(x, requires_grad=True) for x in xs]
    out = fn(*inputs)
    expected = np.asarray(np_fn(*xs))
    assert isinstance(out, Tensor) and out.requires_grad
    assert out.shape == expected.shape and out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)
    assert tg.gradcheck(fn, inputs)
    if second_order:
        assert tg.gradgradcheck(fn, inputs)
    if tgf is None:
        return
    rng = np.random.default_rng(0)
    vs = [rng.standard_normal(x.shape) for x in xs]
    _, tangent = tgf.jvp(fn, tuple(xs), tuple(vs))
    plus = fn(*[Tensor(x + EPS * v) for x, v in zip(xs, vs, strict=True)]).data
    minus = fn(*[Tensor(x - EPS * v) for x, v in zip(xs, vs, strict=True)]).data
    np.testing.assert_allclose(tangent.data, (plus - minus) / (2 * EPS), rtol=1e-5, atol=1e-6)


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 3):
    return tst.shapes(min_dims=min_dims, max_dims=max_dims, max_side=max_side)


def arrays(shape=None, lo: float = -3.0, hi: float = 3.0):
    return tst.arrays(shapes() if shape is None else shape, min_value=lo, max_value=hi)


def with_zeros(shape=None):
    """Arrays in [-2, 2] where some elements are exactly 0 (several per row, sometimes)."""
    base = arrays(shape, -2.0, 2.0)
    return base.flatmap(lambda a: hnp.arrays(bool, a.shape).map(lambda m: np.where(m, 0.0, a)))


def array_axis(min_dims: int = 0):
    """(array, int axis) with the axis valid for it (negative too; 0/-1 for 0-d)."""
    def pick(a):
        n = max(a.ndim, 1)
        return st.tuples(st.just(a), st.integers(-n, n - 1))
    return arrays(shapes(min_dims)).flatmap(pick)


def array_axes(min_dims: int = 0, **kw):
    """(array, axis, keepdims): axis None, an int or a tuple, negatives included."""
    def pick(a):
        axes = tst.valid_axes(a.ndim) if a.ndim else st.sampled_from([None, 0, -1])
        return st.tuples(st.just(a), axes, st.booleans())
    return (with_zeros(shapes(min_dims)) if kw.get("zeros") else arrays(shapes(min_dims))).flatmap(
        pick)


def np_axis(a: np.ndarray, axis):
    """numpy's spelling of ``axis`` (a 0-d array has no axis 0: None, as torch means)."""
    return None if a.ndim == 0 else axis


# ----- elementwise math ----------------------------------------------------------------------

SMOOTH = [
    ("sin", np.sin, -3.0, 3.0),
    ("cos", np.cos, -3.0, 3.0),
    ("tan", np.tan, -1.2, 1.2),
    ("log2", np.log2, 0.2, 5.0),
    ("log1p", np.log1p, -0.7, 5.0),
    ("exp2", np.exp2, -3.0, 3.0),
    ("expm1", np.expm1, -3.0, 3.0),
    ("rsqrt", lambda a: 1 / np.sqrt(a), 0.2, 5.0),
    ("reciprocal", np.reciprocal, 0.3, 5.0),
    ("square", np.square, -3.0, 3.0),
]


@pytest.mark.parametrize(("name", "np_fn", "lo", "hi"), SMOOTH, ids=[s[0] for s in SMOOTH])
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_smooth_elementwise(name, np_fn, lo, hi, data):
    a = data.draw(arrays(lo=lo, hi=hi))
    check(lambda t: getattr(t, name)(), np_fn, a)
    np.testing.assert_allclose(getattr(tg, name)(a).data, np_fn(a), rtol=1e-12)


def test_reciprocal_of_negatives():
    check(lambda t: t.reciprocal(), np.reciprocal, np.array([-2.0, -0.5, 3.0]))


ROUNDING = [("sign", np.sign), ("floor", np.floor), ("ceil", np.ceil), ("round", np.round),
            ("trunc", np.trunc)]


@pytest.mark.parametrize(("name", "np_fn"), ROUNDING, ids=[r[0] for r in ROUNDING])
@settings(max_examples=EXAMPLES)
@given(a=arrays(lo=-4.0, hi=4.0))
def test_rounding_values_and_zero_gradient(name, np_fn, a):
    a = np.concatenate([a.reshape(-1), [0.5, 1.5, -2.5, 0.0]])  # halves round to even
    t = Tensor(a, requires_grad=True)
    out = getattr(t, name)()
    np.testing.assert_array_equal(out.data, np_fn(a))
    out.backward(np.full(a.shape, np.inf))  # even an infinite upstream gradient gives 0
    np.testing.assert_array_equal(t.grad.data, np.zeros_like(a))
    ints = np.array([-3, 0, 2**40 + 1])
    assert getattr(Tensor(ints), name)().data.tolist() == np_fn(ints).astype(np.int64).tolist()


def test_round_decimals():
    np.testing.assert_allclose(Tensor(np.array([1.2345, -2.5551])).round(2).data, [1.23, -2.56])


def test_abs_builtin_and_unary_plus():
    t = Tensor(np.array([-1.5, 2.0]), requires_grad=True)
    assert (+t) is t
    abs(t).sum().backward()
    np.testing.assert_array_equal(abs(t).data, [1.5, 2.0])
    np.testing.assert_array_equal(t.grad.data, [-1.0, 1.0])


# ----- shape -----------------------------------------------------------------------------


@settings(max_examples=EXAMPLES)
@given(array_axis())
def test_unsqueeze_then_squeeze(a_axis):
    a, axis = a_axis
    new = axis if axis >= 0 else axis - 1 + (a.ndim == 0)  # a position of the result
    new = max(min(new, a.ndim), -a.ndim - 1)
    check(lambda t: t.unsqueeze(new), lambda x: np.expand_dims(x, new), a)
    check(lambda t: t.unsqueeze(new).squeeze(new), lambda x: x, a)


@settings(max_examples=EXAMPLES)
@given(arrays(tst.shapes(min_dims=1, max_dims=4, min_side=1, max_side=2)))
def test_squeeze_all_and_named_size_one_axes(a):
    check(lambda t: t.squeeze(), np.squeeze, a)
    ones = tuple(i - a.ndim for i, n in enumerate(a.shape) if n == 1)
    check(lambda t: t.squeeze(ones), lambda x: np.squeeze(x, ones), a)


def test_squeeze_of_a_dimension_larger_than_one_is_a_no_op_as_torch():
    t = Tensor(np.ones((2, 1, 3)))
    assert t.squeeze(0).shape == (2, 1, 3)
    assert t.squeeze(dim=-2).shape == (2, 3)
    assert tg.squeeze(t, (0, 1)).shape == (2, 3)


@settings(max_examples=EXAMPLES)
@given(arrays(shapes(1, 4)), st.data())
def test_flatten_dims_and_unflatten(a, data):
    s = data.draw(st.integers(-a.ndim, a.ndim - 1))
    e = data.draw(st.integers(s % a.ndim, a.ndim - 1))
    lo, hi = s % a.ndim, e
    shape = a.shape[:lo] + (-1,) + a.shape[hi + 1:]
    check(lambda t: t.flatten(s, e), lambda x: x.reshape(shape), a)
    merged = a.reshape(shape)
    check(lambda t: t.unflatten(lo, a.shape[lo:hi + 1]), lambda x: x.reshape(a.shape), merged)
    assert tg.flatten(Tensor(a)).shape == (a.size,)


def test_flatten_of_0d_and_view_and_unflatten_minus_one():
    assert Tensor(np.array(3.0)).flatten().shape == (1,)
    t = Tensor(np.arange(12.0))
    assert t.view(3, -1).shape == (3, 4) and t.view((2, 6)).shape == (2, 6)
    assert t.unflatten(0, (2, -1)).shape == (2, 6)
    with pytest.raises(ValueError, match="start_dim"):
        Tensor(np.ones((2, 3, 4))).flatten(2, 1)


@settings(max_examples=EXAMPLES)
@given(arrays(shapes(0, 2)), st.lists(st.integers(1, 3), min_size=0, max_size=3))
def test_tile_and_repeat(a, reps):
    reps = tuple(reps)
    check(lambda t: t.tile(reps), lambda x: np.tile(x, reps), a)
    if len(reps) >= a.ndim:
        check(lambda t: t.repeat(*reps), lambda x: np.tile(x, reps), a)
        check(lambda t: t.repeat(reps), lambda x: np.tile(x, reps), a)
    else:
        with pytest.raises(ValueError, match="repeat"):
            Tensor(a).repeat(*reps)


@settings(max_examples=EXAMPLES)
@given(arrays(shapes(1, 3)), st.data())
def test_pad_numpy_and_torch_forms(a, data):
    widths = data.draw(st.lists(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                min_size=a.ndim, max_size=a.ndim))
    value = data.draw(st.sampled_from([0.0, -1.5]))
    check(lambda t: t.pad(widths, value), lambda x: np.pad(x, widths, constant_values=value), a)
    flat = tuple(v for pair in reversed(widths) for v in pair)  # torch: last dim first
    check(lambda t: tg.pad(t, flat), lambda x: np.pad(x, widths), a)


def test_pad_errors_are_clear():
    t = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="even number"):
        t.pad((1, 2, 3))
    with pytest.raises(ValueError, match="negative"):
        t.pad(((0, -1), (0, 0)))
    assert t.pad(1).shape == (4, 5)


@settings(max_examples=EXAMPLES)
@given(arrays(shapes(1)), st.data())
def test_flip_and_roll(a, data):
    axes = data.draw(tst.valid_axes(a.ndim))
    check(lambda t: t.flip(axes), lambda x: np.flip(x, axes), a)
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    shift = data.draw(st.integers(-4, 4))
    check(lambda t: t.roll(shift, axis), lambda x: np.roll(x, shift, axis), a)
    check(lambda t: t.roll(shift), lambda x: np.roll(x, shift), a)
    check(lambda t: t.roll((shift, 1), (axis, 0)), lambda x: np.roll(x, (shift, 1), (axis, 0)), a)
    assert tg.flip(Tensor(a), dims=axis).shape == a.shape


@settings(max_examples=EXAMPLES)
@given(arrays(shapes(1)), st.data())
def test_split_chunk_unbind_narrow(a, data):
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    n = a.shape[axis]
    size = data.draw(st.integers(1, n + 1))
    bounds = list(range(size, n, size))

    def joined(parts):
        return tg.cat(list(parts), axis) * tg.tensor(np.arange(1.0, a.size + 1).reshape(a.shape))

    ramp = np.arange(1.0, a.size + 1).reshape(a.shape)
    check(lambda t: joined(t.split(size, axis)), lambda x: x * ramp, a)
    assert [p.shape[axis] for p in Tensor(a).split(size, axis)] == [
        p.shape[axis] for p in np.split(a, bounds, axis)]
    sections = [1, n - 1] if n > 1 else [1]
    assert [p.shape[axis] for p in Tensor(a).split(sections, dim=axis)] == sections
    chunks = data.draw(st.integers(1, 4))
    pieces = Tensor(a).chunk(chunks, axis)
    assert len(pieces) <= chunks and sum(p.shape[axis] for p in pieces) == n
    check(lambda t: joined(t.chunk(chunks, axis)), lambda x: x * ramp, a)
    check(lambda t: tg.stack(list(t.unbind(axis)), axis), lambda x: x, a)
    start = data.draw(st.integers(-n, n - 1))
    length = data.draw(st.integers(0, n - start % n))
    sl = (slice(None),) * (axis % a.ndim) + (slice(start % n, start % n + length),)
    check(lambda t: t.narrow(axis, start, length), lambda x: x[sl], a)


def test_split_and_narrow_errors():
    t = Tensor(np.ones((4, 2)))
    with pytest.raises(ValueError, match="add up"):
        t.split([1, 2])
    with pytest.raises(ValueError, match="narrow"):
        t.narrow(0, 3, 2)


@settings(max_examples=EXAMPLES)
@given(arrays(tst.shapes(1, 2, max_side=3)), arrays(tst.shapes(1, 2, max_side=3)))
def test_hstack_vstack(a, b):
    def fits(fn, *xs):
        try:
            return fn(xs)
        except ValueError:
            return None

    for tg_fn, np_fn in ((tg.hstack, np.hstack), (tg.vstack, np.vstack)):
        expected = fits(np_fn, a, b)
        if expected is None:
            continue
        check(lambda x, y, f=tg_fn: f([x, y]), lambda x, y, f=np_fn: f([x, y]), a, b)


@settings(max_examples=EXAMPLES)
@given(arrays(shapes(2, 3)), st.integers(-3, 3))
def test_tril_triu(a, k):
    check(lambda t: t.tril(k), lambda x: np.tril(x, k), a)
    check(lambda t: t.triu(diagonal=k), lambda x: np.triu(x, k), a)
    assert tg.tril(Tensor(np.arange(6).reshape(2, 3))).dtype == np.int64


def test_tril_of_a_vector_is_a_clear_error():
    with pytest.raises(ValueError, match="2 dimensions"):
        Tensor(np.ones(3)).tril()


@settings(max_examples=EXAMPLES)
@given(arrays(shapes(0, 2)), st.data())
def test_expand_with_minus_one_and_sizes(a, data):
    lead = data.draw(st.integers(0, 2))
    target = (2,) * lead + tuple(n if n != 1 else data.draw(st.integers(1, 3)) for n in a.shape)
    sizes = (2,) * lead + tuple(-1 if n != 1 else m for n, m in zip(a.shape, target[lead:],
                                                                        strict=True))
    check(lambda t: t.expand(*sizes), lambda x: np.broadcast_to(x, target), a)
    check(lambda t: t.broadcast_to(target), lambda x: np.broadcast_to(x, target), a)


@settings(max_examples=EXAMPLES)
@given(arrays(shapes(1)), st.data())
def test_permute_with_negative_dims(a, data):
    perm = data.draw(st.permutations(range(a.ndim)))
    neg = tuple(p - a.ndim if data.draw(st.booleans()) else p for p in perm)
    check(lambda t: t.permute(*neg), lambda x: np.transpose(x, perm), a)
    check(lambda t: t.permute(neg), lambda x: np.transpose(x, perm), a)


def test_transpose_of_two_axes_on_3d_swaps_them_as_torch():
    a = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(Tensor(a).transpose(0, -1).data, np.swapaxes(a, 0, -1))


def test_clone_and_contiguous():
    a = np.arange(6.0).reshape(2, 3)
    t = Tensor(a, requires_grad=True)
    c = t.clone()
    assert c.data is not t.data and not np.shares_memory(c.data, t.data)
    check(lambda x: x.clone(), lambda x: x, a)
    assert t.contiguous() is t
    tt = t.T.contiguous()
    assert tt.data.flags.c_contiguous and tt.requires_grad
    check(lambda x: x.T.contiguous(), lambda x: x.T, a)


# ----- reductions and scans -------------------------------------------------------------------


@settings(max_examples=EXAMPLES)
@given(array_axes(zeros=True))
def test_prod_including_zeros(a_axis_kd):
    a, axis, kd = a_axis_kd
    check(lambda t: t.prod(axis, kd), lambda x: np.prod(x, np_axis(x, axis), keepdims=kd), a)


def test_prod_gradient_with_one_and_two_zeros_is_the_product_of_the_others():
    t = Tensor(np.array([[2.0, 0.0, 3.0], [0.0, 0.0, 5.0]]), requires_grad=True)
    t.prod(dim=1).backward(np.ones(2))
    np.testing.assert_array_equal(t.grad.data, [[0.0, 6.0, 0.0], [0.0, 0.0, 0.0]])


@settings(max_examples=EXAMPLES)
@given(array_axis(), st.booleans())
def test_cumsum_and_cumprod(a_axis, zeros):
    a, axis = a_axis
    if zeros:
        a = np.where(np.arange(a.size).reshape(a.shape) % 3 == 1, 0.0, a)
    ax = np_axis(a, axis)
    check(lambda t: t.cumsum(axis), lambda x: np.cumsum(x, ax).reshape(x.shape), a)
    check(lambda t: t.cumprod(dim=axis), lambda x: np.cumprod(x, ax).reshape(x.shape), a)
    check(lambda t: tg.cumsum(t), lambda x: np.cumsum(x), a)


def test_cumprod_gradient_at_zeros_matches_a_hand_derivation():
    t = Tensor(np.array([2.0, 0.0, 3.0, 4.0]), requires_grad=True)
    t.cumprod(0).sum().backward()
    # y = (2, 0, 0, 0): dy/dx0 = 1; dy/dx1 = 2 + 2·3 + 2·3·4 = 32; later elements: 0
    np.testing.assert_array_equal(t.grad.data, [1.0, 32.0, 0.0, 0.0])


@settings(max_examples=EXAMPLES)
@given(array_axes(), st.sampled_from([0, 1, 2]))
def test_var_and_std(a_axis_kd, correction):
    a, axis, kd = a_axis_kd
    ax = np_axis(a, axis)
    n = a.size // max(np.sum(a, ax, keepdims=True).size, 1)
    if n - correction <= 0:
        return
    a = a + np.arange(a.size).reshape(a.shape) * 0.37  # no constant slices: std' finite
    check(lambda t: t.var(axis, correction, kd), lambda x: np.var(x, ax, ddof=correction,
                                                                 keepdims=kd), a)
    if n == 1:
        return  # std of one element is √0: infinite slope, NaN gradient (as torch)
    check(lambda t: t.std(dim=axis, correction=correction, keepdim=kd),
          lambda x: np.std(x, ax, ddof=correction, keepdims=kd), a)


def test_var_defaults_to_torch_correction_and_accepts_unbiased_and_ddof():
    a = np.array([1.0, 2.0, 4.0])
    assert math.isclose(Tensor(a).var().item(), np.var(a, ddof=1))
    assert math.isclose(Tensor(a).var(unbiased=False).item(), np.var(a))
    assert math.isclose(Tensor(a).std(ddof=0).item(), np.std(a))
    assert math.isclose(tg.var(a, 0, 0).item(), np.var(a))


@settings(max_examples=EXAMPLES)
@given(array_axes())
def test_logsumexp(a_axis_kd):
    a, axis, kd = a_axis_kd
    ax = np_axis(a, axis)
    check(lambda t: t.logsumexp(axis, kd),
          lambda x: np.log(np.sum(np.exp(x), ax, keepdims=kd)), a)


def test_logsumexp_is_stable_for_huge_values():
    for dtype in (np.float32, np.float64):
        t = Tensor(np.array([[1e4, 1e4], [-1e4, 0.0]], dtype), requires_grad=True)
        out = t.logsumexp(1)
        assert out.dtype == dtype
        np.testing.assert_allclose(out.data, [1e4 + np.log(2), 0.0], rtol=1e-6)
        out.sum().backward()
        np.testing.assert_allclose(t.grad.data, [[0.5, 0.5], [0.0, 1.0]])


@settings(max_examples=EXAMPLES)
@given(array_axes(), st.sampled_from([2, 1, 3, math.inf, -math.inf, "fro", 0.5]))
def test_norm(a_axis_kd, ord):  # noqa: A002
    a, axis, kd = a_axis_kd
    ax = np_axis(a, axis)
    a = np.where(np.abs(a) < 0.2, 0.5, a)  # away from |x|'s kink at 0
    if ord in (math.inf, -math.inf):
        a = a + np.arange(a.size).reshape(a.shape) * 10.0  # no ties of |x|
    p = 2 if ord == "fro" else ord

    def ref(x):
        m = np.abs(x)
        if p == math.inf:
            return np.max(m, ax, keepdims=kd)
        if p == -math.inf:
            return np.min(m, ax, keepdims=kd)
        return np.sum(m**p, ax, keepdims=kd) ** (1 / p)

    check(lambda t: t.norm(ord, axis, kd), ref, a)
    np.testing.assert_allclose(Tensor(a).norm(p=ord, dim=axis, keepdim=kd).data, ref(a))


def test_norm_of_zeros_has_zero_gradient_as_torch():
    t = Tensor(np.zeros((2, 3)), requires_grad=True)
    t.norm(dim=1).sum().backward()
    np.testing.assert_array_equal(t.grad.data, np.zeros((2, 3)))
    assert tg.norm(Tensor(np.array([3.0, 0.0, 4.0])), 0).item() == 2.0


@settings(max_examples=EXAMPLES)
@given(array_axes())
def test_all_any(a_axis_kd):
    a, axis, kd = a_axis_kd
    a = a > 0
    ax = np_axis(a, axis)
    for name in ("all", "any"):
        out = getattr(Tensor(a), name)(axis, kd)
        assert out.dtype == np.bool_ and not out.requires_grad
        np.testing.assert_array_equal(out.data, getattr(np, name)(a, ax, keepdims=kd))
        np.testing.assert_array_equal(getattr(tg, name)(a, dim=axis, keepdim=kd).data, out.data)


@settings(max_examples=EXAMPLES)
@given(array_axis(), st.booleans())
def test_argmax_argmin_with_torch_names_and_0d(a_axis, kd):
    a, axis = a_axis
    ax = np_axis(a, axis)
    for name in ("argmax", "argmin"):
        out = getattr(Tensor(a), name)(dim=axis, keepdim=kd)
        np.testing.assert_array_equal(out.data, getattr(np, name)(a, ax, keepdims=kd))


def test_max_with_dim_returns_values_and_indices_as_torch():
    t = Tensor(np.array([[1.0, 3.0, 3.0], [5.0, 0.0, 2.0]]), requires_grad=True)
    values, indices = t.max(dim=1)
    np.testing.assert_array_equal(values.data, [3.0, 5.0])
    np.testing.assert_array_equal(indices.data, [1, 0])
    result = t.min(dim=-1, keepdim=True)
    assert result.values.shape == (2, 1) and result.indices.data.tolist() == [[0], [1]]
    values.sum().backward()  # the tie at (0, 1), (0, 2): all of it to the index's element
    np.testing.assert_array_equal(t.grad.data, [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])
    t.grad = None
    t.amax(1).sum().backward()  # amax (and max(axis)): ties share, as torch.amax
    np.testing.assert_array_equal(t.grad.data, [[0.0, 0.5, 0.5], [1.0, 0.0, 0.0]])
    assert tg.max(t, dim=0).indices.data.tolist() == [1, 0, 0]


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "prod", "logsumexp", "var",
                                  "std", "norm"])
def test_dim_and_keepdim_are_aliases_of_axis_and_keepdims(name):
    a = np.arange(1.0, 25.0).reshape(2, 3, 4) ** 0.5
    t = Tensor(a)
    numpy_names = getattr(t, name)(axis=(0, -1), keepdims=True).data
    torch_names = getattr(t, name)(dim=(0, -1), keepdim=True).data
    np.testing.assert_array_equal(numpy_names, torch_names)
    if name != "norm":  # torch's norm takes p first: x.norm(1) is the 1-norm
        assert getattr(t, name)(1).shape == (2, 4)  # torch's positional form x.sum(1)
    with pytest.raises(TypeError, match="not both"):
        getattr(t, name)(axis=0, dim=0)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_])
def test_integer_prod_cumsum_cumprod_are_exact(dtype):
    a = np.array([[3, 2**20 + 1], [2**20 + 3, 1]]).astype(dtype)
    t = Tensor(a)
    for got, want in (
        (t.prod(), np.prod(a)), (t.prod(0), np.prod(a, 0)), (t.cumsum(1), np.cumsum(a, 1)),
        (t.cumprod(0), np.cumprod(a, 0)), (t.cumsum(), np.cumsum(a)),
    ):
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got.data, want)


# ----- indexing along an axis -----------------------------------------------------------------


def index_for(shape, axis, data, fill=None):
    """An integer index array with ``shape`` into an axis of length ``fill``."""
    return data.draw(hnp.arrays(np.int64, shape, elements=st.integers(0, fill - 1)))


@settings(max_examples=EXAMPLES)
@given(arrays(shapes(1)), st.data())
def test_gather_and_take_along_axis(a, data):
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    shape = tuple(data.draw(st.integers(1, n)) if i != axis % a.ndim else data.draw(
        st.integers(1, 4)) for i, n in enumerate(a.shape))
    idx = index_for(shape, axis, data, a.shape[axis])
    crop = tuple(slice(0, n) for n in shape[:axis % a.ndim]) + (slice(None),) + tuple(
        slice(0, n) for n in shape[axis % a.ndim + 1:])
    check(lambda t: t.gather(axis, idx), lambda x: np.take_along_axis(x[crop], idx, axis), a)
    full = tuple(n if i == axis % a.ndim else m for i, (n, m) in enumerate(
        zip(shape, a.shape, strict=True)))
    idx_full = index_for(full, axis, data, a.shape[axis])
    check(lambda t: tg.take_along_axis(t, idx_full, axis),
          lambda x: np.take_along_axis(x, idx_full, axis), a)


@settings(max_examples=EXAMPLES)
@given(arrays(shapes(1)), st.data())
def test_index_select(a, data):
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    idx = data.draw(st.lists(st.integers(0, a.shape[axis] - 1), min_size=1, max_size=4))
    check(lambda t: t.index_select(axis, idx), lambda x: np.take(x, idx, axis), a)
    check(lambda t: tg.index_select(t, axis, Tensor(np.array(idx))),
          lambda x: np.take(x, idx, axis), a)


@settings(max_examples=EXAMPLES)
@given(arrays(shapes(1)), st.data())
def test_scatter_add_and_index_add(a, data):
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    ax = axis % a.ndim
    shape = tuple(data.draw(st.integers(1, n)) if i != ax else data.draw(st.integers(1, 4))
                  for i, n in enumerate(a.shape))
    idx = index_for(shape, axis, data, a.shape[ax])
    src = data.draw(arrays(shape))

    def ref_scatter(x, s):
        out = x.copy()
        for pos in np.ndindex(*shape):
            target = list(pos)
            target[ax] = idx[pos]
            out[tuple(target)] += s[pos]
        return out

    check(lambda t, s: t.scatter_add(axis, idx, s), ref_scatter, a, src)
    k = data.draw(st.integers(1, 4))
    rows = data.draw(st.lists(st.integers(0, a.shape[ax] - 1), min_size=k, max_size=k))
    source = data.draw(arrays(a.shape[:ax] + (k,) + a.shape[ax + 1:]))

    def ref_index_add(x, s):
        out = x.copy()
        for i, r in enumerate(rows):  # repeated rows add up
            sl = (slice(None),) * ax
            out[sl + (r,)] += 2.0 * s[sl + (i,)]
        return out

    check(lambda t, s: t.index_add(axis, rows, s, alpha=2.0), ref_index_add, a, source)


def test_index_errors_name_the_problem():
    t = Tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match="integers"):
        t.gather(1, np.array([[0.5]]))
    with pytest.raises(ValueError, match="does not fit"):
        t.gather(1, np.zeros((3, 1), np.int64))
    with pytest.raises(ValueError, match="source has shape"):
        t.index_add(0, [0], np.ones((2, 3)))
    with pytest.raises(ValueError, match="out of range"):
        t.index_select(2, [0])


# ----- einsum, outer, dot ------------------------------------------------------------------

EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("ij,jk", [(2, 3), (3, 2)]),
    ("ij->i", [(2, 3)]),
    ("ij->", [(2, 3)]),
    ("ii->", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("iij->ji", [(2, 2, 3)]),
    ("i,j->ij", [(3,), (2,)]),
    ("i,i->", [(4,), (4,)]),
    ("ij,ij->ij", [(1, 3), (2, 3)]),
    ("...ij,...jk->...ik", [(2, 2, 3), (3, 2)]),
    ("i...->...", [(2, 3, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 2), (2, 2)]),
    ("ba", [(2, 3)]),
]


@pytest.mark.parametrize(("spec", "shapes_"), EINSUM, ids=[e[0] for e in EINSUM])
def test_einsum(spec, shapes_):
    rng = np.random.default_rng(len(spec))
    arrs = [rng.standard_normal(s) for s in shapes_]
    check(lambda *ts: tg.einsum(spec, *ts), lambda *xs: np.einsum(spec, *xs), *arrs)
    np.testing.assert_allclose(tg.einsum(spec, [Tensor(x) for x in arrs]).data,
                               np.einsum(spec, *arrs))


def test_einsum_errors_name_the_operand():
    with pytest.raises(ValueError, match="operand 1"):
        tg.einsum("ij,jk->ik", Tensor(np.ones((2, 3))), Tensor(np.ones(3)))
    with pytest.raises(ValueError, match="2 operand"):
        tg.einsum("ij,jk->ik", Tensor(np.ones((2, 3))))


@settings(max_examples=EXAMPLES)
@given(arrays((3,)), arrays((2,)))
def test_outer_and_dot(a, b):
    check(tg.outer, np.outer, a, b)
    check(lambda x, y: x.outer(y), np.outer, a, b)
    check(tg.dot, np.dot, a, a[::-1].copy())
    with pytest.raises(ValueError, match="1-D"):
        tg.dot(Tensor(np.ones((2, 2))), Tensor(np.ones(2)))


# ----- dtypes -------------------------------------------------------------------------------


def test_float_casts_are_differentiable_and_the_gradient_comes_back_in_the_input_dtype():
    t = Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    d = t.double()
    assert d.dtype == np.float64 and d.requires_grad
    (d * d).sum().backward()
    assert t.grad.dtype == np.float32
    np.testing.assert_array_equal(t.grad.data, [2.0, 4.0])
    assert t.float() is t
    (g,) = tg.grad((t.double() ** 3).sum(), t, create_graph=True)  # through Cast, 2nd order
    (gg,) = tg.grad(g.sum(), t)
    np.testing.assert_array_equal(gg.data, [6.0, 12.0])


def test_integer_and_bool_casts_leave_the_graph():
    t = Tensor(np.array([1.7, -2.2, 0.0]), requires_grad=True)
    assert t.long().dtype == np.int64 and not t.long().requires_grad
    assert t.int().dtype == np.int32 and t.long().data.tolist() == [1, -2, 0]
    assert t.bool().data.tolist() == [True, True, False]
    assert Tensor(np.array([1, 2])).float().dtype == np.float32
    assert Tensor(np.array([1, 2])).half().dtype == np.float16


# ----- factories ------------------------------------------------------------------------------


def test_tensor_infers_dtypes_as_torch():
    assert tg.tensor([1, 2]).dtype == np.int64
    assert tg.tensor(3).dtype == np.int64
    assert tg.tensor([1.0, 2]).dtype == np.float32
    assert tg.tensor(2.5).dtype == np.float32
    assert tg.tensor([True, False]).dtype == np.bool_
    assert tg.tensor(np.zeros(2, np.float64)).dtype == np.float64
    assert tg.tensor(np.zeros(2, np.int32)).dtype == np.int32
    assert tg.tensor([1, 2], dtype=np.float64).dtype == np.float64
    t = tg.tensor([1.0], requires_grad=True)
    assert t.requires_grad and t.is_leaf
    assert tg.tensor([2.0], True).requires_grad  # API.md's order: (data, requires_grad, dtype)
    with pytest.raises(TypeError, match="floating-point"):
        tg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="str"):
        tg.tensor("abc")


def test_tensor_copies_from_numpy_and_as_tensor_share():
    a = np.zeros(3)
    copied, shared, as_t = tg.tensor(a), tg.from_numpy(a), tg.as_tensor(a)
    a[0] = 7.0
    assert copied.data[0] == 0.0
    assert shared.data[0] == 7.0 and as_t.data[0] == 7.0
    assert tg.as_tensor([1, 2]).dtype == np.int64
    with pytest.raises(TypeError, match="ndarray"):
        tg.from_numpy([1.0])


@pytest.mark.parametrize(("fn", "value"), [(tg.zeros, 0.0), (tg.ones, 1.0), (tg.empty, None)])
def test_zeros_ones_empty_take_sizes_or_a_tuple(fn, value):
    for t in (fn(2, 3), fn((2, 3)), fn([2, 3])):
        assert t.shape == (2, 3) and t.dtype == np.float32 and not t.requires_grad
        if value is not None:
            assert np.all(t.data == value)
    t = fn(2, dtype=np.float64, requires_grad=True)
    assert t.dtype == np.float64 and t.requires_grad
    assert fn(()).shape == ()
    with pytest.raises(ValueError, match="shape"):
        fn(-1)


def test_full_and_like_factories():
    assert tg.full((2,), 7).dtype == np.int64 and tg.full((2,), 7).data.tolist() == [7, 7]
    assert tg.full((1, 2), 0.5).dtype == np.float32
    x = Tensor(np.ones((2, 3), np.float64))
    for t in (tg.zeros_like(x), tg.ones_like(x), tg.full_like(x, 3.0), tg.empty_like(x),
              tg.rand_like(x), tg.randn_like(x)):
        assert t.shape == (2, 3) and t.dtype == np.float64
    assert tg.ones_like(x).data.sum() == 6 and tg.full_like(x, 3.0).data.max() == 3.0
    assert tg.zeros_like(np.ones(2, np.int64)).dtype == np.int64


def test_random_factories_are_seeded():
    a, b = tg.rand(3, 2, seed=5), tg.rand((3, 2), seed=5)
    np.testing.assert_array_equal(a.data, b.data)
    assert a.dtype == np.float32 and 0 <= a.data.min() and a.data.max() < 1
    g1, g2 = np.random.default_rng(1), np.random.default_rng(1)
    np.testing.assert_array_equal(tg.randn(4, generator=g1).data, tg.randn(4, generator=g2).data)
    assert not np.array_equal(tg.randn(50, seed=1).data, tg.randn(50, seed=2).data)
    tg.manual_seed(3)
    first = tg.randn(5).data
    tg.manual_seed(3)
    np.testing.assert_array_equal(tg.randn(5).data, first)
    with pytest.raises(ValueError, match="not both"):
        tg.rand(2, seed=1, generator=g1)
    with pytest.raises(TypeError, match="floating"):
        tg.rand(2, dtype=np.int64)


def test_arange_linspace_eye():
    assert tg.arange(4).data.tolist() == [0, 1, 2, 3] and tg.arange(4).dtype == np.int64
    assert tg.arange(1, 7, 2).data.tolist() == [1, 3, 5]
    assert tg.arange(0, 1, 0.25).dtype == np.float32
    assert tg.arange(0.0, 3).data.tolist() == [0.0, 1.0, 2.0]
    np.testing.assert_allclose(tg.linspace(-1, 1, 5).data, np.linspace(-1, 1, 5))
    np.testing.assert_array_equal(tg.eye(3).data, np.eye(3))
    assert tg.eye(2, 3).shape == (2, 3)
    with pytest.raises(ValueError, match="step"):
        tg.arange(0, 3, 0)


# ----- the functional forms -------------------------------------------------------------------


def test_every_method_has_a_module_level_function_taking_arrays():
    a = np.linspace(0.1, 0.9, 6).reshape(2, 3)
    for name in ("sin", "cos", "tan", "log2", "log1p", "exp2", "expm1", "rsqrt", "reciprocal",
                 "square", "sign", "floor", "ceil", "round", "trunc", "clone", "prod", "cumsum",
                 "cumprod", "var", "std", "logsumexp", "norm", "all", "any", "amax", "amin",
                 "squeeze", "flip", "tril", "triu"):
        np.testing.assert_array_equal(getattr(tg, name)(a).data, getattr(Tensor(a), name)().data)
    assert tg.unsqueeze(a, 0).shape == (1, 2, 3) and tg.permute(a, 1, 0).shape == (3, 2)
    assert tg.clamp(a, min=0.5).data.min() == 0.5
    assert len(tg.split(a, 1, 1)) == 3 and len(tg.chunk(a, 2)) == 2 and len(tg.unbind(a)) == 2
    assert tg.narrow(a, 1, 0, 2).shape == (2, 2) and tg.tile(a, 2).shape == (2, 6)
    assert tg.roll(a, 1, 0).shape == (2, 3) and tg.pad(a, 1).shape == (4, 5)
    assert tg.unflatten(a, 1, (3, 1)).shape == (2, 3, 1)


# ----- torch's and tinygrad's spellings -------------------------------------------------------


def test_keyword_forms_of_torch_and_tinygrad():
    a = np.arange(1.0, 7.0).reshape(2, 3)
    t = Tensor(a, requires_grad=True)
    idx = np.array([[2], [0]])
    np.testing.assert_array_equal(t.gather(dim=1, index=idx).data, np.take_along_axis(a, idx, 1))
    assert t.index_select(dim=0, index=[1]).shape == (1, 3)
    assert t.narrow(dim=1, start=1, length=2).shape == (2, 2)
    assert t.unflatten(dim=1, sizes=(3, 1)).shape == (2, 3, 1)
    np.testing.assert_array_equal(t.flip(axis=1).data, a[:, ::-1])
    np.testing.assert_array_equal(t.flip(0, 1).data, a[::-1, ::-1])
    assert tg.cat([t, t], dim=1).shape == (2, 6) and tg.stack([t, t], dim=-1).shape == (2, 3, 2)
    assert t.cat(t, t, dim=0).shape == (6, 3) and t.stack(t, axis=1).shape == (2, 2, 3)
    np.testing.assert_array_equal(t.scatter_add(dim=1, index=idx, src=np.ones((2, 1))).data,
                                  a + [[0, 0, 1], [1, 0, 0]])
    np.testing.assert_array_equal(
        t.index_add(dim=0, index=[0], source=np.ones((1, 3))).data, a + [[1, 1, 1], [0, 0, 0]])
    with pytest.raises(TypeError, match="shift"):
        t.roll(dims=0)


def test_masked_fill_passes_the_gradient_where_not_filled():
    a = np.array([[1.0, -2.0], [3.0, -4.0]])
    check(lambda t: t.masked_fill(a < 0, 0.5) * t, lambda x: np.where(a < 0, 0.5, x) * x, a)


def test_factories_as_tensor_static_methods_and_integer_tensors_as_indices():
    assert Tensor.zeros(2, 3).shape == (2, 3) and Tensor.ones((2,)).data.tolist() == [1.0, 1.0]
    assert Tensor.arange(3).data.tolist() == [0, 1, 2] and Tensor.eye(2).shape == (2, 2)
    assert Tensor.full((2,), 4).dtype == np.int64 and Tensor.empty(3).shape == (3,)
    assert Tensor.rand(2, seed=0).shape == (2,) and Tensor.randn(2, 2, seed=0).shape == (2, 2)
    assert Tensor.linspace(0, 1, 3).data.tolist() == [0.0, 0.5, 1.0]
    x = Tensor(np.arange(5.0), requires_grad=True)
    x[tg.tensor([0, 2, 2])].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.0, 2.0, 0.0, 0.0])


def test_torch_dtype_names_and_to():
    assert tg.float32 is np.float32 and tg.long is np.int64 and tg.double is np.float64
    assert tg.zeros(2, dtype=tg.int64).dtype == np.int64
    t = tg.tensor([1.0, 2.0], requires_grad=True)
    assert t.to("cpu") is t and t.to(tg.float32) is t
    d = t.to(tg.float64)
    assert d.dtype == np.float64 and d.requires_grad
    d.sum().backward()
    assert t.grad.dtype == np.float32
    assert t.to(tg.long).dtype == np.int64 and not t.to(tg.long).requires_grad


def test_einsum_jvp_with_a_missing_tangent_treats_it_as_zero():
    from tinygrad_mlp.function import Context
    from tinygrad_mlp.ops import Einsum

    rng = np.random.default_rng(0)
    a, b, v = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), rng.standard_normal((2, 3))
    ctx = Context(Einsum)
    ctx.result = Einsum.forward(ctx, a, b, subscripts="ij,jk->ik")
    ctx.primals = (a, b)
    np.testing.assert_allclose(Einsum.jvp(ctx, v, None), v @ b, rtol=1e-12)
    np.testing.assert_allclose(Einsum.jvp(ctx, None, b), a @ b, rtol=1e-12)


def test_functional_transpose_takes_numpy_and_torch_forms():
    a = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(tg.transpose(a).data, a.T)
    np.testing.assert_array_equal(tg.transpose(a, (1, 0, 2)).data, a.transpose(1, 0, 2))
    np.testing.assert_array_equal(tg.transpose(a, 0, 2).data, np.swapaxes(a, 0, 2))
    np.testing.assert_array_equal(tg.swapaxes(a, -1, 0).data, np.swapaxes(a, -1, 0))
    with pytest.raises(ValueError, match="permutation"):  # a tuple is a permutation, as numpy
        Tensor(a).transpose((0, 2))
