"""Properties that catch whole classes of bugs, over every op in one table (issue 10).

Each class of bug that other projects' test suites found once gets a property here that is
run over every op it applies to, so the next op cannot repeat it:

* axes: negative and positive, int and tuple, wherever an op takes an axis (transpose,
  reductions, softmax, cat/stack, ...), and axis 0 / -1 on 0-d tensors (as PyTorch);
* dtypes: integer (beyond 2**24, where float32 rounds) and bool inputs give numpy's exact
  result for ops where numpy is exact;
* memory layouts: user arrays in Fortran order, transposed, strided or broadcast views
  give numpy's values and are never written to; views made by ops (transpose, strided
  slicing, broadcast_to) as inputs give right values and gradients;
* gradients: ``tg.gradcheck`` (full Jacobian, float64) at random shapes, values and axes,
  and the forward-mode Jacobian (``jvp`` rules) at the same draws;
* losses that take probabilities accept soft, unnormalised targets (torch's -Σ t·log p);
* custom Functions can read ``ctx.needs_input_grad`` inside forward.

**Adding an op: add one line to ``OPS``** — ``Op(name, fn, ref, ...)`` with ``fn`` the op
on Tensors, ``ref`` its numpy reference, and which arguments apply (``arity``, an
``options`` drawer for axis arguments such as ``reduce_axes``, a value ``domain``,
``ints`` if numpy's result on integers is exact, ``kinks`` or ``ties`` to keep the
gradient check away from points where the op is not differentiable). Every property
below then runs on it. A loss taking probabilities: one line in ``PROB_LOSSES``. A failure
whose fix is on its way: an entry in ``KNOWN`` (an xfail), removed once it passes.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp import Tensor
from tinygrad_mlp.testing import strategies as tst

# ----- option drawers: the axis arguments an op takes, for a given input ndim ---------------

Options = Callable[[int], st.SearchStrategy]


def no_options(ndim: int) -> st.SearchStrategy:
    return st.just({})


def reduce_axes(ndim: int) -> st.SearchStrategy:
    """axis=None, an int or a tuple (negatives included; 0/-1 for 0-d), and keepdims."""
    return st.fixed_dictionaries({"axis": tst.valid_axes(ndim), "keepdims": st.booleans()})


def one_axis(ndim: int) -> st.SearchStrategy:
    """A single int axis in [-ndim, ndim) (0 or -1 for a 0-d input)."""
    return st.fixed_dictionaries(
        {"axis": tst.valid_axes(ndim, allow_none=False, allow_tuple=False)})


def new_axis(ndim: int) -> st.SearchStrategy:
    """An axis of the result, which has one more dimension (stack)."""
    return st.fixed_dictionaries({"axis": st.integers(-ndim - 1, ndim)})


def permutation(ndim: int) -> st.SearchStrategy:
    return st.fixed_dictionaries({"axes": tst.permutations(ndim)})


def axis_pair(ndim: int) -> st.SearchStrategy:
    axis = st.integers(-ndim, ndim - 1) if ndim else st.sampled_from([0, -1])
    return st.fixed_dictionaries({"axis1": axis, "axis2": axis})


# ----- the table -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Op:
    """One op: how to call it, its numpy reference, and which properties apply."""

    name: str
    fn: Callable[..., Tensor]  # (*tensors, **options) -> Tensor
    ref: Callable[..., np.ndarray]  # (*arrays, **options) -> array
    arity: int = 1  # tensor inputs; with 2+ they broadcast (or share a shape: same_shape)
    options: Options = no_options
    domain: tuple[float, float] = (-3.0, 3.0)
    ints: bool = False  # numpy's result on int/bool inputs is exact: so must ours be
    grad: bool = True  # differentiable (False: only values are checked)
    kinks: tuple[float, ...] = ()  # input values where the derivative jumps
    ties: bool = False  # equal input values are kinks (max, min, maximum)
    same_shape: bool = False  # inputs share one shape (cat, stack) instead of broadcasting
    min_dims: int = 0
    scalar_axis: bool = False  # a 0-d input takes axis 0/-1 as torch (as a 1-element vector)


OPS = [
    # elementwise
    Op("neg", lambda x: -x, np.negative, ints=True),
    Op("exp", tg.exp, np.exp),
    Op("log", tg.log, np.log, domain=(0.2, 5.0)),
    Op("sqrt", tg.sqrt, np.sqrt, domain=(0.2, 5.0)),
    Op("abs", tg.abs, np.abs, ints=True, kinks=(0.0,)),
    Op("sigmoid", tg.sigmoid, lambda a: 1 / (1 + np.exp(-a))),
    Op("tanh", tg.tanh, np.tanh),
    Op("relu", tg.relu, lambda a: np.maximum(a, 0), kinks=(0.0,)),
    Op("clip", lambda x: tg.clip(x, -1.0, 0.5), lambda a: np.clip(a, -1.0, 0.5),
       kinks=(-1.0, 0.5)),
    # binary, broadcasting
    Op("add", tg.add, np.add, arity=2, ints=True),
    Op("sub", tg.sub, np.subtract, arity=2, ints=True),
    Op("mul", tg.mul, np.multiply, arity=2, ints=True),
    Op("div", tg.div, np.divide, arity=2, domain=(0.5, 3.0)),
    Op("pow", tg.pow, np.power, arity=2, domain=(0.5, 2.0)),
    Op("maximum", tg.maximum, np.maximum, arity=2, ties=True),
    Op("minimum", tg.minimum, np.minimum, arity=2, ties=True),
    Op("where", lambda a, b: tg.where(a.data > 0, a, b), lambda a, b: np.where(a > 0, a, b),
       arity=2, kinks=(0.0,)),
    # reductions: axis None / int / tuple, negative, keepdims; 0-d with axis 0 / -1
    Op("sum", lambda x, **o: x.sum(**o), np.sum, options=reduce_axes, ints=True,
       scalar_axis=True),
    Op("mean", lambda x, **o: x.mean(**o), np.mean, options=reduce_axes, scalar_axis=True),
    Op("max", lambda x, **o: x.max(**o), np.max, options=reduce_axes, ints=True, ties=True,
       scalar_axis=True),
    Op("min", lambda x, **o: x.min(**o), np.min, options=reduce_axes, ints=True, ties=True,
       scalar_axis=True),
    Op("argmax", lambda x, axis: x.argmax(axis), lambda a, axis: np.argmax(a, axis),
       options=one_axis, ints=True, grad=False, min_dims=1),
    Op("softmax", lambda x, axis: x.softmax(axis),
       lambda a, axis: np.exp(a - a.max(axis, keepdims=True))
       / np.exp(a - a.max(axis, keepdims=True)).sum(axis, keepdims=True),
       options=one_axis, scalar_axis=True),
    Op("log_softmax", lambda x, axis: x.log_softmax(axis),
       lambda a, axis: a - a.max(axis, keepdims=True)
       - np.log(np.exp(a - a.max(axis, keepdims=True)).sum(axis, keepdims=True)),
       options=one_axis, scalar_axis=True),
    # shape: permutations and axis pairs with negative numbers, cat / stack
    Op("transpose", lambda x, axes: x.transpose(axes), np.transpose, options=permutation,
       ints=True),
    Op("swapaxes", lambda x, axis1, axis2: x.swapaxes(axis1, axis2), np.swapaxes, options=axis_pair,
       ints=True, min_dims=1),
    Op("reshape", lambda x: x.reshape(-1), lambda a: a.reshape(-1), ints=True),
    Op("flatten", lambda x: x.flatten(), lambda a: a.reshape(-1), ints=True),
    Op("getitem", lambda x: x[..., ::-1], lambda a: a[..., ::-1], ints=True, min_dims=1),
    Op("cat", lambda a, b, axis: tg.cat([a, b], axis), lambda a, b, axis: np.concatenate(
        [a, b], axis), arity=2, options=one_axis, ints=True, same_shape=True, min_dims=1),
    Op("stack", lambda a, b, axis: tg.stack([a, b], axis), lambda a, b, axis: np.stack(
        [a, b], axis), arity=2, options=new_axis, ints=True, same_shape=True),
    # linear algebra
    Op("matmul", tg.matmul, np.matmul, arity=2, ints=True, min_dims=2),
    # ----- the PyTorch surface (issue 12), one line per op ---------------------------------
    Op("sin", tg.sin, np.sin),
    Op("cos", tg.cos, np.cos),
    Op("tan", tg.tan, np.tan, domain=(-1.2, 1.2)),
    Op("log2", tg.log2, np.log2, domain=(0.2, 5.0)),
    Op("log1p", tg.log1p, np.log1p, domain=(-0.7, 5.0)),
    Op("exp2", tg.exp2, np.exp2),
    Op("expm1", tg.expm1, np.expm1),
    Op("rsqrt", tg.rsqrt, lambda a: 1 / np.sqrt(a), domain=(0.2, 5.0)),
    Op("reciprocal", tg.reciprocal, np.reciprocal, domain=(0.3, 5.0)),
    Op("square", tg.square, np.square),
    Op("sign", tg.sign, np.sign, kinks=(0.0,)),
    Op("floor", tg.floor, np.floor, ints=True, kinks=tuple(float(k) for k in range(-3, 4))),
    Op("ceil", tg.ceil, np.ceil, ints=True, kinks=tuple(float(k) for k in range(-3, 4))),
    Op("trunc", tg.trunc, np.trunc, ints=True, kinks=tuple(float(k) for k in range(-3, 4))),
    Op("round", tg.round, np.round, ints=True, kinks=tuple(k + 0.5 for k in range(-4, 3))),
    Op("clone", tg.clone, np.copy, ints=True),
    Op("prod", lambda x, **o: x.prod(**o), np.prod, options=reduce_axes, ints=True,
       scalar_axis=True),
    Op("var", lambda x, **o: x.var(correction=0, **o), np.var, options=reduce_axes,
       scalar_axis=True),
    Op("logsumexp", lambda x, **o: x.logsumexp(**o), lambda a, axis=None, keepdims=False:
       np.log(np.sum(np.exp(a), axis=axis, keepdims=keepdims)), options=reduce_axes,
       scalar_axis=True),
    Op("norm", lambda x, **o: x.norm(2, **o), lambda a, **o: np.sqrt(np.sum(a * a, **o)),
       options=reduce_axes, scalar_axis=True, kinks=(0.0,)),
    Op("amax", lambda x, **o: x.amax(**o), np.max, options=reduce_axes, ints=True, ties=True,
       scalar_axis=True),
    Op("amin", lambda x, **o: x.amin(**o), np.min, options=reduce_axes, ints=True, ties=True,
       scalar_axis=True),
    Op("all", lambda x, **o: x.all(**o).double(), lambda a, **o: np.all(a, **o).astype(float),
       options=reduce_axes, ints=True, grad=False, scalar_axis=True),
    Op("any", lambda x, **o: x.any(**o).double(), lambda a, **o: np.any(a, **o).astype(float),
       options=reduce_axes, ints=True, grad=False, scalar_axis=True),
    Op("argmin", lambda x, axis: x.argmin(axis), lambda a, axis: np.argmin(a, axis),
       options=one_axis, ints=True, grad=False, min_dims=1),
    Op("cumsum", lambda x, axis: x.cumsum(axis), np.cumsum, options=one_axis, ints=True,
       scalar_axis=True),
    Op("cumprod", lambda x, axis: x.cumprod(axis), np.cumprod, options=one_axis, ints=True,
       scalar_axis=True),
    Op("squeeze", lambda x, axis: x.squeeze(axis), lambda a, axis: np.squeeze(a, axis)
       if a.shape[axis] == 1 else a, options=one_axis, ints=True, scalar_axis=True),
    Op("unsqueeze", lambda x, axis: x.unsqueeze(axis), np.expand_dims, options=new_axis,
       ints=True),
    Op("flatten_from", lambda x, axis: x.flatten(axis), lambda a, axis: a.reshape(
        a.shape[:axis % a.ndim] + (-1,)), options=one_axis, ints=True, min_dims=1),
    Op("flip", lambda x, axis: x.flip(axis), np.flip, options=one_axis, ints=True,
       scalar_axis=True),
    Op("roll", lambda x, axis: x.roll(1, axis), lambda a, axis: np.roll(a, 1, axis),
       options=one_axis, ints=True, scalar_axis=True),
    Op("narrow", lambda x, axis: x.narrow(axis, 0, 1), lambda a, axis: np.take(a, [0], axis),
       options=one_axis, ints=True, min_dims=1),
    Op("split", lambda x, axis: x.split(1, axis)[-1], lambda a, axis: np.take(a, [-1], axis),
       options=one_axis, ints=True, min_dims=1),
    Op("unbind", lambda x, axis: x.unbind(axis)[-1], lambda a, axis: np.take(a, -1, axis),
       options=one_axis, ints=True, min_dims=1),
    Op("pad", lambda x: x.pad(1, 0.5), lambda a: np.pad(a, 1, constant_values=0.5)),
    Op("tile", lambda x: x.tile((2, 1)), lambda a: np.tile(a, (2, 1)), ints=True),
    Op("expand", lambda x: x.expand(2, *[-1] * x.ndim), lambda a: np.broadcast_to(
        a, (2,) + a.shape), ints=True),
    Op("permute", lambda x, axes: x.permute(*axes), np.transpose, options=permutation,
       ints=True),
    Op("tril", lambda x: x.tril(), np.tril, ints=True, min_dims=2),
    Op("triu", lambda x: x.triu(1), lambda a: np.triu(a, 1), ints=True, min_dims=2),
    Op("hstack", lambda a, b: tg.hstack([a, b]), lambda a, b: np.hstack([a, b]), arity=2,
       ints=True, same_shape=True),
    Op("vstack", lambda a, b: tg.vstack([a, b]), lambda a, b: np.vstack([a, b]), arity=2,
       ints=True, same_shape=True),
    Op("gather", lambda x, axis: x.gather(axis, np.indices(x.shape)[axis % x.ndim] // 2),
       lambda a, axis: np.take_along_axis(a, np.indices(a.shape)[axis % a.ndim] // 2, axis),
       options=one_axis, ints=True, min_dims=1),
    Op("index_select", lambda x, axis: x.index_select(axis, [0, 0]), lambda a, axis: np.take(
        a, [0, 0], axis), options=one_axis, ints=True, min_dims=1),
    Op("scatter_add", lambda x, axis: x.scatter_add(axis, np.flip(np.indices(x.shape)[
        axis % x.ndim], axis), x), lambda a, axis: a + np.flip(a, axis), options=one_axis,
       ints=True, min_dims=1),
    Op("index_add", lambda x, axis: x.index_add(axis, np.arange(x.shape[axis])[::-1], x),
       lambda a, axis: a + np.flip(a, axis), options=one_axis, ints=True, min_dims=1),
    Op("einsum", lambda a, b: tg.einsum("...,...->...", a, b), np.multiply, arity=2,
       ints=True),
    Op("outer", lambda a, b: tg.outer(a.reshape(-1), b.reshape(-1)), lambda a, b: np.outer(
        a, b), arity=2, ints=True),
]

EXAMPLES = max(10, settings().max_examples // 4)  # ~80 ops x 7 properties: keep it quick

#: Failures known while other fixes of issue 10 are being landed: {(property, op): reason}.
#: Remove an entry as soon as its test passes.
KNOWN: dict[tuple[str, str], str] = {}  # (property, op) -> why it still fails: none now


def rows(prop: str, keep: Callable[[Op], bool] = lambda op: True) -> list:
    """The table's ops for one property, each marked xfail while listed in KNOWN."""
    out = []
    for op in filter(keep, OPS):
        reason = KNOWN.get((prop, op.name))
        marks = [pytest.mark.xfail(strict=False, reason=reason)] if reason else []
        out.append(pytest.param(op, id=op.name, marks=marks))
    return out


# ----- drawing inputs for a row ---------------------------------------------------------------


def draw_shapes(data: Any, op: Op) -> list[tuple[int, ...]]:
    """Input shapes for ``op``: one shape, shared, broadcasting, or matmul-compatible."""
    if op.name == "matmul":
        n, k, m = (data.draw(st.integers(1, 3)) for _ in range(3))
        batch = data.draw(st.sampled_from([(), (2,)]))
        return [batch + (n, k), (k, m)]
    if op.arity == 1 or op.same_shape:
        shape = data.draw(tst.shapes(min_dims=op.min_dims, max_dims=3, max_side=3))
        return [shape] * op.arity
    return list(data.draw(tst.broadcastable_shapes(op.arity, min_dims=op.min_dims,
                                                   max_dims=3, max_side=3)))


def smooth(a: np.ndarray, op: Op) -> np.ndarray:
    """``a`` moved away from the op's kinks (and ties made distinct), so finite
    differences see one side only."""
    a = np.array(a, dtype=np.float64)
    for k in op.kinks:
        a = np.where(np.abs(a - k) < 0.05, k + 0.3, a)
    if op.ties and a.size:  # distinct values at least 0.1 apart, in the input's order
        ranks = np.argsort(np.argsort(a, axis=None, kind="stable"), kind="stable")
        a = (op.domain[0] + 0.1 * ranks).reshape(a.shape)
    return a


def reference(op: Op, arrays: list[np.ndarray], options: dict) -> np.ndarray:
    """numpy's answer; for a 0-d input with an axis, torch's: the input as a 1-element
    vector, reduced or normalised along its axis, given back as 0-d."""
    if op.scalar_axis and arrays[0].ndim == 0 and options.get("axis") is not None:
        return np.asarray(op.ref(*(a.reshape(1) for a in arrays), **options)).reshape(())
    return np.asarray(op.ref(*arrays, **options))


def draw_case(data: Any, op: Op) -> tuple[list[np.ndarray], dict]:
    """C-contiguous float64 inputs (away from kinks) and options, for gradient checks."""
    shapes = draw_shapes(data, op)
    arrays = [smooth(data.draw(tst.arrays(s, min_value=op.domain[0],
                                          max_value=op.domain[1])), op) for s in shapes]
    return arrays, data.draw(op.options(len(shapes[0])))


def assert_close(actual: Tensor, expected: np.ndarray, what: str) -> None:
    assert isinstance(actual, Tensor), f"{what}: returned {type(actual).__name__}, not Tensor"
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual.data, expected, rtol=1e-10, atol=1e-12, err_msg=what)


# ----- the properties ---------------------------------------------------------------------------


@pytest.mark.parametrize("op", rows("values"))
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_values_in_every_layout_match_numpy_and_inputs_stay_untouched(op, data):
    """Values with random axes (negative included) for inputs of every memory layout
    (Fortran, transposed, strided, broadcast views), against numpy."""
    shapes = draw_shapes(data, op)
    arrays = [data.draw(tst.arrays(s, min_value=op.domain[0], max_value=op.domain[1],
                                   layout=None)) for s in shapes]
    options = data.draw(op.options(len(shapes[0])))
    before = [a.copy() for a in arrays]
    tensors = [Tensor(a, requires_grad=op.grad) for a in arrays]
    out = op.fn(*tensors, **options)
    assert_close(out, reference(op, before, options), f"{op.name}{options}")
    if op.grad:
        out.backward(np.ones(out.shape))
    for a, b in zip(arrays, before, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=f"{op.name} wrote into its input")


@pytest.mark.parametrize("op", rows("gradcheck", lambda op: op.grad))
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_gradients_pass_gradcheck_at_random_shapes_values_and_axes(op, data):
    arrays, options = draw_case(data, op)
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    assert tg.gradcheck(lambda *ts: op.fn(*ts, **options), tensors)


HAS_FORWARD_MODE = importlib.util.find_spec("tinygrad_mlp.func") is not None


@pytest.mark.skipif(not HAS_FORWARD_MODE, reason="forward mode (tinygrad_mlp.func) missing")
@pytest.mark.parametrize("op", rows("forward", lambda op: op.grad))
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_forward_mode_jacobian_matches_finite_differences(op, data):
    """Every op's jvp rule (issue 13) at the same random shapes, values and axes (one
    random direction per input: on a failure, rerun the example without fast_mode)."""
    arrays, options = draw_case(data, op)
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    assert tg.gradcheck(lambda *ts: op.fn(*ts, **options), tensors, check_forward_ad=True,
                        check_backward_ad=False, fast_mode=True)


class PlantedFactor(tg.Function):
    """Planted bug: the identity, whose backward scales output element ``index`` by 1.5."""

    @staticmethod
    def forward(ctx, y, index=()):
        ctx.index = index
        return y.copy()

    @staticmethod
    def backward(ctx, g):
        scale = np.ones(g.shape)
        scale[ctx.index] = 1.5
        return g * scale


@pytest.mark.parametrize("op", rows("planted", lambda op: op.grad))
@settings(max_examples=max(5, EXAMPLES // 2))
@given(data=st.data())
def test_gradcheck_names_a_bug_planted_after_any_op(op, data):
    """Row j of the Jacobian made 1.5x too big: the report must name output element j
    and give analytical = 1.5 x numerical (or pass, when that row is zero)."""
    arrays, options = draw_case(data, op)
    tensors = [Tensor(a, requires_grad=True) for a in arrays]
    y = op.fn(*tensors, **options)
    if y.size == 0:
        return
    index = tuple(int(i) for i in np.unravel_index(data.draw(st.integers(0, y.size - 1)),
                                                   y.shape))

    def planted(*ts: Tensor) -> Tensor:
        return PlantedFactor.apply(op.fn(*ts, **options), index=index)

    try:
        tg.gradcheck(planted, tensors)
    except tg.GradcheckError as e:
        m = re.search(rf"output 0 \(shape {re.escape(str(y.shape))}\), element \(([\d, ]*)\): "
                      r"analytical (\S+), numerical (\S+) ", str(e))
        assert m, str(e)
        assert tuple(int(i) for i in m[1].replace(" ", "").split(",") if i) == index
        assert float(m[2].rstrip(",")) == pytest.approx(1.5 * float(m[3]), rel=1e-4)
    else:  # only right if row `index` of the Jacobian is (within tolerance) zero
        def at(i: int, k: tuple, h: float) -> float:
            moved = [Tensor(u.data.copy()) for u in tensors]
            moved[i].data[k] += h
            return float(op.fn(*moved, **options).data[index])

        for i, t in enumerate(tensors):
            for k in np.ndindex(t.shape):
                derivative = (at(i, k, 1e-6) - at(i, k, -1e-6)) / 2e-6
                assert abs(derivative) < 3e-5, f"{op.name}: gradcheck missed a planted bug"


def signed(options: dict, n: int, negative: bool) -> dict:
    """``options`` with every axis written as its negative (or positive) number, for an
    array of ``n`` axes (at least 1: a 0-d tensor's axis is 0 or -1)."""
    n = max(n, 1)

    def one(a: Any) -> Any:
        if isinstance(a, tuple):
            return tuple(one(b) for b in a)
        return a if a is None else a % n - n * negative

    return {k: one(v) if k.startswith("axis") else v for k, v in options.items()}


@pytest.mark.parametrize("op", rows("negative", lambda op: op.options is not no_options))
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_negative_axes_mean_the_same_as_positive_ones(op, data):
    """Every example writes the same axes both ways: values and gradients must agree, and
    the negative spelling passes gradcheck (issue 10, bug 1: transpose((-1, 0)))."""
    arrays, options = draw_case(data, op)
    n = arrays[0].ndim + (op.options is new_axis)

    def run(opts: dict) -> tuple[np.ndarray, list]:
        ts = [Tensor(a, requires_grad=op.grad) for a in arrays]
        out = op.fn(*ts, **opts)
        if op.grad:
            out.backward(np.linspace(-1.0, 2.0, out.size).reshape(out.shape))
        return out.data, [t.grad.data for t in ts if t.grad is not None]

    positive, negative = signed(options, n, False), signed(options, n, True)
    (v1, g1), (v2, g2) = run(positive), run(negative)
    np.testing.assert_array_equal(v2, v1, err_msg=f"{op.name}: {negative} vs {positive}")
    for a, b in zip(g2, g1, strict=True):
        np.testing.assert_array_equal(a, b, err_msg=f"{op.name}: {negative} vs {positive}")
    if op.grad:
        ts = [Tensor(a, requires_grad=True) for a in arrays]
        assert tg.gradcheck(lambda *xs: op.fn(*xs, **negative), ts)


def draw_view(data: Any, shape: tuple[int, ...], op: Op, layout: str):
    """A leaf array and a function making, from its Tensor, a ``shape`` view in ``layout``
    through ops (transpose, strided slicing, broadcast_to): the op under test then reads
    non-contiguous data and its gradient flows back through the view to the leaf."""
    ndim = len(shape)

    def values(s: tuple[int, ...]) -> np.ndarray:
        return smooth(data.draw(tst.arrays(s, min_value=op.domain[0],
                                           max_value=op.domain[1])), op)

    if layout == "F" or (layout == "transposed" and ndim < 2):  # all axes reversed
        return np.array(values(shape).T, order="C"), lambda t: t.transpose()
    if layout == "transposed":  # the last two axes swapped
        return np.ascontiguousarray(np.swapaxes(values(shape), -1, -2)), \
            lambda t: t.swapaxes(-1, -2)
    if layout == "strided":  # every second element of a bigger buffer
        every_other = (slice(None, None, 2),) * ndim
        buffer = np.zeros(tuple(2 * n for n in shape))
        buffer[every_other] = values(shape)
        return buffer, (lambda t: t[every_other]) if ndim else (lambda t: t)
    small = tuple(data.draw(st.sampled_from([1, n])) for n in shape)  # broadcast
    return values(small), lambda t: t.broadcast_to(shape)


@pytest.mark.parametrize("op", rows("layouts", lambda op: op.grad))
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_non_contiguous_views_give_right_values_and_gradients(op, data):
    """Each input is a Fortran-order, transposed, strided or broadcast *view* made by ops
    (read-only for broadcast): values match numpy, and gradcheck passes for the whole
    chain from the leaves, so the op's backward is right on non-contiguous data."""
    shapes = draw_shapes(data, op)
    options = data.draw(op.options(len(shapes[0])))
    layouts = [data.draw(tst.layouts()) for _ in shapes]
    views = [draw_view(data, s, op, how) if how != "C" else (None, None)
             for s, how in zip(shapes, layouts, strict=True)]
    leaves = [leaf if leaf is not None else smooth(data.draw(tst.arrays(
        s, min_value=op.domain[0], max_value=op.domain[1])), op)
        for (leaf, _), s in zip(views, shapes, strict=True)]
    makers = [make or (lambda t: t) for _, make in views]

    def fn(*ts: Tensor) -> Tensor:
        return op.fn(*(make(t) for make, t in zip(makers, ts, strict=True)), **options)

    inputs = [make(Tensor(leaf)).data for make, leaf in zip(makers, leaves, strict=True)]
    assert [a.shape for a in inputs] == list(shapes)
    assert_close(fn(*(Tensor(leaf) for leaf in leaves)), reference(op, inputs, options),
                 f"{op.name}{options} on {layouts}")
    assert tg.gradcheck(fn, [Tensor(leaf, requires_grad=True) for leaf in leaves])


@pytest.mark.parametrize("op", rows("ints", lambda op: op.ints))
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_integer_and_bool_inputs_give_numpys_exact_result(op, data):
    """Values beyond 2**24 (where float32 rounds: 2**24 + 1 -> 2**24) stay exact."""
    dtype = data.draw(st.sampled_from([np.int64, np.int32, np.bool_]))
    if op.name in ("neg", "sub") and dtype is np.bool_:
        dtype = np.int64  # numpy refuses - on bools, as torch does
    big = 2**40 if dtype is np.int64 else 2**28
    lo, hi = (-big, big) if op.name not in ("mul", "matmul") else (-2**20, 2**20)
    shapes = draw_shapes(data, op)
    arrays = [data.draw(tst.arrays(s, dtype=dtype, min_value=lo, max_value=hi, layout=None))
              for s in shapes]
    options = data.draw(op.options(len(shapes[0])))
    out = op.fn(*(Tensor(a) for a in arrays), **options)
    expected = reference(op, arrays, options)
    assert out.shape == expected.shape
    assert np.array_equal(out.data, expected), (
        f"{op.name}{options} on {dtype.__name__}: {out.data} != {expected}")


def zero_d_rows(prop: str) -> list:
    """(op, axis) for every op that takes an axis on a 0-d tensor: 0, -1 (and tuples)."""
    return [pytest.param(*p.values, axis, id=f"{p.id}-{axis}", marks=p.marks)
            for p in rows(prop, lambda op: op.scalar_axis)
            for axis in ([0, -1, (0,), (-1,)] if p.values[0].options is reduce_axes
                         else [0, -1])]


def zero_d_options(op: Op, axis: Any) -> dict:
    return {"axis": axis, **({"keepdims": False} if op.options is reduce_axes else {})}


@pytest.mark.parametrize("op, axis", zero_d_rows("0-d"))
def test_zero_d_tensor_takes_axis_0_and_minus_1_as_torch(op, axis):
    """``tg.Tensor(2.0).sum(0)`` is 2.0 in torch (a scalar is reduced over its only axis)."""
    x = Tensor(np.float64(0.75), requires_grad=True)
    options = zero_d_options(op, axis)
    out = op.fn(x, **options)
    assert_close(out, reference(op, [np.float64(0.75)], options), f"{op.name}{options}")
    assert tg.gradcheck(lambda t: op.fn(t, **options), [x])
    if op.options is reduce_axes:  # keepdims on a 0-d tensor stays 0-d, as torch
        assert op.fn(x, axis=axis, keepdims=True).shape == ()


@pytest.mark.skipif(not HAS_FORWARD_MODE, reason="forward mode (tinygrad_mlp.func) missing")
@pytest.mark.parametrize("op, axis", zero_d_rows("0-d forward"))
def test_zero_d_tensor_axis_0_and_minus_1_in_forward_mode(op, axis):
    options = zero_d_options(op, axis)
    assert tg.gradcheck(lambda t: op.fn(t, **options), [Tensor(np.float64(0.75),
                        requires_grad=True)], check_forward_ad=True, check_backward_ad=False)


def test_stack_of_0d_tensors_along_0_and_minus_1():
    a, b = Tensor(np.float64(1.0), requires_grad=True), Tensor(np.float64(2.0))
    for axis in (0, -1):
        assert_close(tg.stack([a, b], axis), np.array([1.0, 2.0]), f"stack axis {axis}")


def test_the_reproducers_of_issue_10():
    """The instances the classes above generalise, exactly as reported."""
    x = Tensor(np.ones((2, 3)), requires_grad=True)
    x.transpose((-1, 0)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.ones((2, 3)))
    y = Tensor(np.random.default_rng(0).standard_normal((3, 3, 3)), requires_grad=True)
    assert tg.gradcheck(lambda t: t.transpose((-1, 0, 1)), [y])
    for reduce in ("sum", "mean", "max"):
        assert float(getattr(Tensor(2.0), reduce)(0).data) == 2.0
    assert Tensor(np.array([2**24 + 1])).max().data == 2**24 + 1


# ----- losses that take probabilities: soft, unnormalised targets ------------------------------


def log_softmax_ref(x: np.ndarray) -> np.ndarray:
    z = x - x.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def soft_cross_entropy(x: np.ndarray, q: np.ndarray) -> np.ndarray:
    """torch's definition for probability targets: mean over samples of -Σ_c q·log_softmax
    (rows of q need not sum to 1)."""
    return (-(q * log_softmax_ref(x)).sum(-1)).mean()


@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_cross_entropy_soft_target_gradient_by_hand(data):
    """Issue 10, bug 2: the gradient assumed rows of the target sum to 1. By hand, the
    gradient of mean_n -Σ_c q·log_softmax(x) is ((Σ_c q)·softmax(x) - q) / N."""
    n, c = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 5))
    x = data.draw(tst.arrays((n, c), layout=None))
    q = data.draw(tst.arrays((n, c), min_value=0.0, max_value=3.0, layout=None))
    xt = Tensor(x, requires_grad=True)
    F.cross_entropy(xt, q).backward()
    softmax = np.exp(log_softmax_ref(x))
    np.testing.assert_allclose(xt.grad.data, (q.sum(1, keepdims=True) * softmax - q) / n,
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("variant", ["unbatched", "smoothing", "weight", "module"])
def test_cross_entropy_soft_targets_in_every_code_path(variant):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    q = rng.uniform(0, 2, (3, 4))  # rows sum to anything
    w = rng.uniform(0.5, 2, 4)
    if variant == "unbatched":
        loss = lambda a, b: F.cross_entropy(a, b)  # noqa: E731
        x, q = x[0], q[0]
        expected = soft_cross_entropy(x, q)
    elif variant == "smoothing":
        loss = lambda a, b: F.cross_entropy(a, b, label_smoothing=0.2)  # noqa: E731
        expected = soft_cross_entropy(x, 0.8 * q + 0.2 / 4)
    elif variant == "weight":
        loss = lambda a, b: F.cross_entropy(a, b, weight=w)  # noqa: E731
        expected = soft_cross_entropy(x, q * w)
    else:
        loss = lambda a, b: tg.nn.CrossEntropyLoss()(a, b)  # noqa: E731
        expected = soft_cross_entropy(x, q)
    assert_close(loss(Tensor(x), q), np.asarray(expected), variant)
    assert tg.gradcheck(loss, [Tensor(x, requires_grad=True), Tensor(q, requires_grad=True)])


def test_cross_entropy_soft_targets_match_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(2)
    x, q = rng.standard_normal((3, 5)), rng.uniform(0, 2, (3, 5))
    for kwargs in ({}, {"reduction": "sum"}, {"label_smoothing": 0.1}):
        xt = Tensor(x, requires_grad=True)
        F.cross_entropy(xt, q, **kwargs).backward()
        xr = torch.tensor(x, requires_grad=True)
        ref = torch.nn.functional.cross_entropy(xr, torch.tensor(q), **kwargs)
        ref.backward()
        np.testing.assert_allclose(F.cross_entropy(Tensor(x), q, **kwargs).data,
                                   ref.detach().numpy(), rtol=1e-12, err_msg=str(kwargs))
        np.testing.assert_allclose(xt.grad.data, xr.grad.numpy(), rtol=1e-10, atol=1e-14,
                                   err_msg=str(kwargs))
    x0 = Tensor(np.zeros((1, 3)), requires_grad=True)  # the report's reproducer
    F.cross_entropy(x0, np.array([[1.0, 1.0, 0.0]])).backward()
    np.testing.assert_allclose(x0.grad.data, [[-1 / 3, -1 / 3, 2 / 3]], rtol=1e-12)


@dataclasses.dataclass(frozen=True)
class ProbLoss:
    """A loss whose target is a probability (or a weight of one): soft targets apply."""

    name: str
    fn: Callable[..., Tensor]  # (input, target, reduction=) -> Tensor
    ref: Callable[[np.ndarray, np.ndarray], np.ndarray]  # losses before the reduction
    x_range: tuple[float, float]
    t_range: tuple[float, float]
    torch_name: str  # torch.nn.functional.<torch_name>, the oracle when installed


#: Every loss that takes probabilities. Adding one: one line here.
PROB_LOSSES = [
    ProbLoss("cross_entropy", F.cross_entropy, lambda x, t: -(t * log_softmax_ref(x)).sum(-1),
             (-3, 3), (0, 3), "cross_entropy"),
    ProbLoss("CrossEntropyLoss", lambda x, t, reduction: tg.nn.CrossEntropyLoss(
        reduction=reduction)(x, t), lambda x, t: -(t * log_softmax_ref(x)).sum(-1),
             (-3, 3), (0, 3), "cross_entropy"),
    ProbLoss("binary_cross_entropy", F.binary_cross_entropy,
             lambda p, t: -(t * np.log(p) + (1 - t) * np.log(1 - p)),
             (0.05, 0.95), (0, 1), "binary_cross_entropy"),
    ProbLoss("BCELoss", lambda p, t, reduction: tg.nn.BCELoss(reduction=reduction)(p, t),
             lambda p, t: -(t * np.log(p) + (1 - t) * np.log(1 - p)),
             (0.05, 0.95), (0, 1), "binary_cross_entropy"),
    ProbLoss("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
             lambda x, t: np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))),
             (-3, 3), (0, 1), "binary_cross_entropy_with_logits"),
    ProbLoss("BCEWithLogitsLoss", lambda x, t, reduction: tg.nn.BCEWithLogitsLoss(
        reduction=reduction)(x, t),
             lambda x, t: np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))),
             (-3, 3), (0, 1), "binary_cross_entropy_with_logits"),
    ProbLoss("kl_div", F.kl_div, lambda x, t: t * (np.log(t) - x), (-3, 0), (0.05, 2),
             "kl_div"),
]


@pytest.mark.parametrize("loss", PROB_LOSSES, ids=lambda loss: loss.name)
@settings(max_examples=EXAMPLES)
@given(data=st.data())
def test_probability_losses_take_soft_unnormalised_targets(loss, data):
    """Targets anywhere in their range (rows need not sum to 1, labels need not be 0/1):
    values against the definition, gradients in the input *and* the target by gradcheck."""
    shape = data.draw(tst.shapes(min_dims=2, max_dims=2, min_side=1, max_side=4))
    x = data.draw(tst.arrays(shape, min_value=loss.x_range[0], max_value=loss.x_range[1],
                             layout=None))
    t = data.draw(tst.arrays(shape, min_value=loss.t_range[0], max_value=loss.t_range[1],
                             layout=None))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    losses = loss.ref(x, t)
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    assert_close(loss.fn(Tensor(x), t, reduction=reduction), np.asarray(expected),
                 f"{loss.name}, {reduction}")
    lo, hi = loss.t_range  # strictly inside, so that t ± eps is still a valid target
    inside = lo + (hi - lo) * (0.01 + 0.98 * (t - lo) / (hi - lo))
    assert tg.gradcheck(lambda a, b: loss.fn(a, b, reduction=reduction),
                        [Tensor(x, requires_grad=True), Tensor(inside, requires_grad=True)])


@pytest.mark.parametrize("loss", PROB_LOSSES, ids=lambda loss: loss.name)
@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # torch's kl_div advice
def test_probability_losses_match_torch_on_soft_targets(loss):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x = rng.uniform(*loss.x_range, (3, 4))
    t = rng.uniform(*loss.t_range, (3, 4))
    oracle = getattr(torch.nn.functional, loss.torch_name)
    for reduction in ("mean", "sum", "none"):
        xt, tt = Tensor(x, requires_grad=True), Tensor(t, requires_grad=True)
        out = loss.fn(xt, tt, reduction=reduction)
        g = np.linspace(-1.0, 1.0, out.size).reshape(out.shape)
        out.backward(g)
        xr = torch.tensor(x, requires_grad=True)
        tr = torch.tensor(t, requires_grad=True)
        ref = oracle(xr, tr, reduction=reduction)
        ref.backward(torch.tensor(g))
        what = f"{loss.name}, {reduction}"
        np.testing.assert_allclose(out.data, ref.detach().numpy(), rtol=1e-12, err_msg=what)
        np.testing.assert_allclose(xt.grad.data, xr.grad.numpy(), rtol=1e-10, atol=1e-14,
                                   err_msg=f"{what}: input gradient")
        np.testing.assert_allclose(tt.grad.data, tr.grad.numpy(), rtol=1e-10, atol=1e-14,
                                   err_msg=f"{what}: target gradient")


# ----- custom Functions: ctx.needs_input_grad inside forward ------------------------------------


class ScaledProduct(tg.Function):
    """y = a·b·s; forward saves only what the wanted gradients need, as torch users do."""

    seen: list = []

    @staticmethod
    def forward(ctx, a, b, s=2.0):
        ScaledProduct.seen.append(tuple(ctx.needs_input_grad))
        need_a, need_b = ctx.needs_input_grad[:2]
        ctx.save_for_backward(b if need_a else None, a if need_b else None)
        ctx.s = s
        return a * b * s

    @staticmethod
    def backward(ctx, g):
        b, a = ctx.saved_tensors
        return (g * b * ctx.s if b is not None else None,
                g * a * ctx.s if a is not None else None)


@settings(max_examples=EXAMPLES)
@given(wants=st.tuples(st.booleans(), st.booleans()).filter(any),
       shape=tst.shapes(max_dims=2, max_side=3))
def test_custom_function_reads_needs_input_grad_in_forward(wants, shape):
    """Issue 10, bug 5: it was () inside forward."""
    rng = np.random.default_rng(0)
    a, b = (Tensor(rng.standard_normal(shape), requires_grad=w) for w in wants)
    ScaledProduct.seen.clear()
    out = ScaledProduct.apply(a, b)
    assert ScaledProduct.seen == [wants]
    out.backward(np.ones(shape))
    for t, other, w in ((a, b, wants[0]), (b, a, wants[1])):
        if w:
            np.testing.assert_allclose(t.grad.data, 2.0 * other.data)
        else:
            assert t.grad is None

    def fn(*ts):  # the inputs that require grad are gradcheck's; the other stays constant
        it = iter(ts)
        return ScaledProduct.apply(*(next(it) if w else t
                                     for t, w in zip((a, b), wants, strict=True)))

    assert tg.gradcheck(fn, [t for t, w in zip((a, b), wants, strict=True) if w])


def test_custom_function_sees_needs_input_grad_under_no_grad_as_torch():
    """torch sets ctx.needs_input_grad from requires_grad even when nothing is recorded."""
    a, b = Tensor(np.ones(2), requires_grad=True), Tensor(np.ones(2))
    ScaledProduct.seen.clear()
    with tg.no_grad():
        ScaledProduct.apply(a, b)
    assert ScaledProduct.seen == [(True, False)]
