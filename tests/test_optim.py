"""Tests for tinygrad_mlp.optim and nn.utils: update formulas, state, schedules, clipping.

Each optimizer is run for five steps on fixed gradients and compared with the reference
formula written out in numpy below (float64, so agreement is to rounding), and, when
torch is installed, with torch.optim on the same gradients. Schedules are compared with
torch's learning-rate sequences, gradient clipping with torch.nn.utils.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn, optim
from tinygrad_mlp.tensor import Tensor

SHAPES = [(3, 4), (4,)]
STEPS = 5


def gradients(seed: int = 0) -> list[list[np.ndarray]]:
    """STEPS lists of one gradient per parameter."""
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]


def initial(seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in SHAPES]


def run(opt_cls, grads, dtype=np.float64, **kw) -> list[np.ndarray]:
    params = [nn.Parameter(w.astype(dtype)) for w in initial()]
    opt = opt_cls(params, **kw)
    for gs in grads:
        for p, g in zip(params, gs, strict=True):
            p.grad = Tensor(g.astype(dtype))
        opt.step()
    return [p.data for p in params]


# ----- reference formulas, written out -------------------------------------------------------


def sgd_reference(grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    ws = [w.copy() for w in initial()]
    bufs = [None] * len(ws)
    for gs in grads:
        for i, g in enumerate(gs):
            g = g + weight_decay * ws[i]
            if momentum:
                if bufs[i] is None:
                    bufs[i] = g.copy()
                else:
                    bufs[i] = momentum * bufs[i] + (1 - dampening) * g
                g = g + momentum * bufs[i] if nesterov else bufs[i]
            ws[i] = ws[i] - lr * g
    return ws


def adam_reference(grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
    b1, b2 = betas
    ws = [w.copy() for w in initial()]
    m = [np.zeros_like(w) for w in ws]
    v = [np.zeros_like(w) for w in ws]
    vmax = [np.zeros_like(w) for w in ws]
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            g = g + weight_decay * ws[i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            vmax[i] = np.maximum(vmax[i], v[i])
            m_hat = m[i] / (1 - b1**t)
            v_hat = (vmax[i] if amsgrad else v[i]) / (1 - b2**t)
            ws[i] = ws[i] - lr * m_hat / (np.sqrt(v_hat) + eps)
    return ws


def adamw_reference(grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
    b1, b2 = betas
    ws = [w.copy() for w in initial()]
    m = [np.zeros_like(w) for w in ws]
    v = [np.zeros_like(w) for w in ws]
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            ws[i] = ws[i] * (1 - lr * weight_decay)  # decoupled: not through the moments
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g * g
            ws[i] = ws[i] - lr * (m[i] / (1 - b1**t)) / (np.sqrt(v[i] / (1 - b2**t)) + eps)
    return ws


def rmsprop_reference(grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                      centered=False):
    ws = [w.copy() for w in initial()]
    sq = [np.zeros_like(w) for w in ws]
    avg = [np.zeros_like(w) for w in ws]
    buf = [np.zeros_like(w) for w in ws]
    for gs in grads:
        for i, g in enumerate(gs):
            g = g + weight_decay * ws[i]
            sq[i] = alpha * sq[i] + (1 - alpha) * g * g
            avg[i] = alpha * avg[i] + (1 - alpha) * g
            denom = np.sqrt(sq[i] - avg[i] ** 2 if centered else sq[i]) + eps
            if momentum:
                buf[i] = momentum * buf[i] + g / denom
                ws[i] = ws[i] - lr * buf[i]
            else:
                ws[i] = ws[i] - lr * g / denom
    return ws


def adagrad_reference(grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                      initial_accumulator_value=0.0, eps=1e-10):
    ws = [w.copy() for w in initial()]
    acc = [np.full_like(w, initial_accumulator_value) for w in ws]
    for t, gs in enumerate(grads, start=1):
        for i, g in enumerate(gs):
            g = g + weight_decay * ws[i]
            acc[i] = acc[i] + g * g
            ws[i] = ws[i] - lr / (1 + (t - 1) * lr_decay) * g / (np.sqrt(acc[i]) + eps)
    return ws


SGD_CASES = [
    dict(lr=0.1),
    dict(lr=0.1, momentum=0.9),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.1, momentum=0.8, weight_decay=0.01),
    dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05),
    dict(lr=0.1, momentum=0.5, dampening=0.3, weight_decay=0.02),
]
ADAM_CASES = [
    dict(),
    dict(lr=0.01),
    dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.02, amsgrad=True),
]


@pytest.mark.parametrize("kw", SGD_CASES)
def test_sgd_five_steps_match_reference(kw):
    got = run(optim.SGD, gradients(), **kw)
    for g, w in zip(got, sgd_reference(gradients(), **kw), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("kw", ADAM_CASES)
def test_adam_five_steps_match_reference(kw):
    got = run(optim.Adam, gradients(), **kw)
    for g, w in zip(got, adam_reference(gradients(), **kw), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize(
    "cls,kw", [(optim.SGD, c) for c in SGD_CASES[1:]] + [(optim.Adam, c) for c in ADAM_CASES[1:]]
)
def test_float32_updates_stay_float32_and_in_place(cls, kw):
    params = [nn.Parameter(w.astype(np.float32)) for w in initial()]
    arrays = [p.data for p in params]
    opt = cls(params, **kw)
    for gs in gradients():
        for p, g in zip(params, gs, strict=True):
            p.grad = Tensor(g.astype(np.float32))
        opt.step()
    ref = run(cls, gradients(), **kw)
    for p, a, r in zip(params, arrays, ref, strict=True):
        assert p.data is a and p.dtype == np.float32
        np.testing.assert_allclose(p.data, r, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(
    "cls,kw",
    [
        (optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.1, nesterov=True)),
        (optim.Adam, dict(weight_decay=0.1)),
    ],
)
def test_step_reads_grads_without_touching_them(cls, kw):
    p = nn.Parameter(np.ones(3))
    g = np.array([1.0, -2.0, 3.0])
    p.grad = Tensor(g.copy())
    grad_array = p.grad.data
    opt = cls([p], **kw)
    opt.step()
    opt.step()
    assert p.grad.data is grad_array
    np.testing.assert_array_equal(grad_array, g)


def test_params_without_grad_are_skipped():
    a, b = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(2))
    for opt in (optim.SGD([a, b], lr=0.1, momentum=0.9), optim.Adam([a, b])):
        a.grad, b.grad = Tensor(np.ones(2)), None
        opt.step()
        np.testing.assert_array_equal(b.data, 1.0)
        assert b not in opt.state
        assert (a.data < 1).all()


def test_zero_grad_sets_none():
    net = nn.Linear(3, 2)
    opt = optim.SGD(net.parameters(), lr=0.1)
    net(np.ones((1, 3), np.float32)).sum().backward()
    opt.zero_grad()
    assert all(p.grad is None for p in net.parameters())


def test_param_groups_and_lr_attribute():
    a, b = nn.Parameter(np.ones(1)), nn.Parameter(np.ones(1))
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 1.0]
    a.grad = b.grad = Tensor(np.ones(1))
    opt.step()
    np.testing.assert_allclose([a.data[0], b.data[0]], [0.9, 0.0])
    opt.lr = 0.5
    assert opt.lr == 0.5 and all(g["lr"] == 0.5 for g in opt.param_groups)
    assert "Parameter Group 1" in repr(opt)


def test_constructor_errors():
    p = nn.Parameter(np.ones(1))
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(p, lr=0.1)
    with pytest.raises(ValueError, match="learning rate"):
        optim.Adam([p], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([p * 2], lr=0.1)


@pytest.mark.parametrize(
    "cls,kw", [(optim.SGD, dict(lr=0.1, momentum=0.9)), (optim.Adam, dict(lr=0.01, amsgrad=True))]
)
def test_state_dict_resumes_the_same_trajectory(cls, kw, tmp_path):
    grads = gradients(7)
    straight = run(cls, grads, **kw)

    params = [nn.Parameter(w) for w in initial()]
    opt = cls(params, **kw)

    def feed(opt, params, gs):
        for p, g in zip(params, gs, strict=True):
            p.grad = Tensor(g)
        opt.step()

    for gs in grads[:2]:
        feed(opt, params, gs)
    tg.save({"params": [p.data for p in params], "opt": opt.state_dict()}, tmp_path / "c.npz")
    saved = opt.state_dict()
    frozen = {k: {n: np.copy(v) for n, v in e.items()} for k, e in saved["state"].items()}
    feed(opt, params, grads[2])  # later steps must not leak into the saved state
    for k, entry in saved["state"].items():
        for n, v in entry.items():
            np.testing.assert_array_equal(v, frozen[k][n])

    ckpt = tg.load(tmp_path / "c.npz")
    params2 = [nn.Parameter(w) for w in ckpt["params"]]
    opt2 = cls(params2, lr=123.0)  # hyperparameters come back from the state dict
    opt2.load_state_dict(ckpt["opt"])
    assert opt2.param_groups[0]["lr"] == kw["lr"]
    for gs in grads[2:]:
        feed(opt2, params2, gs)
    for a, b in zip(params2, straight, strict=True):
        np.testing.assert_allclose(a.data, b, rtol=1e-13)


def test_load_state_dict_rejects_mismatches():
    p, q = nn.Parameter(np.ones(2)), nn.Parameter(np.ones(3))
    opt = optim.Adam([p])
    p.grad = Tensor(np.ones(2))
    opt.step()
    sd = opt.state_dict()
    assert isinstance(sd["param_groups"][0]["betas"], tuple) and sd["state"][0]["step"] == 1
    with pytest.raises(ValueError, match="parameter"):
        optim.Adam([p, q]).load_state_dict(sd)
    with pytest.raises(ValueError, match="shape"):
        optim.Adam([q]).load_state_dict(sd)
    with pytest.raises(ValueError):
        optim.Adam([p]).load_state_dict({"nonsense": 1})


def test_cosine_annealing_and_step_lr():
    p = nn.Parameter(np.ones(1))
    opt = optim.SGD([p], lr=0.1)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    lrs = [opt.lr]
    for _ in range(10):
        sched.step()
        lrs.append(opt.lr)
    expected = [0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * e / 10)) / 2 for e in range(11)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert sched.get_last_lr() == [lrs[-1]]

    opt2 = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    step = optim.StepLR(opt2, step_size=2, gamma=0.5)
    seen = []
    for _ in range(5):
        seen.append(opt2.lr)
        step.step()
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.25]
    resumed = optim.StepLR(opt2, step_size=2, gamma=0.5)
    resumed.load_state_dict(step.state_dict())
    assert resumed.last_epoch == step.last_epoch


def test_training_with_adam_reduces_loss():
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 3)).astype(np.float32)
    y = x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3
    model = nn.Linear(3, 1)
    opt = optim.Adam(model.parameters(), lr=0.05)
    losses = []
    for _ in range(200):
        opt.zero_grad()
        loss = nn.MSELoss()(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 1e-3 * losses[0]


# ----- optional: torch as a second opinion ---------------------------------------------------


ADAMW_CASES = [dict(), dict(lr=0.01, weight_decay=0.1), dict(lr=0.02, amsgrad=True)]
RMSPROP_CASES = [
    dict(),
    dict(lr=0.01, alpha=0.9, eps=1e-6),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, centered=True),
    dict(lr=0.005, momentum=0.5, centered=True, weight_decay=0.1),
]
ADAGRAD_CASES = [
    dict(),
    dict(lr=0.1, lr_decay=0.05),
    dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5, eps=1e-6),
]
TORCH_CASES = (
    [("SGD", c) for c in SGD_CASES]
    + [("Adam", c) for c in ADAM_CASES + [dict(lr=0.01, weight_decay=0.1,
                                               decoupled_weight_decay=True)]]
    + [("AdamW", c) for c in ADAMW_CASES]
    + [("RMSprop", c) for c in RMSPROP_CASES]
    + [("Adagrad", c) for c in ADAGRAD_CASES]
    + [(name, dict(kw, maximize=True)) for name, kw in [
        ("SGD", dict(lr=0.1)), ("SGD", dict(lr=0.1, momentum=0.9, weight_decay=0.1)),
        ("Adam", dict(lr=0.01)), ("AdamW", dict(lr=0.01)), ("RMSprop", dict(momentum=0.5)),
        ("Adagrad", dict(lr=0.1))]]
)


@pytest.mark.parametrize(
    "cls,reference,kw",
    [(optim.AdamW, adamw_reference, c) for c in ADAMW_CASES if "amsgrad" not in c]
    + [(optim.RMSprop, rmsprop_reference, c) for c in RMSPROP_CASES]
    + [(optim.Adagrad, adagrad_reference, c) for c in ADAGRAD_CASES],
)
def test_new_optimizers_five_steps_match_reference(cls, reference, kw):
    got = run(cls, gradients(), **kw)
    for g, w in zip(got, reference(gradients(), **kw), strict=True):
        np.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name,kw", TORCH_CASES)
def test_updates_are_in_place_and_bump_the_version(name, kw):
    params = [nn.Parameter(w) for w in initial()]
    arrays = [p.data for p in params]
    opt = getattr(optim, name)(params, **kw)
    for gs in gradients():
        for p, g in zip(params, gs, strict=True):
            p.grad = Tensor(g)
        before = [p._version for p in params]
        opt.step()
        assert all(p._version > b for p, b in zip(params, before, strict=True))
    assert all(p.data is a for p, a in zip(params, arrays, strict=True))
    assert not any(np.array_equal(p.data, w) for p, w in zip(params, initial(), strict=True))


def test_adamw_is_adam_with_decoupled_decay():
    a = run(optim.AdamW, gradients(), lr=0.01, weight_decay=0.1)
    b = run(optim.Adam, gradients(), lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)
    c = run(optim.Adam, gradients(), lr=0.01, weight_decay=0.1)
    for x, y, z in zip(a, b, c, strict=True):
        np.testing.assert_array_equal(x, y)
        assert not np.allclose(x, z)  # L2 decay through the moments is a different method


def test_new_optimizer_arguments_are_checked():
    p = nn.Parameter(np.ones(1))
    with pytest.raises(ValueError, match="momentum"):
        optim.RMSprop([p], momentum=-1)
    with pytest.raises(ValueError, match="lr_decay"):
        optim.Adagrad([p], lr_decay=-1)
    with pytest.raises(ValueError, match="epsilon"):
        optim.AdamW([p], eps=-1)


@pytest.mark.parametrize("name,kw", TORCH_CASES)
def test_trajectories_match_torch(name, kw):
    torch = pytest.importorskip("torch")
    ours = run(getattr(optim, name), gradients(), **kw)
    params = [torch.nn.Parameter(torch.tensor(w)) for w in initial()]
    opt = getattr(torch.optim, name)(params, **kw)
    for gs in gradients():
        for p, g in zip(params, gs, strict=True):
            p.grad = torch.tensor(g)
        opt.step()
    for a, b in zip(ours, params, strict=True):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_cosine_schedule_matches_torch():
    torch = pytest.importorskip("torch")
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.3)
    topt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.3)
    ours = optim.CosineAnnealingLR(opt, T_max=7, eta_min=0.01)
    theirs = torch.optim.lr_scheduler.CosineAnnealingLR(topt, T_max=7, eta_min=0.01)
    for _ in range(7):
        assert opt.lr == pytest.approx(topt.param_groups[0]["lr"], rel=1e-12)
        topt.step()
        ours.step()
        theirs.step()


# ----- learning-rate schedules against torch's sequences --------------------------------------


def _lr_sequences(torch, make_ours, make_theirs, steps, opt_kw=None, metrics=None):
    """(ours, theirs): per step, the lr (and momentum / beta1) of every group."""
    opt_kw = opt_kw or dict(lr=0.1, momentum=0.9)
    cls = opt_kw.pop("cls", "SGD")
    groups = lambda P: [{"params": [P(np.ones(1))]}, {"params": [P(np.ones(1))], "lr": 0.05}]  # noqa: E731
    ours_opt = getattr(optim, cls)(groups(nn.Parameter), **opt_kw)
    theirs_opt = getattr(torch.optim, cls)(
        groups(lambda a: torch.nn.Parameter(torch.tensor(a))), **opt_kw)
    ours, theirs = make_ours(ours_opt), make_theirs(theirs_opt)

    def snapshot(opt):
        return [(g["lr"], g.get("momentum"), g.get("betas", (None,))[0])
                for g in opt.param_groups]

    seen = ([], [])
    for i in range(steps):
        for opt, sched, out in ((ours_opt, ours, seen[0]), (theirs_opt, theirs, seen[1])):
            out.append(snapshot(opt))
            opt.step()
            sched.step() if metrics is None else sched.step(metrics[i])
    return seen


SCHEDULES = [  # (name, make(lr_scheduler module, optimizer), steps, optimizer options)
    ("step", lambda m, o: m.StepLR(o, step_size=3, gamma=0.5), 10, None),
    ("multistep", lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 6], gamma=0.3), 9, None),
    ("exponential", lambda m, o: m.ExponentialLR(o, gamma=0.8), 8, None),
    ("cosine", lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.001), 8, None),
    ("lambda", lambda m, o: m.LambdaLR(o, lambda e: 1 / (1 + e) ** 0.5), 8, None),
    ("lambda_per_group", lambda m, o: m.LambdaLR(o, [lambda e: 0.9**e, lambda e: e + 1]), 6,
     None),
    ("linear", lambda m, o: m.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=4), 7,
     None),
    ("constant", lambda m, o: m.ConstantLR(o, factor=0.3, total_iters=3), 5, None),
    ("sequential_warmup_cosine",
     lambda m, o: m.SequentialLR(o, [m.LinearLR(o, start_factor=0.1, total_iters=3),
                                     m.CosineAnnealingLR(o, T_max=6)], milestones=[3]), 10,
     None),
    ("sequential_three",
     lambda m, o: m.SequentialLR(o, [m.ConstantLR(o, factor=0.5, total_iters=2),
                                     m.ExponentialLR(o, gamma=0.9),
                                     m.StepLR(o, step_size=2, gamma=0.5)], milestones=[2, 5]),
     9, None),
    ("onecycle", lambda m, o: m.OneCycleLR(o, max_lr=1.0, total_steps=20), 20, None),
    ("onecycle_linear_three_phase",
     lambda m, o: m.OneCycleLR(o, max_lr=[1.0, 0.5], epochs=3, steps_per_epoch=5,
                               anneal_strategy="linear", three_phase=True, pct_start=0.25), 15,
     None),
    ("onecycle_adam_betas",
     lambda m, o: m.OneCycleLR(o, max_lr=0.01, total_steps=12, div_factor=10,
                               final_div_factor=100, base_momentum=0.8, max_momentum=0.9), 12,
     dict(cls="Adam", lr=0.001)),
    ("onecycle_no_momentum",
     lambda m, o: m.OneCycleLR(o, max_lr=0.3, total_steps=9, cycle_momentum=False), 9,
     dict(lr=0.1)),
]


@pytest.mark.parametrize("name,make,steps,opt_kw", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_schedule_matches_torch(name, make, steps, opt_kw):
    torch = pytest.importorskip("torch")
    ours, theirs = _lr_sequences(torch, lambda o: make(optim.lr_scheduler, o),
                                 lambda o: make(torch.optim.lr_scheduler, o), steps,
                                 dict(opt_kw) if opt_kw else None)
    np.testing.assert_allclose(np.array(ours, dtype=float), np.array(theirs, dtype=float),
                               rtol=1e-12, atol=1e-15)


PLATEAU_METRICS = [5.0, 4.0, 4.0, 3.9999, 4.1, 4.0, 4.0, 4.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0,
                   1.0, 1.0, 1.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "kw",
    [
        dict(patience=1),
        dict(patience=2, factor=0.5, cooldown=2, min_lr=[0.01, 0.02]),
        dict(mode="max", patience=0, threshold=0.1, threshold_mode="abs"),
        dict(patience=0, factor=0.5, eps=0.04),  # group 1 (lr 0.05) stays: change < eps
    ],
)
def test_reduce_on_plateau_matches_torch(kw):
    torch = pytest.importorskip("torch")
    ours, theirs = _lr_sequences(
        torch, lambda o: optim.lr_scheduler.ReduceLROnPlateau(o, **kw),
        lambda o: torch.optim.lr_scheduler.ReduceLROnPlateau(o, **kw), len(PLATEAU_METRICS),
        metrics=PLATEAU_METRICS)
    assert ours == theirs
    assert len({s[0][0] for s in ours}) > 1  # the lr did change


def test_schedules_resume_and_check_their_arguments():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0, momentum=0.9)
    one = optim.OneCycleLR(opt, max_lr=1.0, total_steps=4)
    for _ in range(4):
        one.step()
    with pytest.raises(ValueError, match="total_steps"):
        one.step()
    with pytest.raises(ValueError, match="momentum"):
        optim.OneCycleLR(optim.Adagrad([nn.Parameter(np.ones(1))]), max_lr=1.0, total_steps=3)
    with pytest.raises(ValueError, match="total_steps, or epochs"):
        optim.OneCycleLR(opt, max_lr=1.0)
    with pytest.raises(ValueError, match="factor"):
        optim.ReduceLROnPlateau(opt, factor=1.0)

    with pytest.raises(ValueError, match="milestones"):
        optim.SequentialLR(opt, [optim.ConstantLR(opt), optim.ConstantLR(opt)], milestones=[])
    with pytest.raises(ValueError, match="start_factor"):
        optim.LinearLR(opt, start_factor=0.0)
    chain_opt = optim.SGD([nn.Parameter(np.ones(1))], lr=1.0)
    chain = optim.SequentialLR(chain_opt, [optim.LinearLR(chain_opt, total_iters=2),
                                           optim.ExponentialLR(chain_opt, 0.5)], milestones=[2])
    for _ in range(3):
        chain.step()
    saved = chain.state_dict()
    chain.step()
    chain.load_state_dict(saved)
    assert chain.last_epoch == 3 and chain._schedulers[1].last_epoch == 1

    lam = optim.LambdaLR(optim.SGD([nn.Parameter(np.ones(1))], lr=1.0), lambda e: 0.5**e)
    lam.step()
    assert "lr_lambdas" not in lam.state_dict() and lam.state_dict()["last_epoch"] == 1

    plateau = optim.ReduceLROnPlateau(opt, patience=0)
    for m in (3.0, 3.0, 3.0):
        plateau.step(m)
    resumed = optim.ReduceLROnPlateau(opt, patience=0)
    resumed.load_state_dict(plateau.state_dict())
    assert resumed.best == 3.0 and resumed.last_epoch == 3
    plateau.step(tg.Tensor(np.array(3.0)))  # a 0-d loss Tensor is a metric too


# ----- gradient clipping (nn.utils) -----------------------------------------------------------


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.5, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    torch = pytest.importorskip("torch")
    grads = gradients(3)[0]
    ours = [nn.Parameter(np.zeros(g.shape)) for g in grads]
    theirs = [torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64)) for g in grads]
    for p, q, g in zip(ours, theirs, grads, strict=True):
        p.grad, q.grad = Tensor(g.copy()), torch.tensor(g)
    grad_arrays = [p.grad.data for p in ours]
    total = nn.utils.clip_grad_norm_(ours, max_norm, norm_type)
    ref = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    np.testing.assert_allclose(total.item(), ref.item(), rtol=1e-13)
    for p, q, a in zip(ours, theirs, grad_arrays, strict=True):
        assert p.grad.data is a  # in place
        np.testing.assert_allclose(p.grad.data, q.grad.numpy(), rtol=1e-13, atol=1e-16)


def test_clip_grad_value_matches_torch_and_skips_missing_grads():
    torch = pytest.importorskip("torch")
    g = gradients(4)[0][0] * 3
    p, idle = nn.Parameter(np.zeros(g.shape)), nn.Parameter(np.zeros(2))
    q = torch.nn.Parameter(torch.zeros(g.shape, dtype=torch.float64))
    p.grad, q.grad = Tensor(g.copy()), torch.tensor(g)
    nn.utils.clip_grad_value_([p, idle], 0.7)
    torch.nn.utils.clip_grad_value_([q], 0.7)
    np.testing.assert_array_equal(p.grad.data, q.grad.numpy())
    assert idle.grad is None and np.abs(p.grad.data).max() == 0.7


def test_clip_grad_norm_nonfinite():
    p = nn.Parameter(np.zeros(2))
    p.grad = Tensor(np.array([np.inf, 1.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_(p, 1.0, error_if_nonfinite=True)
    assert nn.utils.clip_grad_norm_([], 1.0).item() == 0.0


def test_ported_training_script_follows_torch_step_by_step(tmp_path):
    """docs/coming_from_pytorch.md's loop, both libraries from the same weights (handed
    over as .safetensors), dropout off, float64: every loss and final weight agrees."""
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    rng = np.random.default_rng(0)
    centers = np.array([[2.0, 0.0], [-1.0, 1.7], [-1.0, -1.7]])
    y = rng.integers(0, 3, 120)
    x = centers[y] + rng.normal(0, 0.7, (120, 2))
    orders = [rng.permutation(len(x)) for _ in range(3)]

    def train(lib, nn_, optim_, model, clip):
        loss_fn = nn_.CrossEntropyLoss(label_smoothing=0.05)
        opt = optim_.AdamW(model.parameters(), lr=0.01, weight_decay=0.01)
        sched = optim_.lr_scheduler.OneCycleLR(opt, max_lr=0.05, epochs=3, steps_per_epoch=4)
        xs, ys, losses = lib.tensor(x), lib.tensor(y), []
        for order in orders:
            for i in range(0, len(x), 30):
                idx = lib.tensor(order[i:i + 30])
                opt.zero_grad()
                loss = loss_fn(model(xs[idx]), ys[idx])
                loss.backward()
                clip(model.parameters(), max_norm=1.0)
                opt.step()
                sched.step()
                losses.append(loss.item())
        return losses

    tg.manual_seed(0)
    ours = nn.Sequential(nn.Linear(2, 16), nn.GELU(), nn.Linear(16, 3)).double()
    theirs = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.GELU(),
                                 torch.nn.Linear(16, 3)).double()
    tg.save(ours.state_dict(), tmp_path / "init.safetensors")
    theirs.load_state_dict(st_torch.load_file(str(tmp_path / "init.safetensors")))
    a = train(tg, nn, optim, ours, nn.utils.clip_grad_norm_)
    b = train(torch, torch.nn, torch.optim, theirs, torch.nn.utils.clip_grad_norm_)
    np.testing.assert_allclose(a, b, rtol=1e-10)
    assert a[-1] < 0.5 * a[0]
    for name, value in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name], value.numpy(), rtol=1e-9, atol=1e-12)


def test_one_cycle_hand_computed_points():
    opt = optim.SGD([nn.Parameter(np.ones(1))], lr=0.1, momentum=0.9)
    sched = optim.OneCycleLR(opt, max_lr=1.0, total_steps=10)  # phases end at steps 2 and 9
    seen = [(opt.lr, opt.param_groups[0]["momentum"])]
    for _ in range(9):
        sched.step()
        seen.append((opt.lr, opt.param_groups[0]["momentum"]))
    # start at max_lr/25 with max momentum; halfway up (step 1) cos gives the midpoint
    np.testing.assert_allclose(seen[0], (0.04, 0.95))
    np.testing.assert_allclose(seen[1], (0.52, 0.90))
    np.testing.assert_allclose(seen[2], (1.0, 0.85))  # the peak, with the least momentum
    np.testing.assert_allclose(seen[9], (0.04 / 1e4, 0.95))  # down to initial/final_div
    assert all(a[0] > b[0] for a, b in zip(seen[2:], seen[3:], strict=False))
