"""Every loss with random options (reduction, class weights, ignore_index hit or missed,
label smoothing, probability targets, extra dimensions, pos_weight, beta/delta, log_target),
against PyTorch: the value, the gradient, and the second derivative."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F

torch = pytest.importorskip("torch")
tF = torch.nn.functional

KINDS = ("ce_index", "ce_probs", "nll", "bce", "bce_logits", "mse", "l1", "smooth_l1", "huber",
         "kl")
NAMES = {"ce_index": "cross_entropy", "ce_probs": "cross_entropy", "nll": "nll_loss",
         "bce": "binary_cross_entropy", "bce_logits": "binary_cross_entropy_with_logits",
         "mse": "mse_loss", "l1": "l1_loss", "smooth_l1": "smooth_l1_loss",
         "huber": "huber_loss", "kl": "kl_div"}


def _case(kind, seed, choices):
    """(input, target, options) for one random configuration."""
    rng = np.random.default_rng(seed)
    pick = lambda options: options[choices.draw(st.integers(0, len(options) - 1))]  # noqa: E731
    n, c = pick([1, 2, 5]), pick([2, 3, 5])
    extra = pick([(), (3,)]) if kind in ("ce_index", "ce_probs", "nll") else ()
    x = rng.uniform(-3, 3, (n, c) + extra)
    kw = {"reduction": pick(["mean", "sum", "none"])}
    if kind in ("ce_index", "nll"):
        t = rng.integers(0, c, (n,) + extra)
        ignore = pick([None, 0, -100])
        if ignore is not None:
            kw["ignore_index"] = ignore
            if pick([True, False]):
                t.flat[0] = ignore
            if pick([False, False, True]):
                t[...] = ignore  # every target ignored: NaN mean, zero gradient (as torch)
        if pick([True, False]):
            kw["weight"] = rng.uniform(0.2, 2, c)
        if kind == "ce_index" and pick([True, False]):
            kw["label_smoothing"] = pick([0.1, 0.3])
        if kind == "nll":
            x = x - np.log(np.exp(x).sum(1, keepdims=True))
    elif kind == "ce_probs":
        t = rng.uniform(0, 1, x.shape)
        t /= t.sum(1, keepdims=True)
        if pick([True, False]):
            kw["label_smoothing"] = 0.2
        if pick([True, False]):
            kw["weight"] = rng.uniform(0.2, 2, c)
    elif kind == "bce":
        x, t = rng.uniform(0.05, 0.95, x.shape), rng.uniform(0, 1, x.shape)
        if pick([True, False]):
            kw["weight"] = rng.uniform(0.2, 2, x.shape)
    elif kind == "bce_logits":
        t = rng.uniform(0, 1, x.shape)
        if pick([True, False]):
            kw["pos_weight"] = rng.uniform(0.2, 2, c)
        if pick([True, False]):
            kw["weight"] = rng.uniform(0.2, 2, x.shape)
    elif kind == "kl":
        x = x - np.log(np.exp(x).sum(1, keepdims=True))
        t = rng.uniform(0.01, 1, x.shape)
        t /= t.sum(1, keepdims=True)
        kw["reduction"] = pick(["batchmean", "sum", "mean", "none"])
        if pick([True, False]):
            kw["log_target"], t = True, np.log(t)
    else:
        t = rng.uniform(-3, 3, x.shape)
        if kind == "smooth_l1" and pick([True, False]):
            kw["beta"] = pick([0.5, 2.0])
        if kind == "huber" and pick([True, False]):
            kw["delta"] = pick([0.5, 2.0])
    return x, t, kw


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")  # torch's kl_div notice
@settings(max_examples=60)
@given(kind=st.sampled_from(KINDS), seed=st.integers(0, 2**16), choices=st.data())
def test_losses_with_random_options_match_torch(kind, seed, choices):
    x0, t0, kw = _case(kind, seed, choices)
    name = NAMES[kind]
    xt = torch.tensor(x0, requires_grad=True)
    yt = getattr(tF, name)(xt, torch.tensor(t0), **{
        k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()})
    xg = tg.tensor(x0, requires_grad=True)
    yg = getattr(F, name)(xg, t0, **kw)
    np.testing.assert_allclose(yg.numpy(), yt.detach().numpy(), rtol=1e-9, atol=1e-12)
    g = np.random.default_rng(seed + 1).uniform(-1, 1, tuple(yt.shape))
    (ga,) = tg.grad(yg, xg, grad_outputs=tg.tensor(g), create_graph=True)
    (gb,) = torch.autograd.grad(yt, xt, grad_outputs=torch.tensor(g), create_graph=True)
    np.testing.assert_allclose(ga.numpy(), gb.detach().numpy(), rtol=1e-9, atol=1e-12)
    if ga.requires_grad and gb.requires_grad:
        v = np.random.default_rng(seed + 2).uniform(-1, 1, x0.shape)
        (ha,) = tg.grad((ga * tg.tensor(v)).sum(), xg, allow_unused=True)
        (hb,) = torch.autograd.grad((gb * torch.tensor(v)).sum(), xt, allow_unused=True)
        ha = np.zeros(x0.shape) if ha is None else ha.numpy()
        hb = np.zeros(x0.shape) if hb is None else hb.numpy()
        np.testing.assert_allclose(ha, hb, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("options", [{}, {"weight": np.array([0.5, 2.0, 1.0])},
                                     {"label_smoothing": 0.2}])
def test_every_target_ignored_is_nan_with_a_zero_gradient(options):
    """As torch: nothing to average over gives a NaN loss, but no NaN gradient (a batch
    of ignored targets must not poison the parameters)."""
    logits = tg.tensor(np.array([[1.0, 2.0, 0.5], [0.0, -1.0, 3.0]]), requires_grad=True)
    loss = F.cross_entropy(logits, np.array([-100, -100]), **options)
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(logits.grad.numpy(), np.zeros((2, 3)))
    logp = tg.tensor(np.log(np.full((2, 3), 1 / 3)), requires_grad=True)
    loss = F.nll_loss(logp, np.array([1, 1]), ignore_index=1)
    assert np.isnan(loss.item())
    loss.backward()
    np.testing.assert_array_equal(logp.grad.numpy(), np.zeros((2, 3)))
