"""PyTorch as an independent oracle: values, first-order and second-order gradients.

For every case in the table, on float64 inputs: the forward value, the gradient of each
input for a random upstream gradient ``g`` (``tg.grad`` vs ``torch.autograd.grad``), and
the second-order gradient ∂/∂x (Σᵢ gradᵢ·vᵢ) for random ``vᵢ`` (both built with
``create_graph=True``). Edge cases where the conventions matter are included: huge
logits, kinks (relu/abs at 0, clamp at its bounds), ties (amax/amin, maximum/minimum),
repeated indices, every 1-D matmul case and broadcast batch dimensions.

Skipped when torch is not installed (CI installs only the ``test`` extra).
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tinygrad_mlp as tg  # noqa: E402
from tinygrad_mlp import Tensor  # noqa: E402

F = torch.nn.functional


def rand(*shape, lo=-2.0, hi=2.0):
    """A spec for a random input: drawn per seed in [lo, hi]."""
    return ("rand", shape, lo, hi)


def fixed(values):
    return ("fixed", np.asarray(values, dtype=np.float64))


MASK = np.array([[True, False, True, True], [False, False, True, False], [True, True, False,
                                                                            True]])
REPEATS = [2, 0, 2, 2, 1]
TIES = [[1.0, 3.0, 3.0, -1.0], [2.0, 2.0, 2.0, 2.0], [-5.0, 0.5, -5.0, 0.5]]

# (id, tinygrad fn, torch fn, input specs)
CASES = [
    # arithmetic, with broadcasting
    ("add", lambda a, b: a + b, lambda a, b: a + b, [rand(3, 1, 4), rand(2, 4)]),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, [rand(2, 4), rand(3, 1, 4)]),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, [rand(3, 1, 4), rand(1, 2, 1)]),
    ("div", lambda a, b: a / b, lambda a, b: a / b, [rand(3, 4), rand(4, lo=0.5, hi=2.0)]),
    ("scalars", lambda a: (2.0 - a) * 3.0 / (a * a + 1) + 1.5 / (a + 3),
     lambda a: (2.0 - a) * 3.0 / (a * a + 1) + 1.5 / (a + 3), [rand(5)]),
    ("pow_tensor", lambda a, b: a**b, lambda a, b: a**b, [rand(3, 4, lo=0.5, hi=2.0),
                                                           rand(4, lo=-2.0, hi=2.0)]),
    ("pow_2", lambda a: a**2, lambda a: a**2, [rand(3, 4)]),
    ("pow_3", lambda a: a**3, lambda a: a**3, [rand(3, 4)]),
    ("pow_half", lambda a: a**0.5, lambda a: a**0.5, [rand(3, 4, lo=0.2, hi=3.0)]),
    ("pow_neg", lambda a: a**-1.5, lambda a: a**-1.5, [rand(3, 4, lo=0.2, hi=3.0)]),
    ("pow_0_at_0", lambda a: a**0, lambda a: a**0, [fixed([0.0, 1.0, -2.0])]),
    ("pow_1_at_0", lambda a: a**1, lambda a: a**1, [fixed([0.0, 1.0, -2.0])]),
    ("rpow", lambda a: 2.0**a, lambda a: 2.0**a, [rand(3, 4)]),
    ("neg", lambda a: -a, lambda a: -a, [rand(3, 4)]),
    # matmul: every case numpy defines
    ("matmul_2d", lambda a, b: a @ b, lambda a, b: a @ b, [rand(3, 4), rand(4, 2)]),
    ("matmul_batched_broadcast", lambda a, b: a @ b, lambda a, b: a @ b,
     [rand(2, 1, 3, 4), rand(5, 4, 2)]),
    ("matmul_1d_2d", lambda a, b: a @ b, lambda a, b: a @ b, [rand(4), rand(4, 3)]),
    ("matmul_2d_1d", lambda a, b: a @ b, lambda a, b: a @ b, [rand(3, 4), rand(4)]),
    ("matmul_1d_1d", lambda a, b: a @ b, lambda a, b: a @ b, [rand(4), rand(4)]),
    ("matmul_1d_3d", lambda a, b: a @ b, lambda a, b: a @ b, [rand(4), rand(2, 4, 3)]),
    ("matmul_3d_1d", lambda a, b: a @ b, lambda a, b: a @ b, [rand(2, 3, 4), rand(4)]),
    ("linear", tg.linear, F.linear, [rand(5, 3), rand(4, 3), rand(4)]),
    ("linear_nobias_3d", tg.linear, F.linear, [rand(2, 5, 3), rand(4, 3)]),
    ("linear_1d", tg.linear, F.linear, [rand(3), rand(4, 3), rand(4)]),
    # elementwise
    ("exp", Tensor.exp, torch.exp, [rand(3, 4)]),
    ("log", Tensor.log, torch.log, [rand(3, 4, lo=0.1, hi=5.0)]),
    ("sqrt", Tensor.sqrt, torch.sqrt, [rand(3, 4, lo=0.1, hi=5.0)]),
    ("abs", Tensor.abs, torch.abs, [rand(3, 4)]),
    ("sigmoid", Tensor.sigmoid, torch.sigmoid, [rand(3, 4, lo=-6, hi=6)]),
    ("tanh", Tensor.tanh, torch.tanh, [rand(3, 4)]),
    ("relu", Tensor.relu, torch.relu, [rand(3, 4)]),
    ("clip", lambda a: a.clip(-0.5, 1.0), lambda a: a.clamp(-0.5, 1.0), [rand(3, 4)]),
    ("clip_lo_only", lambda a: a.clip(0.0, None), lambda a: a.clamp(min=0.0), [rand(3, 4)]),
    ("where", lambda a, b: tg.where(MASK, a, b), lambda a, b: torch.where(
        torch.from_numpy(MASK), a, b), [rand(3, 4), rand(4)]),
    ("maximum", tg.maximum, torch.maximum, [rand(3, 4), rand(4)]),
    ("minimum", tg.minimum, torch.minimum, [rand(3, 4), rand(3, 1)]),
    # reductions and normalisations
    ("sum_all", Tensor.sum, torch.sum, [rand(2, 3, 4)]),
    ("sum_axis", lambda a: a.sum(axis=1), lambda a: a.sum(dim=1), [rand(2, 3, 4)]),
    ("sum_neg_tuple_keepdims", lambda a: a.sum(axis=(0, -1), keepdims=True),
     lambda a: a.sum(dim=(0, -1), keepdim=True), [rand(2, 3, 4)]),
    ("mean_all", Tensor.mean, torch.mean, [rand(2, 3, 4)]),
    ("mean_tuple", lambda a: a.mean(axis=(0, 2)), lambda a: a.mean(dim=(0, 2)),
     [rand(2, 3, 4)]),
    ("max_all", Tensor.max, torch.amax, [rand(2, 3, 4)]),
    ("max_axis_keepdims", lambda a: a.max(axis=-1, keepdims=True),
     lambda a: a.amax(dim=-1, keepdim=True), [rand(2, 3, 4)]),
    ("min_tuple", lambda a: a.min(axis=(0, 1)), lambda a: a.amin(dim=(0, 1)), [rand(2, 3, 4)]),
    ("softmax_last", Tensor.softmax, lambda a: torch.softmax(a, -1), [rand(3, 4)]),
    ("softmax_axis0", lambda a: a.softmax(axis=0), lambda a: torch.softmax(a, 0),
     [rand(3, 4, 2)]),
    ("log_softmax_last", Tensor.log_softmax, lambda a: torch.log_softmax(a, -1), [rand(3, 4)]),
    ("log_softmax_axis1", lambda a: a.log_softmax(axis=1), lambda a: torch.log_softmax(a, 1),
     [rand(2, 3, 4)]),
    # shape ops and indexing
    ("reshape", lambda a: a.reshape(4, -1), lambda a: a.reshape(4, -1), [rand(2, 3, 4)]),
    ("transpose_perm", lambda a: a.transpose(1, 2, 0), lambda a: a.permute(1, 2, 0),
     [rand(2, 3, 4)]),
    ("transpose_none", lambda a: a.transpose(), lambda a: a.permute(2, 1, 0), [rand(2, 3, 4)]),
    ("T", lambda a: a.T, lambda a: a.T, [rand(3, 4)]),
    ("flatten", Tensor.flatten, torch.flatten, [rand(2, 3, 4)]),
    ("broadcast_to", lambda a: a.broadcast_to((2, 3, 4)), lambda a: a.expand(2, 3, 4),
     [rand(3, 1)]),
    ("getitem_slices", lambda a: a[1:, ::2, 1], lambda a: a[1:, ::2, 1], [rand(3, 4, 2)]),
    ("getitem_repeated", lambda a: a[REPEATS], lambda a: a[REPEATS], [rand(3, 4)]),
    ("getitem_repeated_axis1", lambda a: a[:, np.array(REPEATS)],
     lambda a: a[:, torch.tensor(REPEATS)], [rand(2, 3)]),
    ("getitem_pairs", lambda a: a[np.array([0, 2, 0]), np.array([1, 1, 1])],
     lambda a: a[torch.tensor([0, 2, 0]), torch.tensor([1, 1, 1])], [rand(3, 4)]),
    ("getitem_mask", lambda a: a[MASK], lambda a: a[torch.from_numpy(MASK)], [rand(3, 4)]),
    ("cat", lambda a, b: tg.cat([a, b, a], axis=1), lambda a, b: torch.cat([a, b, a], 1),
     [rand(2, 3), rand(2, 1)]),
    ("stack", lambda a, b: tg.stack([a, b], axis=-1), lambda a, b: torch.stack([a, b], -1),
     [rand(2, 3), rand(2, 3)]),
    ("composite", lambda x, w, b: (tg.linear(x, w, b).tanh() @ w).log_softmax().sum(axis=0),
     lambda x, w, b: (F.linear(x, w, b).tanh() @ w).log_softmax(-1).sum(0),
     [rand(5, 3), rand(3, 3), rand(3)]),
    # edge cases: conventions and numerics
    ("sigmoid_huge", Tensor.sigmoid, torch.sigmoid,
     [fixed([1000.0, -1000.0, 0.0, 30.0, -30.0, 700.0, -745.0])]),
    ("log_softmax_1e4_apart", Tensor.log_softmax, lambda a: torch.log_softmax(a, -1),
     [fixed([[0.0, 1e4, -1e4], [5.0, 5.0, 5.0 - 1e4], [-1e4, -1e4 + 1.0, -2e4]])]),
    ("softmax_1e4_apart", Tensor.softmax, lambda a: torch.softmax(a, -1),
     [fixed([[0.0, 1e4, -1e4], [5.0, 5.0, 5.0 - 1e4]])]),
    ("relu_at_0", Tensor.relu, torch.relu, [fixed([-1.0, 0.0, 0.0, 2.0])]),
    ("abs_at_0", Tensor.abs, torch.abs, [fixed([-1.0, 0.0, 0.0, 2.0])]),
    ("clamp_at_bounds", lambda a: a.clip(-1.0, 1.0), lambda a: a.clamp(-1.0, 1.0),
     [fixed([-2.0, -1.0, 0.0, 1.0, 2.0])]),
    ("amax_ties_all", Tensor.max, torch.amax, [fixed(TIES)]),
    ("amax_ties_axis", lambda a: a.max(axis=1), lambda a: a.amax(dim=1), [fixed(TIES)]),
    ("amin_ties_axis0", lambda a: a.min(axis=0, keepdims=True),
     lambda a: a.amin(dim=0, keepdim=True), [fixed(TIES)]),
    ("amin_ties_all", Tensor.min, torch.amin, [fixed(TIES)]),
    ("maximum_ties", tg.maximum, torch.maximum, [fixed([1.0, 2.0, 3.0]), fixed([1.0, 5.0, 3.0])]),
    ("minimum_ties", tg.minimum, torch.minimum, [fixed([1.0, 2.0, 3.0]), fixed([1.0, 5.0, 3.0])]),
    ("maximum_ties_broadcast", tg.maximum, torch.maximum, [fixed(TIES), fixed([2.0])]),
]


def make_inputs(specs, seed):
    rng = np.random.default_rng(seed)
    arrays = []
    for spec in specs:
        if spec[0] == "fixed":
            arrays.append(spec[1].copy())
        else:
            _, shape, lo, hi = spec
            arrays.append(rng.uniform(lo, hi, shape))
    return arrays


def zeros_for_none(grads, arrays):
    return [np.zeros_like(a) if g is None else to_numpy(g) for g, a in zip(grads, arrays,
                                                                          strict=True)]


def to_numpy(x):
    return x.detach().numpy(force=True) if isinstance(x, torch.Tensor) else np.asarray(x.data)


def second_order(grads, inputs, vs, grad_fn):
    """∂/∂inputs of Σ (gradᵢ·vᵢ), zeros where the sum does not depend on an input."""
    total = None
    for g, v in zip(grads, vs, strict=True):
        if g is not None:
            term = (g * v).sum()
            total = term if total is None else total + term
    if total is None or not total.requires_grad:
        return [None] * len(inputs)
    return grad_fn(total, inputs)


def assert_close(ours, theirs, what):
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-12, err_msg=what)


PARAMS = [  # three random draws per case; cases with fixed inputs run once
    pytest.param(*case, seed, id=f"{case[0]}-{seed}")
    for case in CASES
    for seed in ((0, 1, 2) if any(s[0] == "rand" for s in case[3]) else (0,))
]


@pytest.mark.parametrize("name,tg_fn,torch_fn,specs,seed", PARAMS)
def test_matches_torch(name, tg_fn, torch_fn, specs, seed):
    arrays = make_inputs(specs, seed)
    ours = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]

    out = tg_fn(*ours)
    out_t = torch_fn(*theirs)
    assert out.shape == tuple(out_t.shape)
    assert out.dtype == np.float64
    assert_close(out.data, to_numpy(out_t), f"{name}: forward")

    rng = np.random.default_rng(100 + seed)
    g = rng.standard_normal(out.shape)
    grads = tg.grad(out, ours, grad_outputs=g, create_graph=True, allow_unused=True)
    grads_t = torch.autograd.grad(out_t, theirs, torch.from_numpy(g), create_graph=True,
                                  allow_unused=True)
    for i, (ga, gb) in enumerate(zip(zeros_for_none(grads, arrays),
                                     zeros_for_none(grads_t, arrays), strict=True)):
        assert np.all(np.isfinite(ga)) or not np.all(np.isfinite(gb)), f"{name}: input {i}"
        assert_close(ga, gb, f"{name}: first-order gradient of input {i}")

    vs = [rng.standard_normal(a.shape) for a in arrays]
    hv = second_order(grads, ours, [Tensor(v) for v in vs],
                      lambda s, xs: tg.grad(s, xs, allow_unused=True))
    hv_t = second_order(grads_t, theirs, [torch.from_numpy(v) for v in vs],
                        lambda s, xs: torch.autograd.grad(s, xs, allow_unused=True))
    for i, (ha, hb) in enumerate(zip(zeros_for_none(hv, arrays), zeros_for_none(hv_t, arrays),
                                     strict=True)):
        assert_close(ha, hb, f"{name}: second-order gradient of input {i}")


@pytest.mark.parametrize("dtype,torch_dtype", [(np.float32, "float32")])
def test_float32_matches_torch_float32(dtype, torch_dtype):
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)
    ours = [Tensor(a.astype(dtype), requires_grad=True) for a in (x, w, b)]
    theirs = [torch.tensor(a, dtype=getattr(torch, torch_dtype), requires_grad=True)
              for a in (x, w, b)]
    out = tg.linear(*ours).sigmoid().log_softmax().sum()
    out_t = F.linear(*theirs).sigmoid().log_softmax(-1).sum()
    out.backward()
    out_t.backward()
    assert out.dtype == dtype
    np.testing.assert_allclose(out.data, out_t.detach().numpy(), rtol=1e-5)
    for a, t in zip(ours, theirs, strict=True):
        assert a.grad.dtype == dtype
        np.testing.assert_allclose(a.grad.data, t.grad.numpy(), rtol=1e-4, atol=1e-6)
