"""The PyTorch surface (issue 12) against PyTorch itself: one helper, one line per op.

Each line is ``(id, fn, inputs)`` where ``fn(m, *xs)`` is written once for both libraries
(``m`` is ``tinygrad_mlp`` or ``torch``, the xs are that library's tensors), as tinygrad's
test_ops does; a pair ``(tg_fn, torch_fn)`` is used only where the spellings differ. On
float64 inputs the helper compares the forward values, the gradients for a random
upstream gradient and, with ``create_graph=True``, second-order gradients. Fixed inputs
put zeros and ties exactly where the conventions matter (prod at zeros, norm at zero,
max(dim=) ties, rounding at halves).

Skipped when torch is not installed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_mlp as tg  # noqa: E402


def rand(*shape, lo=-2.0, hi=2.0):
    return ("rand", shape, lo, hi)


def fixed(values):
    return ("fixed", np.asarray(values, dtype=np.float64))


IDX = np.array([[0, 2], [1, 1], [2, 0]])
ROWS = np.array([0, 2, 0])
ZEROS = [[2.0, 0.0, 3.0, -1.5], [0.0, 0.0, 5.0, 1.0], [1.5, -2.0, 0.5, 3.0]]
TIES = [[1.0, 3.0, 3.0, -1.0], [2.0, -2.0, 2.0, 0.0]]
HALVES = [-2.5, -1.5, -0.5, 0.0, 0.4, 0.5, 1.5, 2.7]

CASES = [
    # elementwise
    ("sin", lambda m, x: x.sin(), [rand(3, 4)]),
    ("cos", lambda m, x: m.cos(x), [rand(3, 4)]),
    ("tan", lambda m, x: x.tan(), [rand(3, 4, lo=-1.2, hi=1.2)]),
    ("log2", lambda m, x: x.log2(), [rand(3, 4, lo=0.2, hi=4.0)]),
    ("log1p", lambda m, x: m.log1p(x), [rand(3, 4, lo=-0.7, hi=4.0)]),
    ("exp2", lambda m, x: x.exp2(), [rand(3, 4)]),
    ("expm1", lambda m, x: x.expm1(), [rand(3, 4)]),
    ("rsqrt", lambda m, x: x.rsqrt(), [rand(3, 4, lo=0.2, hi=4.0)]),
    ("reciprocal", lambda m, x: x.reciprocal(), [rand(3, 4, lo=0.3, hi=4.0)]),
    ("square", lambda m, x: x.square(), [rand(3, 4)]),
    ("sign", lambda m, x: x.sign() * x, [fixed(HALVES)]),
    ("floor", lambda m, x: x.floor() + x, [fixed(HALVES)]),
    ("ceil", lambda m, x: x.ceil() * x, [fixed(HALVES)]),
    ("round", lambda m, x: x.round() * x, [fixed(HALVES)]),
    ("trunc", lambda m, x: m.trunc(x) * x, [fixed(HALVES)]),
    ("abs_builtin", lambda m, x: abs(x) * x, [rand(3, 4)]),
    ("pos", lambda m, x: (+x) * x, [rand(3)]),
    ("clamp_min_kw", lambda m, x: x.clamp(min=-0.5) * x, [rand(3, 4)]),
    ("clamp_both", lambda m, x: m.clamp(x, -0.5, 0.7) * x, [rand(3, 4)]),
    ("clone", lambda m, x: x.clone() * x, [rand(2, 3)]),
    ("contiguous", lambda m, x: x.T.contiguous() @ x, [rand(2, 3)]),
    # shape
    ("view", lambda m, x: x.view(-1) * x.view(6), [rand(2, 3)]),
    ("squeeze", lambda m, x: x.squeeze() ** 2, [rand(2, 1, 3, 1)]),
    ("squeeze_dim", lambda m, x: x.squeeze(dim=-1) ** 2, [rand(2, 1, 3, 1)]),
    ("squeeze_not_one", lambda m, x: x.squeeze(0) ** 2, [rand(2, 1, 3)]),
    ("unsqueeze", lambda m, x: x.unsqueeze(-1) * x.unsqueeze(dim=1), [rand(2, 3)]),
    ("flatten_dims", lambda m, x: x.flatten(1, 2) ** 2, [rand(2, 3, 2, 2)]),
    ("flatten_fn", lambda m, x: m.flatten(x, -2) ** 2, [rand(2, 3, 2)]),
    ("unflatten", lambda m, x: x.unflatten(1, (2, 3)) ** 2, [rand(2, 6)]),
    ("repeat", lambda m, x: x.repeat(2, 1, 3) ** 2, [rand(2, 3)]),
    ("tile", lambda m, x: m.tile(x, (2,)) ** 2, [rand(2, 3)]),
    ("pad_flat", (lambda m, x: x.pad((1, 2, 0, 1), 0.5) ** 2,
                  lambda m, x: torch.nn.functional.pad(x, (1, 2, 0, 1), value=0.5) ** 2),
     [rand(2, 3)]),
    ("flip", lambda m, x: x.flip(0, 1) * x.flip((0,)), [rand(2, 3)]),
    ("flip_dims", lambda m, x: m.flip(x, dims=(-1,)) * x, [rand(2, 3)]),
    ("roll", lambda m, x: x.roll(1, 0) * x, [rand(3, 2)]),
    ("roll_multi", lambda m, x: m.roll(x, shifts=(1, -1), dims=(0, 1)) * x, [rand(3, 4)]),
    ("roll_flat", lambda m, x: x.roll(2) * x, [rand(3, 2)]),
    ("split", lambda m, x: m.cat([p * (i + 1) for i, p in enumerate(x.split(2, 1))], 1) ** 2,
     [rand(2, 5)]),
    ("split_sizes", lambda m, x: x.split([1, 3], dim=0)[1] ** 2, [rand(4, 2)]),
    ("chunk", lambda m, x: x.chunk(3, -1)[2] ** 2 + x.chunk(3, -1)[0][:, :1], [rand(2, 7)]),
    ("unbind", lambda m, x: x.unbind(1)[1] * x.unbind(1)[2], [rand(2, 3)]),
    ("narrow", lambda m, x: x.narrow(1, -3, 2) ** 2, [rand(2, 5)]),
    ("hstack", lambda m, x, y: m.hstack([x, y * y]), [rand(2, 3), rand(2, 1)]),
    ("vstack", lambda m, x, y: m.vstack([x, y * y]), [rand(3), rand(2, 3)]),
    ("tril", lambda m, x: x.tril() * x, [rand(3, 4)]),
    ("triu_k", lambda m, x: m.triu(x, 1) * x, [rand(2, 3, 3)]),
    ("triu_diagonal", lambda m, x: x.triu(diagonal=-1) * x, [rand(4, 3)]),
    ("expand", lambda m, x: x.expand(2, -1, 3) ** 2, [rand(4, 1)]),
    ("permute", lambda m, x: x.permute(-1, 0, 1) * x.permute(2, 0, 1), [rand(2, 3, 4)]),
    ("permute_tuple", lambda m, x: m.permute(x, (1, 0)) ** 2, [rand(2, 3)]),
    ("transpose_neg", (lambda m, x: x.transpose((-1, 0, 1)) ** 2,
                       lambda m, x: x.permute(-1, 0, 1) ** 2), [rand(2, 3, 4)]),
    ("transpose_swap_3d", lambda m, x: x.transpose(0, -1) ** 2, [rand(2, 3, 4)]),
    # reductions
    ("prod", lambda m, x: x.prod(), [rand(2, 3, lo=0.5, hi=1.5)]),
    ("prod_dim_zeros", lambda m, x: x.prod(dim=1), [fixed(ZEROS)]),
    ("prod_keepdim_zeros", lambda m, x: m.prod(x, 0, keepdim=True), [fixed(ZEROS)]),
    ("cumsum", lambda m, x: x.cumsum(dim=1) ** 2, [rand(3, 4)]),
    ("cumsum_neg", lambda m, x: m.cumsum(x, -2) ** 2, [rand(3, 4)]),
    ("cumprod", lambda m, x: x.cumprod(1), [rand(3, 4)]),
    ("cumprod_zeros", lambda m, x: x.cumprod(dim=-1), [fixed(ZEROS)]),
    ("var", lambda m, x: x.var(), [rand(3, 4)]),
    ("var_dim", lambda m, x: x.var(dim=1, keepdim=True), [rand(3, 4)]),
    ("var_correction", lambda m, x: m.var(x, 0, correction=0), [rand(3, 4)]),
    ("var_unbiased", lambda m, x: x.var(1, unbiased=False), [rand(3, 4)]),
    ("std", lambda m, x: x.std(), [rand(3, 4)]),
    ("std_dims", lambda m, x: x.std(dim=(0, -1), correction=2), [rand(3, 2, 4)]),
    ("logsumexp", lambda m, x: x.logsumexp(1), [rand(3, 4)]),
    ("logsumexp_huge", lambda m, x: m.logsumexp(x, dim=0, keepdim=True),
     [fixed([[1e4, -1e4], [1e4 - 1, 3.0]])]),
    ("norm", lambda m, x: x.norm(), [rand(3, 4)]),
    ("norm_dim", lambda m, x: x.norm(dim=1, keepdim=True), [rand(3, 4)]),
    ("norm_p1", lambda m, x: x.norm(p=1, dim=0), [rand(3, 4)]),
    ("norm_p3", lambda m, x: x.norm(3, 1), [rand(3, 4)]),
    ("norm_inf", lambda m, x: x.norm(p=math.inf, dim=1), [rand(3, 4)]),
    # at 0 the first derivative is torch's 0; the second is undefined (torch: NaN, ours: 0)
    ("norm_zero_row", lambda m, x: x.norm(dim=1), [fixed([[0.0, 0.0], [3.0, 4.0]])], False),
    ("amax", lambda m, x: x.amax(1), [fixed(TIES)]),
    ("amin_dims", lambda m, x: m.amin(x, dim=(0, 1)), [fixed(TIES)]),
    ("max_dim_values", lambda m, x: x.max(dim=1)[0], [fixed(TIES)]),
    ("max_dim_pair", lambda m, x: x.max(dim=-1, keepdim=True).values * 2, [fixed(TIES)]),
    ("min_dim_values", lambda m, x: m.min(x, dim=0).values, [fixed(TIES)]),
    ("sum_dim", lambda m, x: x.sum(dim=(0, 2), keepdim=True) ** 2, [rand(2, 3, 2)]),
    ("mean_dim", lambda m, x: m.mean(x, dim=-1) ** 2, [rand(2, 3)]),
    ("sum_0d_axis0", lambda m, x: x.sum(0) * x.mean(-1), [fixed(1.5)]),
    ("softmax_dim", lambda m, x: x.softmax(dim=0) * x, [rand(3, 2)]),
    ("log_softmax_dim", lambda m, x: x.log_softmax(dim=-1) * x, [rand(3, 2)]),
    # indexing along an axis
    ("gather", lambda m, x: x.gather(1, m.tensor(IDX[:, :1])) ** 2, [rand(3, 3)]),
    ("gather_repeats", lambda m, x: m.gather(x, 0, m.tensor(IDX.T)) ** 2, [rand(3, 3)]),
    ("take_along_dim", (lambda m, x: m.take_along_axis(x, IDX, 1) ** 2,
                        lambda m, x: torch.take_along_dim(x, torch.tensor(IDX), 1) ** 2),
     [rand(3, 4)]),
    ("index_select", lambda m, x: x.index_select(0, m.tensor(ROWS)) ** 2, [rand(3, 2)]),
    ("scatter_add", lambda m, x, s: x.scatter_add(1, m.tensor(IDX), s * s), [rand(3, 3),
                                                                             rand(3, 2)]),
    ("index_add", lambda m, x, s: m.index_add(x, 0, m.tensor(ROWS), s * s, alpha=0.5),
     [rand(3, 2), rand(3, 2)]),
    # products
    ("einsum_matmul", lambda m, a, b: m.einsum("ij,jk->ik", a, b), [rand(2, 3), rand(3, 2)]),
    ("einsum_batch", lambda m, a, b: m.einsum("bij,bkj->bik", a, b), [rand(2, 2, 3),
                                                                      rand(2, 2, 3)]),
    ("einsum_trace", lambda m, a: m.einsum("ii", a), [rand(3, 3)]),
    ("einsum_diag", lambda m, a: m.einsum("ii->i", a) ** 2, [rand(3, 3)]),
    ("einsum_ellipsis", lambda m, a, b: m.einsum("...ij,...j->...i", a, b), [rand(2, 3, 4),
                                                                             rand(4)]),
    ("einsum_list", lambda m, a, b: m.einsum("i,j->ij", [a, b]), [rand(3), rand(2)]),
    ("einsum_sum_only", lambda m, a: m.einsum("ijk->j", a) ** 2, [rand(2, 3, 2)]),
    ("outer", lambda m, a, b: m.outer(a, b) ** 2, [rand(3), rand(2)]),
    ("outer_method", lambda m, a, b: a.outer(b) ** 2, [rand(3), rand(2)]),
    ("dot", lambda m, a, b: m.dot(a, b) ** 2, [rand(4), rand(4)]),
    ("dot_method", lambda m, a, b: a.dot(b) * a, [rand(4), rand(4)]),
    # dtypes
    ("double", lambda m, x: x.float().double() * x, [rand(3)]),
]


def _inputs(specs, rng):
    out = []
    for kind, *rest in specs:
        if kind == "fixed":
            out.append(rest[0].copy())
        else:
            shape, lo, hi = rest
            out.append(rng.uniform(lo, hi, shape))
    return out


def _leaves(arrays, lib):
    if lib is tg:
        return [tg.Tensor(a, requires_grad=True) for a in arrays]
    return [torch.tensor(a, requires_grad=True) for a in arrays]


def _grads(out, leaves, upstream, lib, create_graph=False):
    if lib is tg:
        return tg.grad(out, leaves, grad_outputs=tg.Tensor(upstream), create_graph=create_graph,
                       allow_unused=True)
    return torch.autograd.grad(out, leaves, grad_outputs=torch.tensor(upstream),
                               create_graph=create_graph, allow_unused=True)


def _np(t, n):
    if t is None:
        return np.zeros(n)
    return t.data if isinstance(t, tg.Tensor) else t.detach().numpy(force=True)  # ZeroTensors


def compare(fn, specs, second_order=True, seed=0):
    """Values, first- and second-order gradients of ``fn`` in tinygrad and torch agree."""
    tg_fn, torch_fn = fn if isinstance(fn, tuple) else (fn, fn)
    rng = np.random.default_rng(seed)
    arrays = _inputs(specs, rng)
    results = {}
    for lib, f in ((tg, tg_fn), (torch, torch_fn)):
        leaves = _leaves(arrays, lib)
        out = f(lib, *leaves)
        g_rng = np.random.default_rng(seed + 1)
        upstream = g_rng.standard_normal(tuple(out.shape))
        first = _grads(out, leaves, upstream, lib, create_graph=True)
        vs = [g_rng.standard_normal(a.shape) for a in arrays]
        total = sum((g * (tg.Tensor(v) if lib is tg else torch.tensor(v))).sum()
                    for g, v in zip(first, vs, strict=True) if g is not None and g.requires_grad)
        second = (_grads(total, leaves, np.array(1.0), lib) if not isinstance(total, int)
                  else [None] * len(leaves))
        results[lib] = (_np(out, 0), [_np(g, a.shape) for g, a in zip(first, arrays, strict=True)],
                        [_np(g, a.shape) for g, a in zip(second, arrays, strict=True)])
    (v_tg, g_tg, h_tg), (v_t, g_t, h_t) = results[tg], results[torch]
    np.testing.assert_allclose(v_tg, v_t, rtol=1e-9, atol=1e-10, err_msg="values")
    for i, (a, b) in enumerate(zip(g_tg, g_t, strict=True)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10, err_msg=f"gradient of input {i}")
    for i, (a, b) in enumerate(zip(h_tg, h_t, strict=True) if second_order else ()):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-9,
                                   err_msg=f"second-order gradient of input {i}")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_matches_torch(case):
    compare(*case[1:])


def test_factories_match_torch():
    for ours, theirs in (
        (tg.tensor([1, 2]), torch.tensor([1, 2])), (tg.tensor([1.5]), torch.tensor([1.5])),
        (tg.tensor([True]), torch.tensor([True])), (tg.zeros(2, 3), torch.zeros(2, 3)),
        (tg.ones((2,)), torch.ones((2,))), (tg.full((2, 2), 3), torch.full((2, 2), 3)),
        (tg.full((2,), 0.5), torch.full((2,), 0.5)), (tg.arange(5), torch.arange(5)),
        (tg.arange(1, 4, 0.5), torch.arange(1, 4, 0.5)), (tg.linspace(0, 1, 5),
                                                            torch.linspace(0, 1, 5)),
        (tg.eye(3, 2), torch.eye(3, 2)),
    ):
        assert ours.shape == tuple(theirs.shape)
        assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
        np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-7)


@pytest.mark.parametrize("name", ["sum", "max", "min", "prod", "cumsum", "argmax", "argmin"])
def test_integer_reductions_are_exact_as_torch(name):
    a = np.array([[2**40 + 1, 3], [5, 2**40 + 7]])
    ours, theirs = getattr(tg.tensor(a), name)(dim=1), getattr(torch.tensor(a), name)(dim=1)
    if name in ("max", "min"):
        ours, theirs = ours.values, theirs.values
    np.testing.assert_array_equal(ours.data, theirs.numpy())
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")
