"""Forward mode: every built-in op's ``jvp`` rule, checked two independent ways.

For a function ``f`` of float64 inputs and random tangents ``v`` (one per input),
``tg.func.jvp`` (one forward pass carrying tangents) must equal

* central finite differences ``(f(x + εv) − f(x − εv)) / 2ε``, and
* the double-vjp construction ``tg.func.jvp(..., via="reverse")`` (two reverse passes,
  built on the already-tested backward rules), to float64 precision.

Inputs stay away from kinks and domain edges, as in test_ops.py.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_mlp as tg
import tinygrad_mlp.func as tgf
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp import Tensor
from tinygrad_mlp.tensor import _STATE
from tinygrad_mlp.testing import strategies as tst

EPS = 1e-6


def check_jvp(fn: Callable[..., Tensor], *arrays: np.ndarray, seed: int = 0) -> None:
    """Forward-mode jvp of ``fn`` at ``arrays`` against finite differences and double-vjp."""
    xs = [np.asarray(a, dtype=np.float64) for a in arrays]
    rng = np.random.default_rng(seed)
    vs = [rng.standard_normal(x.shape) for x in xs]
    out, dout = tgf.jvp(fn, tuple(xs), tuple(vs))
    assert isinstance(dout, Tensor) and dout.shape == out.shape
    assert dout.dtype == np.float64
    plus = fn(*[Tensor(x + EPS * v) for x, v in zip(xs, vs, strict=True)]).data
    minus = fn(*[Tensor(x - EPS * v) for x, v in zip(xs, vs, strict=True)]).data
    numerical = (plus - minus) / (2 * EPS)
    np.testing.assert_allclose(dout.data, numerical, rtol=1e-5, atol=1e-6,
                               err_msg="forward-mode jvp disagrees with finite differences")
    _, dout_rev = tgf.jvp(fn, tuple(xs), tuple(vs), via="reverse")
    np.testing.assert_allclose(dout.data, dout_rev.data, rtol=1e-10, atol=1e-12,
                               err_msg="forward-mode jvp disagrees with the double-vjp result")


def arrays(shape=None, lo: float = -3.0, hi: float = 3.0, unique: bool = False):
    """float64 arrays in [lo, hi]; ``unique``: elements at least 0.01 apart (no near-ties)."""
    shape = tst.shapes(max_dims=3, max_side=4) if shape is None else shape
    if unique:
        elements = st.integers(int(lo * 100), int(hi * 100)).map(lambda i: i / 100)
    else:
        elements = st.floats(lo, hi, allow_nan=False, allow_infinity=False)
    return hnp.arrays(np.float64, shape, elements=elements, unique=unique)


def away_from(a: np.ndarray, points: list[float], gap: float = 0.05) -> np.ndarray:
    """``a`` nudged so no element is within ``gap`` of a kink."""
    a = np.array(a, dtype=np.float64)
    for p in points:
        near = np.abs(a - p) < gap
        a[near] = p + gap * 2 * np.where(a[near] >= p, 1, -1)
    return a


def pair(draw, lo=-3.0, hi=3.0):
    shape_a, shape_b = draw(hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3,
                                                              max_side=3)).input_shapes
    return draw(arrays(shape_a, lo, hi)), draw(arrays(shape_b, lo, hi))


# ----- arithmetic ------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "pow"])
@given(data=st.data())
def test_binary_arithmetic(op, data):
    lo = 0.5 if op in ("div", "pow") else -3.0
    a, b = pair(data.draw, lo, 3.0)
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "mul": lambda x, y: x * y,
          "div": lambda x, y: x / y, "pow": lambda x, y: x ** y}[op]
    check_jvp(fn, a, b)


@given(arrays(), st.sampled_from([2, 3, -1, 0.5, 0]))
def test_pow_scalar_exponent_and_neg(a, p):
    check_jvp(lambda x: -(x ** p), np.abs(a) + 0.5)


@given(st.sampled_from([((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 2)), ((2, 3), (3, 4)),
                        ((2, 2, 3), (3, 2)), ((2, 1, 2, 3), (2, 3, 2))]), st.data())
def test_matmul(shapes, data):
    a, b = (data.draw(arrays(s)) for s in shapes)
    check_jvp(lambda x, y: x @ y, a, b)


@given(st.sampled_from([(4,), (2, 4), (2, 3, 4)]), st.booleans(), st.data())
def test_linear(x_shape, bias, data):
    x = data.draw(arrays(x_shape))
    w = data.draw(arrays((3, 4)))
    if bias:
        check_jvp(lambda x, w, b: tg.linear(x, w, b), x, w, data.draw(arrays((3,))))
    else:
        check_jvp(lambda x, w: tg.linear(x, w), x, w)


# ----- elementwise -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu"])
@given(a=arrays())
def test_unary(name, a):
    if name in ("log", "sqrt"):
        a = np.abs(a) + 0.2
    if name in ("abs", "relu"):
        a = away_from(a, [0.0])
    check_jvp(lambda x: getattr(x, name)(), a)


@given(arrays(), st.sampled_from([(-1.0, 1.0), (None, 0.5), (-0.5, None), (None, None)]))
def test_clip(a, bounds):
    lo, hi = bounds
    a = away_from(a, [b for b in bounds if b is not None])
    check_jvp(lambda x: x.clip(lo, hi), a)


@pytest.mark.parametrize("fn", [tg.maximum, tg.minimum])
@given(data=st.data())
def test_maximum_minimum(fn, data):
    a, b = pair(data.draw)
    b = a + away_from(b - a, [0.0])  # no ties: finite differences cross a kink there
    check_jvp(fn, a, b)


@given(data=st.data())
def test_where(data):
    a, b = pair(data.draw)
    cond = data.draw(hnp.arrays(bool, np.broadcast_shapes(a.shape, b.shape)))
    check_jvp(lambda x, y: tg.where(cond, x, y), a, b)


# ----- reductions ------------------------------------------------------------------------------


@st.composite
def array_and_axes(draw, unique=False):
    a = draw(arrays(tst.shapes(min_dims=1, max_dims=3, max_side=4), unique=unique))
    axes = draw(st.none() | st.lists(st.integers(-a.ndim, a.ndim - 1), min_size=1,
                                    max_size=a.ndim, unique_by=lambda i: i % a.ndim))
    return a, None if axes is None else tuple(axes)


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min"])
@given(aa=array_and_axes(unique=True), keepdims=st.booleans())
def test_reductions(name, aa, keepdims):
    a, axes = aa
    check_jvp(lambda x: getattr(x, name)(axes, keepdims), a)


@given(aa=array_and_axes())
def test_max_ties_split_the_tangent(aa):
    a, axes = aa
    a = np.round(a)  # many ties; the rule averages the tied tangents, as backward splits
    v = np.random.default_rng(1).standard_normal(a.shape)
    _, fwd = tgf.jvp(lambda x: x.max(axes), (a,), (v,))
    _, rev = tgf.jvp(lambda x: x.max(axes), (a,), (v,), via="reverse")
    np.testing.assert_allclose(fwd.data, rev.data, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@given(a=arrays(tst.shapes(min_dims=1, max_dims=3, max_side=4)), data=st.data())
def test_softmax(name, a, data):
    axis = data.draw(st.integers(-a.ndim, a.ndim - 1))
    check_jvp(lambda x: getattr(x, name)(axis), a)


# ----- shape ops ------------------------------------------------------------------------------


@given(a=arrays(tst.shapes(min_dims=1, max_dims=3, max_side=4)), data=st.data())
def test_reshape_transpose_expand(a, data):
    perm = data.draw(st.permutations(range(a.ndim)))
    check_jvp(lambda x: x.reshape(-1), a)
    check_jvp(lambda x: x.transpose(perm), a)
    check_jvp(lambda x: x.T, a)
    check_jvp(lambda x: x.broadcast_to((2,) + a.shape), a)


@given(a=arrays((4, 3)))
def test_indexing_and_scatter(a):
    check_jvp(lambda x: x[1:3, ::2], a)
    check_jvp(lambda x: x[np.array([0, 2, 0])], a)  # a repeated row
    check_jvp(lambda x: x[a > 0], a)
    check_jvp(lambda x: tg.ops.ScatterAdd.apply(x, shape=(5, 3), index=np.array([0, 4, 0, 1])),
              a)


@given(data=st.data())
def test_cat_stack(data):
    a = data.draw(arrays((2, 3)))
    b = data.draw(arrays((1, 3)))
    check_jvp(lambda x, y: tg.cat([x, y], axis=0), a, b)
    check_jvp(lambda x, y: tg.cat([x, y * 2, x], axis=-2), a, b)
    check_jvp(lambda x, y: tg.stack([x, y[0] * y[0]], axis=1), a[0], b)
    # an input without a tangent (a constant) contributes zeros
    out, d = tgf.jvp(lambda x: tg.cat([x, Tensor(b)]), (a,), (np.ones_like(a),))
    np.testing.assert_array_equal(d.data, np.concatenate([np.ones_like(a), np.zeros_like(b)]))


def test_cast_keeps_the_tangent_dtype_of_the_output():
    x = np.array([1.5, -2.0])
    out, d = tgf.jvp(lambda t: tg.ops.Cast.apply(t, dtype=np.float32) * 2, (x,),
                     (np.array([1.0, 3.0]),))
    assert out.dtype == d.dtype == np.float32
    np.testing.assert_array_equal(d.data, np.array([2.0, 6.0], np.float32))


# ----- fused losses ----------------------------------------------------------------------------


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(logits=arrays((3, 4)), data=st.data())
def test_cross_entropy(reduction, logits, data):
    idx = np.array(data.draw(st.lists(st.integers(0, 3), min_size=3, max_size=3)))
    check_jvp(lambda x: F.cross_entropy(x, idx, reduction=reduction), logits)
    q = data.draw(arrays((3, 4), 0.0, 1.0))
    check_jvp(lambda x, t: F.cross_entropy(x, t, reduction=reduction), logits, q)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@given(p=arrays((2, 3), 0.05, 0.95), t=arrays((2, 3), 0.01, 0.99))
def test_binary_cross_entropy(reduction, p, t):
    check_jvp(lambda x, y: F.binary_cross_entropy(x, y, reduction=reduction), p, t)


@given(data=st.data())
def test_squared_error_losses(data):
    x = data.draw(arrays((3, 2)))
    t = data.draw(arrays((3, 2)))
    check_jvp(F.quadratic_loss, x, t)
    check_jvp(lambda a, b: F.mse_loss(a, b, reduction="sum"), x, t)
    check_jvp(lambda a: F.mse_loss(a, t), x)


# ----- the contract -----------------------------------------------------------------------------


def _op_classes() -> list[type]:
    """Every Function subclass defined in the op modules and nn.functional."""
    import importlib
    import pkgutil

    import tinygrad_mlp.ops as ops_pkg

    modules = [importlib.import_module(f"tinygrad_mlp.ops.{m.name}")
               for m in pkgutil.iter_modules(ops_pkg.__path__)]
    modules.append(F)
    found = {}
    for mod in modules:
        for obj in vars(mod).values():
            if (isinstance(obj, type) and issubclass(obj, tg.Function) and obj is not tg.Function
                    and obj.__module__ == mod.__name__):
                found[obj.__name__] = obj
    return list(found.values())


def test_every_built_in_op_has_a_documented_jvp_rule():
    classes = _op_classes()
    assert len(classes) >= 30
    missing = [c.__name__ for c in classes if getattr(c, "jvp", None) is None]
    assert not missing, f"ops without a forward-mode rule: {missing}"
    undocumented = [c.__name__ for c in classes if not _jvp_documented(c)]
    assert not undocumented, f"jvp rules without the formula in a docstring: {undocumented}"


def _jvp_documented(cls: type) -> bool:
    """The formula is in the jvp rule's docstring or in the class docstring."""
    return bool((cls.jvp.__doc__ or "").strip()) or "jvp" in (cls.__doc__ or "").lower()


class Cube(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * g


class CubeWithJvp(Cube):
    @staticmethod
    def backward(ctx, g):
        raise AssertionError("forward mode must not run a backward rule")

    @staticmethod
    def jvp(ctx, t):
        """d(x³) = 3x²·t."""
        (x,) = ctx.primals
        return 3 * x ** 2 * t


def test_custom_function_without_jvp_is_a_clear_error_and_reverse_works():
    x = np.array([1.0, 2.0])
    with pytest.raises(NotImplementedError, match=r"Cube has no forward-mode rule.*via='reverse'"):
        tgf.jvp(Cube.apply, (x,), (np.ones(2),))
    assert _STATE.forward_ad == 0  # the mode is left even after an error
    _, d = tgf.jvp(Cube.apply, (x,), (np.ones(2),), via="reverse")
    np.testing.assert_allclose(d.data, [3.0, 12.0])


def test_custom_jvp_runs_in_one_forward_pass_without_backward():
    x = np.array([1.0, -2.0])
    out, d = tgf.jvp(lambda t: CubeWithJvp.apply(t).sum(), (x,), (np.array([1.0, 0.5]),))
    assert float(out) == pytest.approx(-7.0)
    assert float(d) == pytest.approx(3 * 1 + 12 * 0.5)


def test_tangents_do_not_outlive_jvp():
    w = Tensor(np.array([2.0, 3.0]))
    kept = []

    def fn(x):
        h = x * w
        kept.append(h)
        return h.sum()

    out, d = tgf.jvp(fn, (np.array([1.0, 1.0]),), (np.array([1.0, 0.0]),))
    assert float(d) == 2.0
    assert out._tangent is None and w._tangent is None
    # an op outside jvp ignores any tangent left on an intermediate
    assert (kept[0] * 2)._tangent is None


def test_jvp_with_params_that_require_grad_still_records_the_graph():
    w = Tensor(np.array([2.0, 3.0]), requires_grad=True)
    out, d = tgf.jvp(lambda x: (x * w).sum(), (np.array([1.0, 1.0]),), (np.array([1.0, 1.0]),))
    assert float(d) == 5.0
    out.backward()
    np.testing.assert_array_equal(w.grad.data, [1.0, 1.0])


def test_bad_tangents_are_clear_errors():
    with pytest.raises(ValueError, match=r"tangent 0 has shape \(3,\), its primal has shape"):
        tgf.jvp(lambda x: x, (np.zeros(2),), (np.zeros(3),))
    with pytest.raises(ValueError, match="one tangent per primal"):
        tgf.jvp(lambda x, y: x, (np.zeros(2), np.zeros(2)), (np.zeros(2),))
    with pytest.raises(ValueError, match="via must be"):
        tgf.jvp(lambda x: x, (np.zeros(2),), (np.zeros(2),), via="sideways")


def test_relu_tangent_at_zero_is_zero_as_torch():
    torch = pytest.importorskip("torch")
    x = np.array([-1.0, 0.0, 2.0])
    v = np.array([1.0, 1.0, 1.0])
    _, d = tgf.jvp(lambda t: t.relu(), (x,), (v,))
    _, expected = torch.func.jvp(torch.relu, (torch.tensor(x),), (torch.tensor(v),))
    np.testing.assert_array_equal(d.data, expected.numpy())


# ----- the rest of the op list (issue 12's surface, convolution): one line per op ---------------

_IDX = np.array([[0, 2, 1, 3], [3, 3, 0, 1], [1, 0, 2, 2]])
_KINKS = [-3.0, -1.0, 0.0, 1.0, 3.0, 6.0]  # hardtanh, relu6, hardswish, hardsigmoid, ...
OTHER_OPS = {  # name -> (fn of one (3, 4) array-like, how to prepare the input)
    "sin": (tg.sin, None), "cos": (tg.cos, None), "tan": (tg.tan, None),
    "log2": (tg.log2, "positive"), "log1p": (tg.log1p, "positive"), "exp2": (tg.exp2, None),
    "expm1": (tg.expm1, None), "rsqrt": (tg.rsqrt, "positive"),
    "reciprocal": (tg.reciprocal, "positive"), "square": (tg.square, None),
    "floor": (tg.floor, "off-grid"), "ceil": (tg.ceil, "off-grid"),
    "round": (tg.round, "off-grid"), "trunc": (tg.trunc, "off-grid"),
    "sign": (tg.sign, "off-grid"),
    "prod": (lambda x: tg.prod(x, axis=1), None), "cumsum": (lambda x: tg.cumsum(x, axis=0), None),
    "cumprod": (lambda x: tg.cumprod(x, axis=1), None),
    "flip": (lambda x: tg.flip(x, axis=0), None),
    "roll": (lambda x: tg.roll(x, 1, axis=1), None), "tile": (lambda x: tg.tile(x, (2, 1)), None),
    "tril": (tg.tril, None), "triu": (lambda x: tg.triu(x, 1), None),
    "pad": (lambda x: tg.pad(x, ((1, 0), (0, 2))), None),
    "einsum": (lambda x: tg.einsum("ij,kj->ik", x, x), None), "norm": (tg.norm, None),
    "logsumexp": (lambda x: tg.logsumexp(x, axis=1), None),
    "var": (lambda x: tg.var(x, axis=0), None), "std": (lambda x: tg.std(x, axis=1), None),
    "squeeze/unsqueeze": (lambda x: tg.squeeze(tg.unsqueeze(x, 0)), None),
    "narrow": (lambda x: tg.narrow(x, 1, 1, 2), None),
    "chunk": (lambda x: tg.chunk(x, 2, axis=1)[1] * 1.0, None),
    "unbind": (lambda x: tg.unbind(x, 0)[2] * 1.0, None),
    "take_along_axis": (lambda x: tg.take_along_axis(x, _IDX, 1), None),
    "gather": (lambda x: tg.gather(x, 1, _IDX), None),
    "index_select": (lambda x: tg.index_select(x, 0, np.array([2, 0, 2])), None),
    "scatter_add": (lambda x: tg.scatter_add(x, 1, _IDX, x * x), None),
    "clone": (tg.clone, None), "hstack": (lambda x: tg.hstack([x, x * 2]), None),
    "vstack": (lambda x: tg.vstack([x, x.exp()]), None),
    "elu": (F.elu, "off-kinks"), "celu": (F.celu, "off-kinks"), "selu": (F.selu, "off-kinks"),
    "gelu": (F.gelu, None), "gelu-tanh": (lambda x: F.gelu(x, approximate="tanh"), None),
    "silu": (F.silu, None), "mish": (F.mish, None), "softplus": (F.softplus, None),
    "logsigmoid": (F.logsigmoid, None), "softsign": (F.softsign, "off-kinks"),
    "hardtanh": (F.hardtanh, "off-kinks"), "hardswish": (F.hardswish, "off-kinks"),
    "relu6": (F.relu6, "off-kinks"), "leaky_relu": (F.leaky_relu, "off-kinks"),
    "hardsigmoid": (F.hardsigmoid, "off-kinks"),
    "l1_loss": (lambda x: F.l1_loss(x, np.full((3, 4), 0.05)), "off-kinks"),
    "huber_loss": (lambda x: F.huber_loss(x, np.zeros((3, 4)), delta=0.5), None),
    "smooth_l1_loss": (lambda x: F.smooth_l1_loss(x, np.zeros((3, 4)), beta=0.5), None),
    "kl_div": (lambda x: F.kl_div(x.log_softmax(1), np.full((3, 4), 0.25)), None),
    "cosine_similarity": (lambda x: F.cosine_similarity(x, x.exp()), None),
    "bce_with_logits": (lambda x: F.binary_cross_entropy_with_logits(
        x, np.full((3, 4), 0.3)), None),
    "layer_norm": (lambda x: F.layer_norm(x, 4), None),
    "batch_norm": (lambda x: F.batch_norm(x, None, None, training=True), None),
    "conv2d": (lambda x: F.conv2d(x.reshape(1, 1, 3, 4), x[:2, :2].reshape(1, 1, 2, 2),
                                  padding=1), None),
    "max_pool2d": (lambda x: F.max_pool2d(x.reshape(1, 1, 3, 4), 2, stride=1), None),
    "avg_pool2d": (lambda x: F.avg_pool2d(x.reshape(1, 1, 3, 4), 2, padding=1), None),
}


@pytest.mark.parametrize("name", sorted(OTHER_OPS))
@given(x=arrays((3, 4), -1.5, 1.5, unique=True))
def test_jvp_of_the_rest_of_the_op_list(name, x):
    fn, prep = OTHER_OPS[name]
    if prep == "positive":
        x = np.abs(x) + 0.5
    elif prep == "off-grid":  # away from the integers and halves where rounding jumps
        x = np.round(x * 4) / 4 + 0.1
    elif prep == "off-kinks":
        x = away_from(x, _KINKS + [0.05], gap=0.02)
    check_jvp(fn, x)
