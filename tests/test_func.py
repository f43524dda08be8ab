"""tg.func transforms against torch.func (float64, tight tolerances) and against
finite differences where torch is absent; vmap's vectorised path and its fallback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_mlp as tg
import tinygrad_mlp.func as tgf
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp import Tensor

TIGHT = {"rtol": 1e-10, "atol": 1e-12}

# ----- random functions built from the op list, written once for both libraries ------------

# each step maps (x, lib) -> value; lib is a namespace with the library's functions
STEPS = {
    "tanh": lambda x, L: L.tanh(x),
    "sigmoid": lambda x, L: L.sigmoid(x),
    "exp(-x²)": lambda x, L: L.exp(-(x * x)),
    "x·softmax": lambda x, L: x * L.softmax(x),
    "log_softmax": lambda x, L: L.log_softmax(x),
    "log(1+x²)": lambda x, L: L.log(x * x + 1.0),
    "sqrt(1+x²)": lambda x, L: L.sqrt(x * x + 1.0),
    "x³/(1+x²)": lambda x, L: x ** 3 / (x * x + 1.0),
    "matmul": lambda x, L: L.matmul(L.reshape(x, (-1, 1)), L.reshape(x, (1, -1))).sum(0),
    "flip via index": lambda x, L: x[::-1] * x,
    "cat": lambda x, L: L.cat([x[:1] * 2.0, x[1:]]),
    "sum·x": lambda x, L: x.sum() * x,
    "mean-centred": lambda x, L: x - x.mean(),
    "where": lambda x, L: L.where(L.const(np.arange(x.shape[0]) % 2 == 0), x * x, L.tanh(x)),
}


class TG:
    tanh, sigmoid, exp, log, sqrt = tg.tanh, tg.sigmoid, tg.exp, tg.log, tg.sqrt
    matmul, where = tg.matmul, tg.where

    @staticmethod
    def softmax(x):
        return x.softmax(-1)

    @staticmethod
    def log_softmax(x):
        return x.log_softmax(-1)

    @staticmethod
    def reshape(x, s):
        return x.reshape(s)

    @staticmethod
    def cat(xs):
        return tg.cat(xs)

    @staticmethod
    def const(a):
        return a


def torch_lib(torch):
    class TH:
        tanh, sigmoid, exp, log, sqrt = torch.tanh, torch.sigmoid, torch.exp, torch.log, torch.sqrt
        matmul, where = torch.matmul, torch.where

        @staticmethod
        def softmax(x):
            return torch.softmax(x, -1)

        @staticmethod
        def log_softmax(x):
            return torch.log_softmax(x, -1)

        @staticmethod
        def reshape(x, s):
            return x.reshape(s)

        @staticmethod
        def cat(xs):
            return torch.cat(xs)

        @staticmethod
        def const(a):
            return torch.tensor(a)

    # torch's x[::-1] is not allowed: use flip
    return TH


def compose(names):
    def fn(x, L):
        for n in names:
            if n == "flip via index" and L is not TG:
                x = x.flip(0) * x
            else:
                x = STEPS[n](x, L)
        return x

    return fn


programs = st.lists(st.sampled_from(sorted(STEPS)), min_size=1, max_size=3)
vectors = hnp.arrays(np.float64, st.integers(2, 4),
                     elements=st.floats(-2, 2, allow_nan=False, allow_infinity=False))


@given(programs, vectors, st.data())
def test_transforms_match_torch_func_on_random_programs(names, x, data):
    torch = pytest.importorskip("torch")
    f = compose(names)
    TH = torch_lib(torch)
    v = data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(-1, 1)))
    tx, tv = torch.tensor(x), torch.tensor(v)

    def ours(t):
        return f(t, TG)

    def theirs(t):
        return f(t, TH)

    def scalar_ours(t):
        return (ours(t) * Tensor(np.linspace(0.5, 1.5, ours(t).size))).sum()

    def scalar_theirs(t):
        y = theirs(t)
        return (y * torch.linspace(0.5, 1.5, y.numel(), dtype=torch.float64)).sum()

    out, d = tgf.jvp(ours, (x,), (v,))
    t_out, t_d = torch.func.jvp(theirs, (tx,), (tv,))
    np.testing.assert_allclose(out.data, t_out.numpy(), **TIGHT)
    np.testing.assert_allclose(d.data, t_d.numpy(), **TIGHT)
    _, vjp_fn = tgf.vjp(ours, x)
    _, t_vjp = torch.func.vjp(theirs, tx)
    w = np.cos(np.arange(out.size, dtype=np.float64)).reshape(out.shape)
    np.testing.assert_allclose(vjp_fn(w)[0].data, t_vjp(torch.tensor(w))[0].numpy(), **TIGHT)
    np.testing.assert_allclose(tgf.jacrev(ours)(x).data, torch.func.jacrev(theirs)(tx).numpy(),
                               **TIGHT)
    np.testing.assert_allclose(tgf.jacfwd(ours)(x).data, torch.func.jacfwd(theirs)(tx).numpy(),
                               **TIGHT)
    np.testing.assert_allclose(tgf.grad(scalar_ours)(x).data,
                               torch.func.grad(scalar_theirs)(tx).numpy(), **TIGHT)
    np.testing.assert_allclose(tgf.hessian(scalar_ours)(x).data,
                               torch.func.hessian(scalar_theirs)(tx).numpy(), rtol=1e-9,
                               atol=1e-11)


def test_hessian_is_forward_over_reverse_and_symmetric():
    """hessian = jacfwd(jacrev): equal to jacrev(jacrev) and to finite differences."""
    rng = np.random.default_rng(0)
    A = rng.standard_normal((3, 3))

    def f(x):
        return ((A @ x).tanh() * x).sum() + (x ** 4).sum()

    x = rng.standard_normal(3)
    h = tgf.hessian(f)(x).data
    h_rr = tgf.jacrev(tgf.jacrev(f))(x).data
    h_ff = tgf.jacfwd(tgf.jacfwd(f))(x).data
    np.testing.assert_allclose(h, h_rr, **TIGHT)
    np.testing.assert_allclose(h, h_ff, **TIGHT)
    np.testing.assert_allclose(h, h.T, **TIGHT)
    eps = 1e-5
    g = tgf.grad(f)
    numeric = np.stack([(g(x + eps * e).data - g(x - eps * e).data) / (2 * eps)
                        for e in np.eye(3)], axis=1)
    np.testing.assert_allclose(h, numeric, rtol=1e-6, atol=1e-8)


def test_hvp_matches_hessian_times_vector_and_torch():
    rng = np.random.default_rng(1)
    x, v = rng.standard_normal(4), rng.standard_normal(4)

    def f(t):
        return (t.sigmoid() * t.exp()).sum() * t.sum()

    value, hv = tgf.hvp(f, (x,), (v,))
    np.testing.assert_allclose(hv[0].data, tgf.hessian(f)(x).data @ v, **TIGHT)
    np.testing.assert_allclose(float(value), float(f(Tensor(x))), **TIGHT)
    torch = pytest.importorskip("torch")
    _, t_hv = torch.autograd.functional.hvp(
        lambda t: (torch.sigmoid(t) * torch.exp(t)).sum() * t.sum(), torch.tensor(x),
        torch.tensor(v))
    np.testing.assert_allclose(hv[0].data, t_hv.numpy(), **TIGHT)


def test_grad_argnums_and_has_aux():
    def f(a, b, scale):
        loss = ((a * b).sum() * scale) ** 2
        return loss, {"loss": loss}

    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    (ga, gb), aux = tgf.grad(f, argnums=(0, 1), has_aux=True)(a, b, 2.0)
    s = (a * b).sum() * 2.0
    np.testing.assert_allclose(ga.data, 2 * s * 2.0 * b)
    np.testing.assert_allclose(gb.data, 2 * s * 2.0 * a)
    assert float(aux["loss"]) == pytest.approx(s ** 2)
    gb_only = tgf.grad(lambda a, b: f(a, b, 2.0)[0], argnums=-1)(a, b)
    np.testing.assert_allclose(gb_only.data, gb.data)
    g, value = tgf.grad_and_value(lambda a: (a ** 2).sum())(a)
    np.testing.assert_allclose(g.data, 2 * a)
    assert float(value) == 5.0


def test_grad_of_grad_keeps_perturbations_apart():
    """d/dx [x · d/dy (x + y)] at y = x is 1 (the inner derivative is 1), not 2."""
    def outer(x):
        inner = tgf.grad(lambda y: (x + y).sum())(x)
        return (x * inner).sum()

    assert float(tgf.grad(outer)(np.array(3.0))) == 1.0
    # and the nested jvp (reverse construction inside forward mode) composes too
    _, d = tgf.jvp(lambda x: tgf.jvp(lambda y: (y ** 3).sum(), (x,), (np.ones(1),))[1],
                   (np.array([2.0]),), (np.ones(1),))
    assert float(d) == pytest.approx(12.0)  # d/dx 3x² = 6x


def test_transform_errors_are_clear():
    with pytest.raises(ValueError, match="single-element Tensor"):
        tgf.grad(lambda x: x * 2)(np.ones(3))
    with pytest.raises(TypeError, match="floating-point"):
        tgf.grad(lambda x: x.sum())(np.arange(3))
    with pytest.raises(ValueError, match="argnums 2 is out of range"):
        tgf.grad(lambda x: x.sum(), argnums=2)(np.ones(3))
    with pytest.raises(ValueError, match="cotangent 0 has shape"):
        tgf.vjp(lambda x: x * 2, np.ones(3))[1](np.ones(2))
    with pytest.raises(TypeError, match="has_aux=True"):
        tgf.grad(lambda x: x.sum(), has_aux=True)(np.ones(3))
    for jac in (tgf.jacrev, tgf.jacfwd):
        with pytest.raises(TypeError, match="returned 2 outputs; a Jacobian needs a single"):
            jac(lambda x: (x, x * 2))(np.ones(2))


def test_gradcheck_check_forward_ad_uses_the_jvp_rules():
    x = Tensor(np.array([0.3, -0.7]), requires_grad=True)
    assert tg.gradcheck(lambda t: (t.sigmoid() * t.tanh()).sum(), [x], check_forward_ad=True)

    class RightBackWrongJvp(tg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

        @staticmethod
        def jvp(ctx, t):
            """Wrong on purpose: d(x²) is 2x·t."""
            return t

    with pytest.raises(tg.GradcheckError):
        tg.gradcheck(RightBackWrongJvp.apply, [x], check_forward_ad=True)
    assert tg.gradcheck(RightBackWrongJvp.apply, [x])  # backward alone is right


# ----- vmap --------------------------------------------------------------------------------------


def _mlp_params(rng, sizes=(6, 5, 3)):
    params = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        params += [rng.standard_normal((n_out, n_in)) * 0.5, rng.standard_normal(n_out) * 0.1]
    return [Tensor(p) for p in params]


def _loss(W1, b1, W2, b2, x, y):
    h = tg.linear(x, W1, b1).sigmoid()
    return F.cross_entropy(h @ W2.T + b2, y)


def test_vmap_per_example_gradients_are_vectorised_and_match_a_loop():
    rng = np.random.default_rng(0)
    params = _mlp_params(rng)
    x, y = rng.random((7, 6)), rng.integers(0, 3, 7)
    per_example = tgf.vmap(tgf.grad(_loss, argnums=(0, 1, 2, 3)), in_dims=(None,) * 4 + (0, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the vectorised path: no fallback warning
        grads = per_example(*params, x, y)
    assert [g.shape for g in grads] == [(7,) + p.shape for p in params]
    for i in range(7):
        expected = tgf.grad(_loss, argnums=(0, 1, 2, 3))(*params, x[i], y[i])
        for g, e in zip(grads, expected, strict=True):
            np.testing.assert_allclose(g.data[i], e.data, **TIGHT)


def test_vmap_per_example_gradients_match_torch_func():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    params = _mlp_params(rng)
    x, y = rng.random((5, 6)), rng.integers(0, 3, 5)
    ours = tgf.vmap(tgf.grad(_loss, argnums=(0, 2)), in_dims=(None,) * 4 + (0, 0))(*params, x, y)

    def tloss(W1, b1, W2, b2, x, y):
        h = torch.sigmoid(x @ W1.T + b1)
        return torch.nn.functional.cross_entropy(h @ W2.T + b2, y)

    theirs = torch.func.vmap(torch.func.grad(tloss, argnums=(0, 2)), in_dims=(None,) * 4 + (0, 0))(
        *[torch.tensor(p.data) for p in params], torch.tensor(x), torch.tensor(y))
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_allclose(a.data, b.numpy(), **TIGHT)


@given(st.sampled_from([0, 1, -1]), st.sampled_from([0, 1]), st.data())
def test_vmap_in_and_out_dims_match_torch(in_dim, out_dim, data):
    torch = pytest.importorskip("torch")
    a = data.draw(hnp.arrays(np.float64, (3, 4), elements=st.floats(-2, 2)))
    w = np.linspace(-1, 1, 12).reshape(4, 3)

    def ours(v):  # one example: a vector of 4
        return (v @ Tensor(w)).softmax(-1) * v.sum()

    def theirs(v):
        return torch.softmax(v @ torch.tensor(w), -1) * v.sum()

    arg = a if in_dim == 0 else np.ascontiguousarray(a.T)  # the 3 examples along axis 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = tgf.vmap(ours, in_dims=in_dim, out_dims=out_dim)(arg)
    want = torch.func.vmap(theirs, in_dims=in_dim, out_dims=out_dim)(torch.tensor(arg))
    np.testing.assert_allclose(got.data, want.numpy(), **TIGHT)


def test_vmap_batching_rules_for_shape_ops_and_reductions():
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((4, 2, 3))

    def f(x):  # per example x: (2, 3)
        t = x.T.reshape(6)[1:5]
        m = x.max(axis=0) + x.sum() + x.mean(axis=-1).sum()
        return tg.cat([t, m]) * tg.stack([x[0], x[1]], axis=1).sum(axis=1).sum()

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = tgf.vmap(f)(xs)
    want = np.stack([f(Tensor(x)).data for x in xs])
    np.testing.assert_allclose(got.data, want, **TIGHT)


def test_vmap_falls_back_to_a_loop_with_a_warning_when_data_steers_the_ops():
    xs = np.array([[1.0, -2.0], [-3.0, 4.0], [5.0, 6.0]])

    def f(x):  # Python control flow on the values: different ops per example
        return x * 2 if float(x.sum()) > 0 else x.exp()

    with pytest.warns(RuntimeWarning, match="runs example by example"):
        got = tgf.vmap(f)(xs)
    np.testing.assert_allclose(got.data, np.stack([f(Tensor(x)).data for x in xs]))

    def g(x):  # a constant computed from the data outside tinygrad ops
        return x * Tensor(np.sign(x.data))

    with pytest.warns(RuntimeWarning, match="runs example by example"):
        got = tgf.vmap(g)(xs)
    np.testing.assert_allclose(got.data, np.abs(xs))


def test_vmap_is_differentiable_and_checks_batch_sizes():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    out = tgf.vmap(lambda r: (r * r).sum())(x)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)
    with pytest.raises(ValueError, match="batch size 3 along its mapped axis"):
        tgf.vmap(lambda a, b: a + b)(np.ones((2, 1)), np.ones((3, 1)))
    with pytest.raises(ValueError, match="at least one argument must be mapped"):
        tgf.vmap(lambda a: a, in_dims=None)(np.ones(2))


def test_vmap_benchmark_runs_and_its_contenders_agree(capsys):
    """benchmarks/vmap.py at a tiny size: it checks the three ways agree before timing."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "vmap.py"
    spec = importlib.util.spec_from_file_location("bench_vmap", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--batch", "4", "--hidden", "8", "--repeats", "1",
                        "--dtype", "float64"]) == 0
    out = capsys.readouterr().out
    assert "tg vmap" in out and "tg loop" in out


@pytest.mark.parametrize("transform", ["grad", "jacrev", "jacfwd", "hessian"])
def test_vmap_of_a_transform_is_vectorised(transform):
    """Per-example Jacobians and Hessians: the transform's own ops are traced and replayed."""
    def f(r):
        return (r.tanh() ** 3).sum() * r.sum() if transform in ("grad", "hessian") else (
            r.sigmoid() * r.sum())

    g = getattr(tgf, transform)(f)
    xs = np.random.default_rng(3).standard_normal((5, 3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = tgf.vmap(g)(xs)
    want = np.stack([g(x).data for x in xs])
    np.testing.assert_allclose(got.data, want, **TIGHT)


def test_reverse_mode_through_jvp_gives_hessian_vector_products():
    x, v = np.array([0.5, -1.0, 2.0]), np.array([1.0, 2.0, -1.0])

    def f(t):
        return (t.sigmoid() * t * t).sum()

    hv = tgf.grad(lambda t: tgf.jvp(f, (t,), (v,))[1])(x)
    np.testing.assert_allclose(hv.data, tgf.hessian(f)(x).data @ v, **TIGHT)


def test_vmap_of_a_function_with_in_place_ops_runs_example_by_example():
    """A tape cannot repeat an in-place op: vmap says so and loops (it raised tg.jit's
    error before), with the looped result and per-example gradients."""
    def f(x):
        y = x * 2.0
        y[:, 1:].mul_(x[:, :1])
        y.exp_()
        return (y * y).sum()

    xs = np.random.default_rng(0).uniform(-1, 1, (4, 3, 2))
    with pytest.warns(RuntimeWarning, match="example by example .*in-place"):
        out = tg.func.vmap(f)(tg.tensor(xs))
    np.testing.assert_allclose(out.numpy(), [f(tg.tensor(x)).item() for x in xs], rtol=1e-12)
    with pytest.warns(RuntimeWarning, match="in-place"):
        grads = tg.func.vmap(tg.func.grad(f))(tg.tensor(xs))
    for g, x in zip(grads.numpy(), xs, strict=True):
        np.testing.assert_allclose(g, tg.func.grad(f)(tg.tensor(x)).numpy(), rtol=1e-12)
