"""Tests for the activations and losses of ``nn.functional`` and their modules.

Gradients are checked in float64 against central differences (first and second order),
forward-mode rules against finite differences, values against numpy formulas, and, when
torch is installed, values and gradients against ``torch.nn.functional`` in float32 and
float64 through one table (one line per function).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp.tensor import Tensor

PROPERTY = settings(deadline=None)
# the tables below run one property per entry: a share of the profile's examples each
# (fixed-shape loss cases draw only values, so they need fewer)
PER_ACTIVATION = settings(deadline=None, max_examples=max(5, settings().max_examples // 4))
PER_LOSS = settings(deadline=None, max_examples=max(3, settings().max_examples // 10))


def leaf(a, dtype=np.float64) -> Tensor:
    return Tensor(np.array(a, dtype=dtype), requires_grad=True)


def finite_arrays(shape, lo=-5.0, hi=5.0):
    return hnp.arrays(np.float64, shape, elements=st.floats(lo, hi))


# ============================================================================================
# soft (unnormalised) probability targets: issue 10, bug 2


def test_cross_entropy_soft_target_that_does_not_sum_to_one():
    x = leaf(np.zeros((1, 3)))
    F.cross_entropy(x, np.array([[1.0, 1.0, 0.0]])).backward()
    np.testing.assert_allclose(x.grad.data, [[-1 / 3, -1 / 3, 2 / 3]], rtol=1e-12)


@PROPERTY
@given(
    x=finite_arrays(st.tuples(st.integers(1, 4), st.integers(1, 5))),
    data=st.data(),
)
def test_fused_cross_entropy_matches_twin_on_unnormalised_targets(x, data):
    q = data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(0, 3)))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    v = np.random.default_rng(x.size).standard_normal(x.shape)
    grads = []
    for fn in (F.cross_entropy, F.cross_entropy_simple):
        xt, qt = leaf(x), leaf(q)
        loss = fn(xt, qt, reduction=reduction).sum()
        gx, gq = tg.grad(loss, [xt, qt], create_graph=True)
        (hv,) = tg.grad((gx * Tensor(v)).sum(), [xt])
        grads.append((loss.data, gx.data, gq.data, hv.data))
    for got, want in zip(*grads, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def _torch_soft_target_cases():
    """(name, ours(input, target, reduction), torch's, input range, target range)."""
    return [
        ("cross_entropy", F.cross_entropy, "cross_entropy", (-5, 5), (0, 3)),
        ("binary_cross_entropy", F.binary_cross_entropy, "binary_cross_entropy",
         (0.05, 0.95), (0, 1)),
        ("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
         "binary_cross_entropy_with_logits", (-5, 5), (0, 1)),
        ("kl_div", F.kl_div, "kl_div", (-5, 0), (0.01, 3)),
    ]


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # torch's kl_div
@PROPERTY
@given(data=st.data())
@pytest.mark.parametrize("case", _torch_soft_target_cases(), ids=lambda c: c[0])
def test_losses_with_probability_targets_match_torch_on_unnormalised_targets(case, data):
    torch = pytest.importorskip("torch")
    _, ours, theirs_name, (xlo, xhi), (tlo, thi) = case
    shape = data.draw(st.tuples(st.integers(1, 4), st.integers(1, 5)))
    x = data.draw(finite_arrays(shape, xlo, xhi))
    t = data.draw(finite_arrays(shape, tlo, thi))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    xt, tt = leaf(x), leaf(t)
    loss = ours(xt, tt, reduction=reduction)
    loss.backward(np.ones(loss.shape))
    xr = torch.tensor(x, requires_grad=True)
    tr = torch.tensor(t, requires_grad=True)
    ref = getattr(torch.nn.functional, theirs_name)(xr, tr, reduction=reduction)
    ref.backward(torch.ones_like(ref))
    np.testing.assert_allclose(loss.data, ref.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(xt.grad.data, xr.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(tt.grad.data, tr.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_binary_cross_entropy_rejects_targets_outside_unit_interval():
    with pytest.raises(ValueError, match="target"):
        F.binary_cross_entropy(np.array([0.5]), np.array([1.5]))


# ============================================================================================
# activations: one table drives the torch comparison, the gradchecks and the jvp checks


ACTIVATIONS = [  # (name, f(F, x) with torch's argument names, kinks of f or of f')
    ("leaky_relu", lambda f, x: f.leaky_relu(x, 0.1), (0.0,)),
    ("elu", lambda f, x: f.elu(x), (0.0,)),
    ("elu_alpha", lambda f, x: f.elu(x, alpha=0.5), (0.0,)),
    ("selu", lambda f, x: f.selu(x), (0.0,)),
    ("celu", lambda f, x: f.celu(x, alpha=2.0), (0.0,)),
    ("gelu", lambda f, x: f.gelu(x), ()),
    ("gelu_tanh", lambda f, x: f.gelu(x, approximate="tanh"), ()),
    ("silu", lambda f, x: f.silu(x), ()),
    ("softplus", lambda f, x: f.softplus(x), (20.0,)),
    ("softplus_beta", lambda f, x: f.softplus(x, beta=2.0, threshold=5.0), (2.5,)),
    ("softsign", lambda f, x: f.softsign(x), (0.0,)),
    ("relu6", lambda f, x: f.relu6(x), (0.0, 6.0)),
    ("hardtanh", lambda f, x: f.hardtanh(x), (-1.0, 1.0)),
    ("hardtanh_range", lambda f, x: f.hardtanh(x, -2.0, 0.5), (-2.0, 0.5)),
    ("hardsigmoid", lambda f, x: f.hardsigmoid(x), (-3.0, 3.0)),
    ("hardswish", lambda f, x: f.hardswish(x), (-3.0, 3.0)),
    ("mish", lambda f, x: f.mish(x), ()),
    ("logsigmoid", lambda f, x: f.logsigmoid(x), ()),
]
# the points where conventions differ: kinks, bounds, thresholds
KINK_POINTS = np.array([-6.0, -3.0, -2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.5, 3.0, 6.0, 20.0, 25.0])
EXTREMES = np.array([-1e4, -1e3, -100.0, -30.0, 30.0, 100.0, 1e3, 1e4])


def _ours(f, *arrays, dtype=np.float64):
    """(value, gradients) of f(F, *Tensors) for a fixed random upstream gradient."""
    xs = [leaf(a, dtype) for a in arrays]
    out = f(F, *xs)
    v = np.random.default_rng(1).standard_normal(out.shape).astype(dtype)
    out.backward(v)
    return out.data, [x.grad.data for x in xs]


def _theirs(torch, f, *arrays, dtype=np.float64):
    xs = [torch.tensor(np.asarray(a, dtype=dtype), requires_grad=True) for a in arrays]
    out = f(torch.nn.functional, *xs)
    v = np.random.default_rng(1).standard_normal(tuple(out.shape)).astype(dtype)
    out.backward(torch.tensor(v))
    return out.detach().numpy(), [x.grad.numpy() for x in xs]


TOLERANCE = {np.float64: dict(rtol=1e-10, atol=1e-12), np.float32: dict(rtol=2e-5, atol=2e-6)}


def assert_matches_torch(f, *arrays, dtype=np.float64, grad_rtol=None):
    """The one helper: values and gradients of f(F, ...) agree with f(torch.nn.functional, ...)."""
    torch = pytest.importorskip("torch")
    value, grads = _ours(f, *arrays, dtype=dtype)
    ref_value, ref_grads = _theirs(torch, f, *arrays, dtype=dtype)
    assert value.dtype == dtype
    np.testing.assert_allclose(value, ref_value, **TOLERANCE[dtype])
    tol = dict(TOLERANCE[dtype], **({} if grad_rtol is None else {"rtol": grad_rtol}))
    for g, r in zip(grads, ref_grads, strict=True):
        np.testing.assert_allclose(g, r, **tol)


# torch's float64 hardsigmoid gradient multiplies by 1/6 rounded to float32 (2^-25 relative)
GRAD_RTOL = {("hardsigmoid", np.float64): 1e-7}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,f,kinks", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_matches_torch(name, f, kinks, dtype):
    x = np.concatenate([KINK_POINTS, np.random.default_rng(0).standard_normal(12) * 4])
    assert_matches_torch(f, x.reshape(5, 5), dtype=dtype, grad_rtol=GRAD_RTOL.get((name, dtype)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,f,kinks", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_is_finite_and_right_at_extremes(name, f, kinks, dtype):
    value, (grad,) = _ours(f, EXTREMES, dtype=dtype)
    assert np.isfinite(value).all() and np.isfinite(grad).all()
    assert_matches_torch(f, EXTREMES, dtype=dtype, grad_rtol=GRAD_RTOL.get((name, dtype)))


_erf = np.vectorize(math.erf)
_SELU = (1.6732632423543772, 1.0507009873554805)
NUMPY_ACTIVATIONS = {  # the same functions written out in numpy (float64, moderate inputs)
    "leaky_relu": lambda x: np.where(x > 0, x, 0.1 * x),
    "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "elu_alpha": lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)),
    "selu": lambda x: _SELU[1] * np.where(x > 0, x, _SELU[0] * np.expm1(x)),
    "celu": lambda x: np.maximum(x, 0) + np.minimum(0, 2 * np.expm1(x / 2)),
    "gelu": lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))),
    "gelu_tanh": lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi)
                                                  * (x + 0.044715 * x**3))),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "softplus": lambda x: np.where(x > 20, x, np.log1p(np.exp(x))),
    "softplus_beta": lambda x: np.where(2 * x > 5, x, np.log1p(np.exp(2 * x)) / 2),
    "softsign": lambda x: x / (1 + np.abs(x)),
    "relu6": lambda x: np.clip(x, 0, 6),
    "hardtanh": lambda x: np.clip(x, -1, 1),
    "hardtanh_range": lambda x: np.clip(x, -2, 0.5),
    "hardsigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1),
    "hardswish": lambda x: x * np.clip(x + 3, 0, 6) / 6,
    "mish": lambda x: x * np.tanh(np.log1p(np.exp(x))),
    "logsigmoid": lambda x: -np.log1p(np.exp(-x)),
}


@pytest.mark.parametrize("name,f,kinks", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_values_match_numpy(name, f, kinks):
    assert set(NUMPY_ACTIVATIONS) == {a[0] for a in ACTIVATIONS}
    x = np.concatenate([KINK_POINTS, np.random.default_rng(0).standard_normal(40) * 4])
    np.testing.assert_allclose(f(F, Tensor(x)).data, NUMPY_ACTIVATIONS[name](x),
                               rtol=1e-12, atol=1e-14)


def _away_from(kinks, lo=-8.0, hi=8.0):
    """Finite floats at least 1e-3 from every kink (finite differences straddle none)."""
    return st.floats(lo, hi).filter(lambda v: all(abs(v - k) > 1e-3 for k in kinks))


@PER_ACTIVATION
@given(data=st.data())
@pytest.mark.parametrize("name,f,kinks", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_gradchecks_first_and_second_order_and_forward_mode(name, f, kinks, data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=3))
    x = leaf(data.draw(hnp.arrays(np.float64, shape, elements=_away_from(kinks))))
    assert tg.gradcheck(lambda t: f(F, t), [x], check_forward_ad=True)
    assert tg.gradgradcheck(lambda t: f(F, t), [x])


def test_gradcheck_would_catch_a_wrong_activation_rule_or_jvp(monkeypatch):
    x = leaf(np.linspace(-2, 2, 5))
    monkeypatch.setattr(F.Softplus, "_slope", staticmethod(lambda ctx, x: F._sigmoid(x) * 1.01))
    assert not tg.gradcheck(F.softplus, [x], raise_exception=False)
    assert tg.gradcheck(F.logsigmoid, [x], check_forward_ad=True)
    monkeypatch.setattr(F.LogSigmoid, "jvp", staticmethod(lambda ctx, t: t * 1.01))
    assert tg.gradcheck(F.logsigmoid, [x])  # reverse mode is still right ...
    assert not tg.gradcheck(F.logsigmoid, [x], check_forward_ad=True, raise_exception=False)


def test_hardtanh_gradient_is_zero_at_the_bounds_unlike_clip():
    x = leaf([-1.0, 1.0, 0.0])
    F.hardtanh(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])


def test_activation_errors_name_the_culprit():
    with pytest.raises(ValueError, match="approximate"):
        F.gelu([1.0], approximate="erf")
    with pytest.raises(ValueError, match="min_val"):
        F.hardtanh([1.0], 2.0, 1.0)
    with pytest.raises(ValueError, match="alpha"):
        F.celu([1.0], alpha=0.0)


# ----- forward mode: each fused Function's jvp rule against central differences -----------


FUSED = [  # functions whose fused Function carries its own jvp rule
    ("erf", lambda x: F.Erf.apply(x)),
    ("hardtanh", F.hardtanh),
    ("hardswish", F.hardswish),
    ("elu", lambda x: F.elu(x, 0.7)),
    ("selu", F.selu),
    ("celu", lambda x: F.celu(x, 1.5)),
    ("softplus", lambda x: F.softplus(x, beta=1.5, threshold=4.0)),
    ("logsigmoid", F.logsigmoid),
]


@PER_ACTIVATION
@given(data=st.data())
@pytest.mark.parametrize("name,fn", FUSED, ids=[f[0] for f in FUSED])
def test_fused_activation_jvp_matches_finite_differences(name, fn, data):
    func = pytest.importorskip("tinygrad_mlp.func")
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, max_side=4))
    kinks = (-3.0, -1.0, 0.0, 1.0, 3.0, 4 / 1.5)
    x = data.draw(hnp.arrays(np.float64, shape, elements=_away_from(kinks, -6, 6)))
    t = data.draw(finite_arrays(shape, -1, 1))
    _, jvp_out = func.jvp(fn, (Tensor(x),), (t,))
    eps = 1e-6
    numerical = (fn(Tensor(x + eps * t)).data - fn(Tensor(x - eps * t)).data) / (2 * eps)
    np.testing.assert_allclose(np.asarray(jvp_out.data), numerical, rtol=1e-6, atol=1e-8)


# ----- modules ---------------------------------------------------------------------------------


MODULES = [  # (module, the same function)
    (lambda: tg.nn.LeakyReLU(0.2), lambda x: F.leaky_relu(x, 0.2)),
    (lambda: tg.nn.ELU(0.5), lambda x: F.elu(x, 0.5)),
    (lambda: tg.nn.CELU(0.5), lambda x: F.celu(x, 0.5)),
    (tg.nn.SELU, F.selu),
    (lambda: tg.nn.GELU("tanh"), lambda x: F.gelu(x, "tanh")),
    (tg.nn.SiLU, F.silu),
    (lambda: tg.nn.Softplus(2.0, 3.0), lambda x: F.softplus(x, 2.0, 3.0)),
    (tg.nn.Softsign, F.softsign),
    (tg.nn.ReLU6, F.relu6),
    (lambda: tg.nn.Hardtanh(-0.5, 0.5), lambda x: F.hardtanh(x, -0.5, 0.5)),
    (tg.nn.Hardsigmoid, F.hardsigmoid),
    (tg.nn.Hardswish, F.hardswish),
    (tg.nn.Mish, F.mish),
    (tg.nn.LogSigmoid, F.logsigmoid),
]


@pytest.mark.parametrize("make,fn", MODULES)
def test_activation_modules_call_their_function(make, fn):
    x = np.linspace(-4, 4, 9)
    module = make()
    np.testing.assert_array_equal(module(x).data, fn(x).data)
    assert list(module.parameters()) == []
    assert type(module).__name__ in repr(module)


def test_activation_modules_repr_like_torch():
    torch = pytest.importorskip("torch")
    for ours, theirs in [
        (tg.nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
        (tg.nn.ELU(0.5), torch.nn.ELU(0.5)),
        (tg.nn.GELU("tanh"), torch.nn.GELU("tanh")),
        (tg.nn.Softplus(2.0, 3.0), torch.nn.Softplus(2.0, 3.0)),
        (tg.nn.Hardtanh(-0.5, 0.5), torch.nn.Hardtanh(-0.5, 0.5)),
        (tg.nn.SiLU(), torch.nn.SiLU()),
    ]:
        assert repr(ours) == repr(theirs)


# ============================================================================================
# losses: one table (name, f(F, k, *inputs), make(rng) -> differentiable inputs); k turns a
# constant (targets, weights) into what the library at hand takes


def _logits(rng, *shape):
    return rng.standard_normal(shape) * 2


def _probs(rng, *shape):
    return rng.uniform(0.05, 0.95, shape)


def _idx(rng, n, c, ignore=None):
    y = rng.integers(0, c, n)
    if ignore is not None:
        y[rng.random(n) < 0.3] = ignore
        y[0] = 0  # at least one target is kept, so a mean is defined
    return y


_R = np.random.default_rng(7)
Y = _idx(_R, 5, 3)
Y_IGNORED = _idx(_R, 5, 3, ignore=-100)
Y_IGNORE_1 = _idx(_R, 5, 3, ignore=1)
Y_KDIM = _idx(_R, 2 * 2 * 3, 3, ignore=-100).reshape(2, 2, 3)
W3 = np.array([0.2, 1.0, 2.5])
POS_W = np.array([0.5, 2.0, 3.0])
ELEMENT_W = _R.uniform(0.1, 2.0, (5, 3))

LOSSES = [
    ("ce_index", lambda f, k, x: f.cross_entropy(x, k(Y)), lambda r: [_logits(r, 5, 3)]),
    ("ce_index_sum", lambda f, k, x: f.cross_entropy(x, k(Y), reduction="sum"),
     lambda r: [_logits(r, 5, 3)]),
    ("ce_index_none", lambda f, k, x: f.cross_entropy(x, k(Y), reduction="none"),
     lambda r: [_logits(r, 5, 3)]),
    ("ce_soft_unnormalised", lambda f, k, x, q: f.cross_entropy(x, q),
     lambda r: [_logits(r, 5, 3), r.uniform(0, 3, (5, 3))]),
    ("ce_weight", lambda f, k, x: f.cross_entropy(x, k(Y), weight=k(W3)),
     lambda r: [_logits(r, 5, 3)]),
    ("ce_ignore", lambda f, k, x: f.cross_entropy(x, k(Y_IGNORED)), lambda r: [_logits(r, 5, 3)]),
    ("ce_ignore_1_weight_none",
     lambda f, k, x: f.cross_entropy(x, k(Y_IGNORE_1), weight=k(W3), ignore_index=1,
                                     reduction="none"),
     lambda r: [_logits(r, 5, 3)]),
    ("ce_smoothing", lambda f, k, x: f.cross_entropy(x, k(Y), label_smoothing=0.2),
     lambda r: [_logits(r, 5, 3)]),
    ("ce_smoothing_weight_ignore",
     lambda f, k, x: f.cross_entropy(x, k(Y_IGNORED), weight=k(W3), label_smoothing=0.3),
     lambda r: [_logits(r, 5, 3)]),
    ("ce_smoothing_sum",
     lambda f, k, x: f.cross_entropy(x, k(Y_IGNORED), label_smoothing=0.1, reduction="sum"),
     lambda r: [_logits(r, 5, 3)]),
    ("ce_soft_smoothing_weight",
     lambda f, k, x, q: f.cross_entropy(x, q, weight=k(W3), label_smoothing=0.25),
     lambda r: [_logits(r, 5, 3), r.uniform(0, 1, (5, 3))]),
    ("ce_kdim", lambda f, k, x: f.cross_entropy(x, k(Y_KDIM), weight=k(W3), label_smoothing=0.1),
     lambda r: [_logits(r, 2, 3, 2, 3)]),
    ("ce_kdim_none", lambda f, k, x: f.cross_entropy(x, k(Y_KDIM), reduction="none"),
     lambda r: [_logits(r, 2, 3, 2, 3)]),
    ("ce_kdim_soft", lambda f, k, x, q: f.cross_entropy(x, q),
     lambda r: [_logits(r, 2, 3, 4), r.uniform(0, 1, (2, 3, 4))]),
    ("ce_unbatched", lambda f, k, x: f.cross_entropy(x, k(np.array(2))), lambda r: [_logits(r, 3)]),
    ("ce_unbatched_soft", lambda f, k, x, q: f.cross_entropy(x, q, label_smoothing=0.1),
     lambda r: [_logits(r, 3), r.uniform(0, 1, 3)]),
    ("nll_weight_ignore", lambda f, k, x: f.nll_loss(x, k(Y_IGNORED), weight=k(W3)),
     lambda r: [_logits(r, 5, 3)]),
    ("nll_ignore_sum", lambda f, k, x: f.nll_loss(x, k(Y_IGNORE_1), ignore_index=1,
                                                  reduction="sum"),
     lambda r: [_logits(r, 5, 3)]),
    ("nll_kdim", lambda f, k, x: f.nll_loss(x, k(Y_KDIM), weight=k(W3)),
     lambda r: [_logits(r, 2, 3, 2, 3)]),
    ("nll_unbatched", lambda f, k, x: f.nll_loss(x, k(np.array(1))), lambda r: [_logits(r, 3)]),
    ("bce", lambda f, k, p, t: f.binary_cross_entropy(p, t),
     lambda r: [_probs(r, 5, 3), r.uniform(0, 1, (5, 3))]),
    ("bce_weight", lambda f, k, p, t: f.binary_cross_entropy(p, t, weight=k(W3), reduction="sum"),
     lambda r: [_probs(r, 5, 3), r.uniform(0, 1, (5, 3))]),
    ("bce_logits", lambda f, k, x, t: f.binary_cross_entropy_with_logits(x, t),
     lambda r: [_logits(r, 5, 3) * 5, r.uniform(0, 1, (5, 3))]),
    ("bce_logits_weights",
     lambda f, k, x, t: f.binary_cross_entropy_with_logits(x, t, weight=k(ELEMENT_W),
                                                           pos_weight=k(POS_W)),
     lambda r: [_logits(r, 5, 3) * 5, r.uniform(0, 1, (5, 3))]),
    ("bce_logits_none",
     lambda f, k, x, t: f.binary_cross_entropy_with_logits(x, t, pos_weight=k(POS_W),
                                                           reduction="none"),
     lambda r: [_logits(r, 5, 3), r.uniform(0, 1, (5, 3))]),
    ("kl_div_batchmean", lambda f, k, x, t: f.kl_div(x, t, reduction="batchmean"),
     lambda r: [np.log(_probs(r, 5, 3)), _probs(r, 5, 3)]),
    ("kl_div_mean", lambda f, k, x, t: f.kl_div(x, t),
     lambda r: [_logits(r, 5, 3), _probs(r, 5, 3)]),
    ("kl_div_log_target_sum",
     lambda f, k, x, t: f.kl_div(x, t, reduction="sum", log_target=True),
     lambda r: [_logits(r, 5, 3), _logits(r, 5, 3)]),
    ("kl_div_none", lambda f, k, x, t: f.kl_div(x, t, reduction="none"),
     lambda r: [_logits(r, 5, 3), r.uniform(0, 3, (5, 3))]),
    ("l1", lambda f, k, x, t: f.l1_loss(x, t), lambda r: [_logits(r, 5, 3), _logits(r, 5, 3)]),
    ("l1_weight", lambda f, k, x, t: f.l1_loss(x, t, weight=k(ELEMENT_W)),
     lambda r: [_logits(r, 5, 3), _logits(r, 5, 3)]),
    ("smooth_l1", lambda f, k, x, t: f.smooth_l1_loss(x, t, beta=0.5),
     lambda r: [_logits(r, 5, 3), _logits(r, 5, 3)]),
    ("smooth_l1_beta0", lambda f, k, x, t: f.smooth_l1_loss(x, t, beta=0.0, reduction="sum"),
     lambda r: [_logits(r, 5, 3), _logits(r, 5, 3)]),
    ("huber", lambda f, k, x, t: f.huber_loss(x, t, delta=2.0, reduction="none"),
     lambda r: [_logits(r, 5, 3), _logits(r, 5, 3)]),
    ("huber_weight", lambda f, k, x, t: f.huber_loss(x, t, weight=k(ELEMENT_W)),
     lambda r: [_logits(r, 5, 3), _logits(r, 5, 3)]),
    ("mse", lambda f, k, x, t: f.mse_loss(x, t), lambda r: [_logits(r, 5, 3), _logits(r, 5, 3)]),
    ("cosine", lambda f, k, a, b: f.cosine_similarity(a, b),
     lambda r: [_logits(r, 5, 3), _logits(r, 5, 3)]),
    ("cosine_last_broadcast", lambda f, k, a, b: f.cosine_similarity(a, b, dim=-1),
     lambda r: [_logits(r, 2, 5, 3), _logits(r, 3)]),
]
LOSS_IDS = [c[0] for c in LOSSES]


def _with_constants(g):
    """f(F, *xs) for the torch helper: constants passed as-is (ours) or as torch tensors."""

    def f(lib, *xs):
        if lib is F:
            return g(lib, lambda a: a, *xs)
        import torch

        def k(a):
            a = np.asarray(a)
            return torch.tensor(a, dtype=xs[0].dtype if a.dtype.kind == "f" else None)

        return g(lib, k, *xs)

    return f


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides:UserWarning")  # torch's kl_div
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name,g,make", LOSSES, ids=LOSS_IDS)
def test_loss_matches_torch(name, g, make, dtype):
    assert_matches_torch(_with_constants(g), *make(np.random.default_rng(3)), dtype=dtype)


def _np_log_softmax(x, axis):
    z = x - x.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def _np_weighted_smoothed_nll(logp, y, w, eps, ignore=-100):
    """PyTorch's nll / cross-entropy (on log-probabilities) for index targets, (N, C) or
    (N, C, d...), weights, ignored targets and label smoothing, mean reduction."""
    c = logp.shape[1]
    logp = np.moveaxis(logp, 1, -1).reshape(-1, c)
    y = y.reshape(-1)
    keep = y != ignore
    wy = w[np.where(keep, y, 0)] * keep
    nll = -(logp[np.arange(len(y)), np.where(keep, y, 0)] * wy).sum() / wy.sum()
    smooth = -((logp * w).sum(1) * keep).sum() / wy.sum()
    return (1 - eps) * nll + eps / c * smooth


def _np_weighted_smoothed_ce(x, y, w, eps):
    return _np_weighted_smoothed_nll(_np_log_softmax(x, 1), y, w, eps)


def _np_neg_log_sigmoid(x):
    return np.maximum(-x, 0) + np.log1p(np.exp(-np.abs(x)))


NUMPY_LOSSES = {  # LOSSES entries written out in numpy
    "ce_weight": lambda x: _np_weighted_smoothed_ce(x, Y, W3, 0.0),
    "ce_ignore": lambda x: _np_weighted_smoothed_ce(x, Y_IGNORED, np.ones(3), 0.0),
    "ce_smoothing_weight_ignore": lambda x: _np_weighted_smoothed_ce(x, Y_IGNORED, W3, 0.3),
    "ce_kdim": lambda x: _np_weighted_smoothed_ce(x, Y_KDIM, W3, 0.1),
    "ce_soft_smoothing_weight": lambda x, q: -(
        _np_log_softmax(x, 1) * (q * 0.75 + 0.25 / 3) * W3).sum() / len(x),
    "nll_kdim": lambda x: _np_weighted_smoothed_nll(x, Y_KDIM, W3, 0.0),
    "nll_weight_ignore": lambda x: _np_weighted_smoothed_nll(x, Y_IGNORED, W3, 0.0),
    "bce_logits_weights": lambda x, t: (ELEMENT_W * ((1 - t) * x + (1 + (POS_W - 1) * t)
                                                     * _np_neg_log_sigmoid(x))).mean(),
    "kl_div_batchmean": lambda x, t: (t * (np.log(t) - x)).sum() / len(x),
    "kl_div_log_target_sum": lambda x, t: (np.exp(t) * (t - x)).sum(),
    "l1_weight": lambda x, t: (ELEMENT_W * np.abs(x - t)).sum() / ELEMENT_W.sum(),
    "smooth_l1": lambda x, t: np.where(np.abs(x - t) < 0.5, (x - t) ** 2, np.abs(x - t) - 0.25
                                       ).mean(),
    "huber": lambda x, t: np.where(np.abs(x - t) < 2, 0.5 * (x - t) ** 2,
                                   2 * (np.abs(x - t) - 1)),
    "cosine_last_broadcast": lambda a, b: (a * b).sum(-1) / np.linalg.norm(a, axis=-1)
    / np.linalg.norm(b),
}


@pytest.mark.parametrize("name", sorted(NUMPY_LOSSES))
def test_loss_values_match_numpy(name):
    (g, make) = next((g, make) for n, g, make in LOSSES if n == name)
    arrays = make(np.random.default_rng(5))
    ours = g(F, lambda a: a, *[Tensor(a) for a in arrays]).data
    np.testing.assert_allclose(ours, NUMPY_LOSSES[name](*arrays), rtol=1e-12, atol=1e-14)


@PER_LOSS
@given(seed=st.integers(0, 2**32 - 1))
@pytest.mark.parametrize("name,g,make", LOSSES, ids=LOSS_IDS)
def test_loss_gradchecks_first_and_second_order_and_forward_mode(name, g, make, seed):
    xs = [leaf(a) for a in make(np.random.default_rng(seed))]

    def fn(*ts):
        return g(F, lambda a: a, *ts)

    assert tg.gradcheck(fn, xs, check_forward_ad=True)
    assert tg.gradgradcheck(fn, xs)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_losses_from_logits_are_finite_at_extremes(dtype):
    x = np.array([[-1e4, 0.0, 1e4], [1e4, 1e4, -1e4]])
    t = np.array([[0.0, 1.0, 1.0], [1.0, 0.0, 0.5]])
    cases = [
        lambda f, k, a: f.binary_cross_entropy_with_logits(a, k(t), pos_weight=k(POS_W)),
        lambda f, k, a: f.cross_entropy(a, k(np.array([0, 2]))),
        lambda f, k, a: f.cross_entropy(a, k(t), label_smoothing=0.1),
        lambda f, k, a: f.kl_div(f.log_softmax(a, dim=1), k(t), reduction="batchmean"),
    ]
    for g in cases:
        value, (grad,) = _ours(_with_constants(g), x, dtype=dtype)
        assert np.isfinite(value).all() and np.isfinite(grad).all()
        assert_matches_torch(_with_constants(g), x, dtype=dtype)


def test_cross_entropy_fast_path_stays_one_node_and_options_compose():
    x = leaf(np.zeros((2, 3)))
    assert F.cross_entropy(x, [0, 1]).grad_fn == "SoftmaxCrossEntropy"
    assert F.cross_entropy(x, [0, 1], "sum").grad_fn == "SoftmaxCrossEntropy"  # old signature
    assert F.cross_entropy(x, [0, -100]).grad_fn != "SoftmaxCrossEntropy"


def test_mean_over_only_ignored_targets_is_nan_as_torch():
    loss = F.cross_entropy(np.zeros((2, 3)), np.array([-100, -100]))
    assert np.isnan(loss.item())


def test_loss_errors_name_the_culprit():
    x = np.zeros((2, 3))
    with pytest.raises(ValueError, match=r"weight has shape \(2,\), expected \(3,\)"):
        F.cross_entropy(x, [0, 1], weight=np.ones(2))
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(x, [0, 1], label_smoothing=1.5)
    with pytest.raises(F.TargetIndexError, match="target 3"):
        F.nll_loss(x, [0, 3], ignore_index=1)
    with pytest.raises(ValueError, match="reduction"):
        F.kl_div(x, x, reduction="batch")
    with pytest.raises(ValueError, match="beta"):
        F.smooth_l1_loss(x, x, beta=-1.0)
    with pytest.raises(ValueError, match="pos_weight"):
        F.binary_cross_entropy_with_logits(x, x, pos_weight=np.ones(2))
    with pytest.raises(ValueError, match="dim"):
        F.cosine_similarity(x, x, dim=2)


def test_deprecated_size_average_and_reduce_mean_what_torch_says():
    x, y = np.random.default_rng(0).standard_normal((4, 3)), np.array([0, 1, 2, 0])
    assert F.cross_entropy(x, y, size_average=False).item() == pytest.approx(
        F.cross_entropy(x, y, reduction="sum").item()
    )
    assert F.nll_loss(x, y, reduce=False).shape == (4,)


LOSS_MODULES = [  # (module, the same function call)
    (lambda: tg.nn.L1Loss(reduction="sum"), lambda x, t: F.l1_loss(x, t, reduction="sum")),
    (lambda: tg.nn.SmoothL1Loss(beta=0.3), lambda x, t: F.smooth_l1_loss(x, t, beta=0.3)),
    (lambda: tg.nn.HuberLoss(delta=0.3), lambda x, t: F.huber_loss(x, t, delta=0.3)),
    (lambda: tg.nn.KLDivLoss(reduction="batchmean", log_target=True),
     lambda x, t: F.kl_div(x, t, reduction="batchmean", log_target=True)),
    (lambda: tg.nn.BCEWithLogitsLoss(pos_weight=POS_W),
     lambda x, t: F.binary_cross_entropy_with_logits(x, t, pos_weight=POS_W)),
    (lambda: tg.nn.BCELoss(weight=W3), lambda x, t: F.binary_cross_entropy(x, t, weight=W3)),
    (lambda: tg.nn.MSELoss(), F.mse_loss),
]


@pytest.mark.parametrize("make,fn", LOSS_MODULES)
def test_loss_modules_call_their_function(make, fn):
    rng = np.random.default_rng(0)
    x, t = _probs(rng, 5, 3), _probs(rng, 5, 3)
    np.testing.assert_array_equal(make()(x, t).data, fn(x, t).data)


def test_index_loss_modules_keep_weight_in_state_dict_as_torch():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal((5, 3))
    ours = tg.nn.CrossEntropyLoss(weight=W3, ignore_index=1, label_smoothing=0.1)
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(W3), ignore_index=1,
                                       label_smoothing=0.1)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    np.testing.assert_allclose(ours(x, Y_IGNORE_1).item(),
                               theirs(torch.tensor(x), torch.tensor(Y_IGNORE_1)).item(), rtol=1e-12)
    nll = tg.nn.NLLLoss(weight=W3, reduction="sum")
    np.testing.assert_allclose(
        nll(x, Y).item(),
        torch.nn.NLLLoss(weight=torch.tensor(W3), reduction="sum")(
            torch.tensor(x), torch.tensor(Y)).item(), rtol=1e-12)
    cos = tg.nn.CosineSimilarity(dim=0)
    np.testing.assert_allclose(cos(x, x[::-1]).data,
                               torch.nn.CosineSimilarity(dim=0)(torch.tensor(x),
                                                                torch.tensor(x[::-1].copy())),
                               rtol=1e-12)
    with pytest.raises(ValueError, match="reduction"):
        tg.nn.L1Loss(reduction="batchmean")
