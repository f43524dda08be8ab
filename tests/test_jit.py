"""tg.jit: replaying a recorded tape gives exactly what the eager engine gives."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp import nn, optim

EYE = np.eye(10, dtype=np.float32)


def _model(kind: str) -> nn.Sequential:
    tg.manual_seed(1)
    if kind == "quadratic":
        return nn.Sequential(nn.Linear(20, 8), nn.Sigmoid(), nn.Linear(8, 10), nn.Sigmoid())
    if kind == "mse":
        return nn.Sequential(nn.Linear(20, 8), nn.Tanh(), nn.Linear(8, 10))
    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 8), nn.Sigmoid(),
                         nn.Linear(8, 10))


LOSSES = {"quadratic": (F.quadratic_loss, lambda y: EYE[y]),
          "mse": (F.mse_loss, lambda y: EYE[y]),
          "cross_entropy": (F.cross_entropy, lambda y: y)}


def _batches(n: int, batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal((batch, 20)).astype(np.float32), rng.integers(0, 10, batch))
            for _ in range(n)]


@pytest.mark.parametrize("kind", sorted(LOSSES))
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_with_jit_is_bit_identical_to_eager(kind, optimizer):
    loss_fn, target = LOSSES[kind]
    eager, replay = _model(kind), _model(kind)
    make = (lambda m: optim.SGD(m.parameters(), lr=0.3, momentum=0.9)) if optimizer == "sgd" \
        else (lambda m: optim.Adam(m.parameters(), lr=1e-2))
    opt_e, opt_r = make(eager), make(replay)
    step = tg.jit(lambda x, t: loss_fn(replay(x), t))
    for x, y in _batches(6, 7) + _batches(3, 4, seed=1):  # two shapes: two tapes
        opt_e.zero_grad()
        loss_e = loss_fn(eager(tg.Tensor(x)), target(y))
        loss_e.backward()
        opt_e.step()
        opt_r.zero_grad()
        loss_r = step(x, target(y))
        assert not loss_r.requires_grad
        assert loss_r.item() == loss_e.item()
        for (name, a), b in zip(eager.named_parameters(), replay.parameters(), strict=True):
            assert np.array_equal(a.grad.data, b.grad.data), name
            assert a.grad.dtype == b.grad.dtype == np.float32
        opt_r.step()
    assert len(step.tapes) == 2
    for (name, a), b in zip(eager.state_dict().items(), replay.state_dict().values(),
                            strict=True):
        assert np.array_equal(a, b), name


def test_jit_accumulates_like_backward_and_sees_replaced_parameters():
    model = _model("mse")
    step = tg.jit(lambda x, t: F.mse_loss(model(x), t))
    x, y = _batches(1, 5)[0]
    step(x, EYE[y])  # trace
    step(x, EYE[y])  # replay: gradients add up, as two backward() calls would
    g2 = model[0].weight.grad.data.copy()
    model.zero_grad()
    step(x, EYE[y])
    np.testing.assert_allclose(g2, 2 * model[0].weight.grad.data, rtol=1e-6)
    model[0].weight.data = model[0].weight.data * 0.0  # a new array: read on every call
    loss = step(x, EYE[y]).item()
    expected = F.mse_loss(model(tg.Tensor(x)), EYE[y]).item()
    assert loss == expected


def test_integer_inputs_are_promoted_as_in_eager_mode():
    model = _model("cross_entropy")
    step = tg.jit(lambda x, t: F.cross_entropy(model(x), t))
    rng = np.random.default_rng(3)
    for _ in range(3):
        x = rng.integers(0, 3, (4, 20)).astype(np.uint8)
        y = rng.integers(0, 10, 4)
        model.zero_grad()
        got = step(x, y).item()
        replayed = model[0].weight.grad.data.copy()
        model.zero_grad()
        want = F.cross_entropy(model(tg.Tensor(x)), y)
        want.backward()
        assert got == want.item()
        assert np.array_equal(replayed, model[0].weight.grad.data)


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda m: lambda x, y: F.cross_entropy(nn.Dropout(0.5)(m(x)), y), "dropout"),
        (lambda m: lambda x, y: F.quadratic_loss(m(x), EYE[y.data]), "made during tracing"),
        (lambda m: lambda x, y: F.cross_entropy(m(x) * tg.Tensor(np.ones(10)), y),
         "Tensor made during tracing"),
        (lambda m: lambda x, y: m(x).sum(axis=0), "single-element"),
        (lambda m: lambda x, y: tg.Tensor(1.0), "computed by tinygrad ops"),
    ],
)
def test_functions_that_cannot_be_replayed_are_refused(build, message):
    model = _model("cross_entropy")
    x, y = _batches(1, 4)[0]
    with pytest.raises(tg.JitError, match=message):
        tg.jit(build(model))(x, y)


def test_refuses_hooks_and_inputs_that_require_grad():
    model = _model("cross_entropy")
    x, y = _batches(1, 4)[0]
    with pytest.raises(tg.JitError, match="requires grad"):
        tg.jit(lambda a, t: F.cross_entropy(model(a), t))(tg.Tensor(x, requires_grad=True), y)
    model[0].weight.register_hook(lambda g: g * 2)
    with pytest.raises(tg.JitError, match="hooks"):
        tg.jit(lambda a, t: F.cross_entropy(model(a), t))(x, y)


def test_no_grad_and_debugging_modes_run_eagerly():
    model = _model("cross_entropy")
    step = tg.jit(lambda a, t: F.cross_entropy(model(a), t))
    x, y = _batches(1, 4)[0]
    with tg.no_grad():
        loss = step(x, y)
    assert model[0].weight.grad is None and not step.tapes
    with tg.trace(collect=True) as records:
        step(x, y)
    assert records and not step.tapes  # the tracer saw the real graph
    assert loss.item() == F.cross_entropy(model(tg.Tensor(x)), y).item()
