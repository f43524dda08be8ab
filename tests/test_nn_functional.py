"""Tests for the activations and losses of ``nn.functional`` and their modules.

Gradients are checked in float64 against central differences (first and second order),
forward-mode rules against finite differences, values against numpy formulas, and, when
torch is installed, values and gradients against ``torch.nn.functional`` in float32 and
float64 through one table (one line per function).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp.tensor import Tensor

PROPERTY = settings(deadline=None)


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
    ]


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
