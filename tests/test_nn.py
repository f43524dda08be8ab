"""Tests for tinygrad_mlp.nn: Module bookkeeping, layers, init, and losses.

Values are checked against numpy written out by hand; gradients against float64 central
differences (``tg.gradcheck``) and against the composite twin of each fused op.
torch, when installed, is an optional second opinion (``importorskip``).
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from collections import OrderedDict

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp import nn
from tinygrad_mlp.tensor import Tensor

FAST = settings(max_examples=25, deadline=None)


def leaf(a, dtype=np.float64) -> Tensor:
    return Tensor(np.array(a, dtype=dtype), requires_grad=True)


def np_log_softmax(x: np.ndarray) -> np.ndarray:
    z = x - x.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 8)
        self.act = nn.ReLU()
        self.fc2 = nn.Linear(8, 3)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


# ============================================================================================
# Module: discovery, naming, modes


def test_named_parameters_use_pytorch_dotted_names():
    assert [n for n, _ in MLP().named_parameters()] == [
        "fc1.weight",
        "fc1.bias",
        "fc2.weight",
        "fc2.bias",
    ]
    seq = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1))
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]

    class Outer(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
            self.heads = nn.ModuleList([nn.Linear(2, 1), nn.Linear(2, 1, bias=False)])
            self.scale = nn.Parameter(np.ones(1, np.float32))

    names = list(Outer().state_dict())
    assert names == [
        "scale",
        "body.0.weight",
        "body.0.bias",
        "heads.0.weight",
        "heads.0.bias",
        "heads.1.weight",
    ]


def test_parameters_children_modules():
    net = MLP()
    params = list(net.parameters())
    assert [p.shape for p in params] == [(8, 4), (8,), (3, 8), (3,)]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in params)
    assert [type(c).__name__ for c in net.children()] == ["Linear", "ReLU", "Linear"]
    assert [type(m).__name__ for m in net.modules()] == ["MLP", "Linear", "ReLU", "Linear"]
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "act", "fc2"]
    assert list(net.parameters(recurse=False)) == []


def test_shared_parameters_are_listed_once():
    shared = nn.Linear(3, 3)
    seq = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(list(seq.parameters())) == 2
    assert list(seq.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_plain_tensors_and_lists_are_not_registered():
    class M(nn.Module):
        def __init__(self):
            super().__init__()
            self.t = Tensor(np.ones(2, np.float32), requires_grad=True)
            self.layers = [nn.Linear(2, 2)]  # a plain list: PyTorch does not register it

    assert list(M().parameters()) == []


def test_assignment_rules_and_errors():
    net = MLP()
    with pytest.raises(TypeError, match="parameter 'weight'"):
        net.fc1.weight = Tensor(np.zeros((8, 4), np.float32))
    with pytest.raises(TypeError, match="child module 'fc1'"):
        net.fc1 = 3
    net.fc1.bias = None  # a parameter may be removed
    assert "fc1.bias" not in net.state_dict()
    net.fc2 = nn.Linear(8, 5)  # replacing a child keeps its place
    assert [n for n, _ in net.named_parameters()][-2:] == ["fc2.weight", "fc2.bias"]
    del net.act
    assert [n for n, _ in net.named_modules()] == ["", "fc1", "fc2"]

    class Forgot(nn.Module):
        def __init__(self):
            self.fc = nn.Linear(1, 1)

    with pytest.raises(AttributeError, match="super\\(\\).__init__"):
        Forgot()


def test_zero_grad_train_eval():
    net = MLP()
    net(np.ones((2, 4), np.float32)).sum().backward()
    assert all(p.grad is not None for p in net.parameters())
    net.zero_grad()
    assert all(p.grad is None for p in net.parameters())
    assert net.training and net.fc1.training
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1)


def test_repr_matches_pytorch_layout():
    net = nn.Sequential(
        nn.Flatten(),
        nn.Linear(784, 128),
        nn.ReLU(),
        nn.Dropout(0.2),
        nn.Linear(128, 10, bias=False),
    )
    assert repr(net) == (
        "Sequential(\n"
        "  (0): Flatten(start_dim=1, end_dim=-1)\n"
        "  (1): Linear(in_features=784, out_features=128, bias=True)\n"
        "  (2): ReLU()\n"
        "  (3): Dropout(p=0.2)\n"
        "  (4): Linear(in_features=128, out_features=10, bias=False)\n"
        ")"
    )
    line = "  (fc1): Linear(in_features=4, out_features=8, bias=True)"
    assert repr(MLP()).splitlines()[1] == line
    nested = repr(nn.Sequential(nn.Sequential(nn.ReLU())))
    assert nested == "Sequential(\n  (0): Sequential(\n    (0): ReLU()\n  )\n)"


def test_parameter_is_a_float_tensor():
    p = nn.Parameter([1, 2, 3])
    assert isinstance(p, Tensor) and p.requires_grad and p.dtype == np.float32
    a = np.zeros(2)
    assert nn.Parameter(a).data is a  # float data is shared, not copied
    assert repr(p).startswith("Parameter containing:\nTensor(")
    assert not nn.Parameter(a, requires_grad=False).requires_grad


def test_sequential_and_modulelist_behave_like_lists():
    a, b, c = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    with pytest.raises(IndexError):
        seq[3]
    x = np.ones((5, 2), np.float32)
    np.testing.assert_array_equal(seq(x).data, c(b(a(x))).data)
    named = nn.Sequential(OrderedDict([("inp", a), ("act", b)]))
    assert [n for n, _ in named.named_parameters()] == ["inp.weight", "inp.bias"]
    with pytest.raises(TypeError):
        nn.Sequential(a, "relu")

    ml = nn.ModuleList([a])
    ml.append(c)
    ml.insert(1, b)
    assert list(ml) == [a, b, c]
    del ml[0]
    assert list(ml) == [b, c] and [n for n, _ in ml.named_parameters()] == ["1.weight", "1.bias"]


def test_buffers_go_into_state_dict():
    m = nn.Linear(2, 2)
    m.register_buffer("running", np.arange(2.0))
    m.register_buffer("scratch", np.zeros(1), persistent=False)
    assert list(m.state_dict()) == ["weight", "bias", "running"]
    m.load_state_dict({**m.state_dict(), "running": np.array([5.0, 6.0])})
    np.testing.assert_array_equal(m.running, [5.0, 6.0])


def test_to_double_converts_parameters():
    net = MLP().double()
    assert all(p.dtype == np.float64 for p in net.parameters())
    assert net(np.ones((1, 4))).dtype == np.float64


# ============================================================================================
# state_dict / load_state_dict


def test_state_dict_is_an_ordered_copy():
    net = MLP()
    sd = net.state_dict()
    assert isinstance(sd, OrderedDict) and all(isinstance(v, np.ndarray) for v in sd.values())
    before = sd["fc1.weight"].copy()
    net.fc1.weight.data += 1
    np.testing.assert_array_equal(sd["fc1.weight"], before)


def test_load_state_dict_in_place_keeps_arrays_and_dtype():
    src, dst = MLP(), MLP()
    ids = {n: id(p.data) for n, p in dst.named_parameters()}
    sd64 = {k: v.astype(np.float64) for k, v in src.state_dict().items()}
    result = dst.load_state_dict(sd64)
    assert result.missing_keys == [] and result.unexpected_keys == []
    for (n, p), (_, q) in zip(dst.named_parameters(), src.named_parameters(), strict=True):
        assert id(p.data) == ids[n] and p.dtype == np.float32
        np.testing.assert_array_equal(p.data, q.data)
    dst.load_state_dict({k: Tensor(v) for k, v in src.state_dict().items()})  # Tensors too


def test_load_state_dict_reports_every_problem_and_changes_nothing():
    net = MLP()
    before = net.state_dict()
    bad = dict(before)
    del bad["fc2.bias"]
    bad["extra.weight"] = np.zeros(1)
    bad["fc1.weight"] = np.zeros((4, 8), np.float32)
    with pytest.raises(RuntimeError) as err:
        net.load_state_dict(bad)
    msg = str(err.value)
    assert "Missing key(s)" in msg and "'fc2.bias'" in msg
    assert "Unexpected key(s)" in msg and "'extra.weight'" in msg
    assert "'fc1.weight'" in msg and "(4, 8)" in msg and "(8, 4)" in msg
    assert isinstance(err.value, ValueError)
    for k, v in net.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_non_strict():
    net = MLP()
    sd = net.state_dict()
    del sd["fc2.bias"]
    sd["foo"] = np.zeros(1)
    res = net.load_state_dict(sd, strict=False)
    assert res == (["fc2.bias"], ["foo"])
    sd["fc1.bias"] = np.zeros(3)
    with pytest.raises(RuntimeError, match="size mismatch for 'fc1.bias'"):
        net.load_state_dict(sd, strict=False)


# ============================================================================================
# Linear and initialisation


def test_linear_forward_and_backward_against_numpy():
    rng = np.random.default_rng(0)
    layer = nn.Linear(5, 3).double()
    x = rng.standard_normal((4, 5))
    w, b = layer.weight.data, layer.bias.data
    xt = leaf(x)
    y = layer(xt)
    np.testing.assert_allclose(y.data, x @ w.T + b, rtol=1e-12)
    g = rng.standard_normal((4, 3))
    y.backward(g)
    np.testing.assert_allclose(layer.weight.grad.data, g.T @ x, rtol=1e-12)
    np.testing.assert_allclose(layer.bias.grad.data, g.sum(0), rtol=1e-12)
    np.testing.assert_allclose(xt.grad.data, g @ w, rtol=1e-12)
    nobias = nn.Linear(5, 3, bias=False)
    assert nobias.bias is None and [n for n, _ in nobias.named_parameters()] == ["weight"]
    assert nobias(np.ones((2, 5), np.float32)).shape == (2, 3)


@pytest.mark.parametrize("x_shape, w_shape", [((4, 6), (3, 5)), ((), (3, 5)), ((4, 5), (5,)),
                                               ((2, 4, 6), (3, 5)), ((4, 5), (2, 3, 5))])
def test_linear_shape_mismatch_names_both_shapes(x_shape, w_shape):
    x, w = np.ones(x_shape, np.float32), np.ones(w_shape, np.float32)
    with pytest.raises(ValueError, match=re.escape(f"input of shape {x_shape} does not match "
                                                   f"weight of shape {w_shape}")):
        F.linear(x, w)
    if x_shape[-1:] != (5,):  # the layer's weight is (3, 5)
        with pytest.raises(ValueError, match=re.escape(f"input of shape {x_shape} does not "
                                                       "match weight of shape (3, 5)")):
            nn.Linear(5, 3)(x)


def test_linear_gradcheck():
    layer = nn.Linear(3, 2).double()
    x = leaf(np.random.default_rng(1).standard_normal((4, 3)))
    assert tg.gradcheck(lambda x, w, b: F.linear(x, w, b).tanh(), [x, layer.weight, layer.bias])


def test_linear_init_matches_pytorch_formula():
    tg.manual_seed(3)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = layer.weight.data, layer.bias.data
    assert w.dtype == np.float32 and w.shape == (300, 400) and b.shape == (300,)
    assert np.abs(w).max() <= np.float32(bound) and np.abs(b).max() <= np.float32(bound)
    assert np.abs(w).max() > 0.99 * bound  # uses the whole range
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound  # uniform: std = bound/√3
    assert abs(w.mean()) < 0.01 * bound


def test_manual_seed_gives_bit_identical_weights():
    tg.manual_seed(123)
    a = MLP().state_dict()
    tg.manual_seed(123)
    b = MLP().state_dict()
    for k in a:
        assert a[k].tobytes() == b[k].tobytes()
    tg.manual_seed(124)
    assert not np.array_equal(MLP().state_dict()["fc1.weight"], a["fc1.weight"])
    gen = np.random.default_rng(5)
    c = nn.Linear(4, 2, generator=gen).weight.data
    d = nn.Linear(4, 2, generator=np.random.default_rng(5)).weight.data
    np.testing.assert_array_equal(c, d)
    assert nn.Linear(2, 2, dtype=np.float64).weight.dtype == np.float64


def test_calculate_gain_table():
    gain = nn.init.calculate_gain
    assert gain("linear") == gain("sigmoid") == gain("conv2d") == 1
    assert gain("tanh") == pytest.approx(5 / 3)
    assert gain("relu") == pytest.approx(math.sqrt(2))
    assert gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert gain("leaky_relu", math.sqrt(5)) == pytest.approx(math.sqrt(1 / 3))
    assert gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported"):
        gain("swish")


def test_fans():
    fans = nn.init._calculate_fan_in_and_fan_out
    assert fans(np.empty((3, 5))) == (5, 3)
    assert fans(np.empty((8, 4, 3, 3))) == (36, 72)
    with pytest.raises(ValueError, match="fewer than 2"):
        nn.init.xavier_uniform_(Tensor(np.empty(3, np.float32)))


@pytest.mark.parametrize("shape", [(64, 32), (16, 8, 3, 3)])
def test_init_bounds_and_spreads(shape):
    fan_in = shape[1] * math.prod(shape[2:])
    fan_out = shape[0] * math.prod(shape[2:])
    t = Tensor(np.empty(shape, np.float64))
    g = np.random.default_rng(0)

    assert nn.init.xavier_uniform_(t, gain=2.0, generator=g) is t
    a = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(t.data).max() <= a and np.abs(t.data).max() > 0.95 * a

    nn.init.kaiming_uniform_(t, a=0, nonlinearity="relu", generator=g)
    bound = math.sqrt(2) * math.sqrt(3 / fan_in)
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.95 * bound

    nn.init.kaiming_uniform_(t, mode="fan_out", nonlinearity="tanh", generator=g)
    bound = 5 / 3 * math.sqrt(3 / fan_out)
    assert np.abs(t.data).max() <= bound and np.abs(t.data).max() > 0.95 * bound

    nn.init.xavier_normal_(t, generator=g)
    assert t.data.std() == pytest.approx(math.sqrt(2 / (fan_in + fan_out)), rel=0.1)
    nn.init.kaiming_normal_(t, nonlinearity="relu", generator=g)
    assert t.data.std() == pytest.approx(math.sqrt(2 / fan_in), rel=0.1)
    nn.init.normal_(t, 3.0, 0.5, generator=g)
    assert t.data.mean() == pytest.approx(3.0, abs=0.1)
    assert t.data.std() == pytest.approx(0.5, rel=0.1)


def test_simple_fillers_are_in_place():
    t = Tensor(np.empty((3, 2), np.float32))
    arr = t.data
    for fn, expected in [(nn.init.zeros_, 0.0), (nn.init.ones_, 1.0)]:
        assert fn(t) is t and t.data is arr and (arr == expected).all()
    nn.init.constant_(t, 0.25)
    assert (arr == 0.25).all() and arr.dtype == np.float32
    nn.init.uniform_(t, -2, -1)
    assert ((arr >= -2) & (arr <= -1)).all()
    with pytest.raises(TypeError):
        nn.init.ones_(Tensor(np.zeros(2, np.int64)))
    with pytest.warns(UserWarning, match="zero-element"):
        nn.init.kaiming_uniform_(Tensor(np.empty((0, 3), np.float32)))


def test_init_against_torch():
    torch = pytest.importorskip("torch")
    assert nn.init.calculate_gain("leaky_relu", 0.2) == pytest.approx(
        torch.nn.init.calculate_gain("leaky_relu", 0.2)
    )
    for shape in [(7, 3), (4, 2, 5, 5)]:
        assert nn.init._calculate_fan_in_and_fan_out(np.empty(shape)) == (
            torch.nn.init._calculate_fan_in_and_fan_out(torch.empty(shape))
        )
    torch.manual_seed(0)
    ref = torch.nn.Linear(300, 200)
    ours = nn.Linear(300, 200)
    for mine, theirs in [(ours.weight, ref.weight), (ours.bias, ref.bias)]:
        t = theirs.detach().numpy()
        assert mine.dtype == t.dtype and mine.shape == tuple(t.shape)
        # same distribution: same support and spread
        assert np.abs(mine.data).max() == pytest.approx(np.abs(t).max(), rel=0.02)
        assert mine.data.std() == pytest.approx(t.std(), rel=0.1)


# ============================================================================================
# activations, Flatten, Identity, Dropout


def test_activation_layers_against_numpy():
    x = np.linspace(-3, 3, 12).reshape(3, 4)
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(nn.ReLU()(x).data, np.maximum(x, 0))
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x), rtol=1e-6)
    e = np.exp(x - x.max(0, keepdims=True))
    np.testing.assert_allclose(nn.Softmax(axis=0)(x).data, e / e.sum(0), rtol=1e-6)
    np.testing.assert_allclose(nn.LogSoftmax()(x).data, np_log_softmax(x), rtol=1e-6)
    np.testing.assert_allclose(F.softmax(x, dim=1).data, np.exp(np_log_softmax(x)), rtol=1e-6)
    for f, g in [(F.sigmoid, nn.Sigmoid()), (F.relu, nn.ReLU()), (F.tanh, nn.Tanh())]:
        np.testing.assert_array_equal(f(x).data, g(x).data)
    t = Tensor(x)
    assert nn.Identity()(t) is t


def test_flatten():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert nn.Flatten()(x).shape == (2, 12)
    assert nn.Flatten(0, 1)(x).shape == (6, 4)
    assert nn.Flatten(start_dim=0)(x).shape == (24,)
    np.testing.assert_array_equal(nn.Flatten()(x).data, x.data.reshape(2, 12))
    assert nn.Flatten()(np.zeros((5, 7))).shape == (5, 7)
    with pytest.raises(ValueError):
        nn.Flatten(3)(x)


def test_dropout_statistics_and_scaling():
    tg.manual_seed(0)
    drop = nn.Dropout(0.3)
    x = Tensor(np.ones((200, 500), np.float32), requires_grad=True)
    y = drop(x)
    zero = y.data == 0
    assert abs(zero.mean() - 0.3) < 0.01
    np.testing.assert_allclose(y.data[~zero], 1 / 0.7, rtol=1e-6)
    assert abs(y.data.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.data, y.data)  # gradient is the scaled mask
    assert y.dtype == np.float32


def test_dropout_eval_identity_and_edges():
    x = Tensor(np.random.default_rng(0).standard_normal((4, 4)).astype(np.float32))
    drop = nn.Dropout(0.5).eval()
    assert drop(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    assert F.dropout(x, 0.0) is x
    assert (F.dropout(x, 1.0).data == 0).all()
    for p in (-0.1, 1.5):
        with pytest.raises(ValueError, match="between 0 and 1"):
            nn.Dropout(p)
    tg.manual_seed(7)
    a = F.dropout(x, 0.5).data
    tg.manual_seed(7)
    np.testing.assert_array_equal(a, F.dropout(x, 0.5).data)


# ============================================================================================
# losses: values


def test_mse_loss_reductions():
    rng = np.random.default_rng(0)
    p, t = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    np.testing.assert_allclose(F.mse_loss(p, t).data, ((p - t) ** 2).mean())
    np.testing.assert_allclose(F.mse_loss(p, t, reduction="sum").data, ((p - t) ** 2).sum())
    np.testing.assert_allclose(F.mse_loss(p, t, reduction="none").data, (p - t) ** 2)
    np.testing.assert_allclose(nn.MSELoss()(p, t).data, ((p - t) ** 2).mean())
    pt = leaf(p)
    F.mse_loss(pt, t).backward()
    np.testing.assert_allclose(pt.grad.data, 2 * (p - t) / p.size, rtol=1e-12)


def test_quadratic_loss_is_half_mean_row_norm():
    rng = np.random.default_rng(0)
    p, t = rng.standard_normal((5, 10)), rng.standard_normal((5, 10))
    expected = sum(np.sum((p[n] - t[n]) ** 2) for n in range(5)) / (2 * 5)
    np.testing.assert_allclose(F.quadratic_loss(p, t).data, expected, rtol=1e-12)
    np.testing.assert_allclose(nn.QuadraticLoss()(p, t).data, expected, rtol=1e-12)
    pt = leaf(p)
    F.quadratic_loss(pt, t).backward()
    np.testing.assert_allclose(pt.grad.data, (p - t) / 5, rtol=1e-12)
    assert F.quadratic_loss(np.array([[3.0, 4.0]]), np.zeros((1, 2))).item() == 12.5


def test_cross_entropy_with_indices_and_one_hot():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4))
    y = np.array([0, 3, 1, 1, 2, 0])
    per = -np_log_softmax(x)[np.arange(6), y]
    np.testing.assert_allclose(F.cross_entropy(x, y).data, per.mean(), rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(x, y, "sum").data, per.sum(), rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(x, y, "none").data, per, rtol=1e-12)
    onehot = np.eye(4)[y]
    np.testing.assert_allclose(F.cross_entropy(x, onehot).data, per.mean(), rtol=1e-12)
    np.testing.assert_allclose(F.cross_entropy(x, Tensor(y)).data, per.mean(), rtol=1e-12)
    soft = rng.dirichlet(np.ones(4), size=6)
    expected = -(soft * np_log_softmax(x)).sum(1).mean()
    np.testing.assert_allclose(F.cross_entropy(x, soft).data, expected, rtol=1e-12)
    np.testing.assert_allclose(nn.CrossEntropyLoss()(x, y).data, per.mean(), rtol=1e-12)
    # one unbatched sample: logits (C,), target ()
    np.testing.assert_allclose(F.cross_entropy(x[1], 3).data, per[1], rtol=1e-12)
    assert F.cross_entropy(x[1], np.array(3), reduction="none").shape == ()


def test_cross_entropy_gradient_is_softmax_minus_target_over_n():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 3))
    y = np.array([2, 0, 1, 1, 2])
    xt = leaf(x)
    F.cross_entropy(xt, y).backward()
    sm = np.exp(np_log_softmax(x))
    np.testing.assert_allclose(xt.grad.data, (sm - np.eye(3)[y]) / 5, rtol=1e-12)


def test_cross_entropy_is_stable_for_huge_logits():
    x = np.array([[1e4, 0.0, -1e4], [0.0, 1e4, 0.0], [5e3, 5e3, -5e3]], np.float32)
    y = np.array([0, 2, 1])
    for target in (y, np.eye(3, dtype=np.float32)[y]):
        xt = Tensor(x, requires_grad=True)
        loss = F.cross_entropy(xt, target, reduction="none")
        np.testing.assert_allclose(loss.data, [0.0, 1e4, math.log(2)], rtol=1e-6)
        loss.sum().backward()
        assert np.isfinite(xt.grad.data).all()
        np.testing.assert_allclose(xt.grad.data[1], [0, 1, -1], atol=1e-6)


def test_nll_loss():
    rng = np.random.default_rng(0)
    lp = np_log_softmax(rng.standard_normal((4, 5)))
    y = np.array([4, 0, 2, 2])
    np.testing.assert_allclose(F.nll_loss(lp, y).data, -lp[np.arange(4), y].mean(), rtol=1e-12)
    np.testing.assert_allclose(F.nll_loss(lp, y, "none").data, -lp[np.arange(4), y])
    x = leaf(rng.standard_normal((4, 5)))
    np.testing.assert_allclose(
        nn.NLLLoss()(F.log_softmax(x), y).data, F.cross_entropy(x, y).data, rtol=1e-12
    )
    assert tg.gradcheck(lambda a: F.nll_loss(a, y, "sum"), [x])
    assert F.nll_loss(lp[0], 4).item() == pytest.approx(-lp[0, 4])


def test_binary_cross_entropy():
    rng = np.random.default_rng(0)
    p = rng.uniform(0.01, 0.99, (4, 3))
    t = rng.uniform(0, 1, (4, 3))
    per = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    np.testing.assert_allclose(F.binary_cross_entropy(p, t).data, per.mean(), rtol=1e-12)
    np.testing.assert_allclose(F.binary_cross_entropy(p, t, "sum").data, per.sum(), rtol=1e-12)
    np.testing.assert_allclose(nn.BCELoss(reduction="none")(p, t).data, per, rtol=1e-12)
    pt = leaf(p)
    F.binary_cross_entropy(pt, t).backward()
    np.testing.assert_allclose(pt.grad.data, (p - t) / (p * (1 - p)) / p.size, rtol=1e-10)
    # probabilities of exactly 0 and 1: log clamped at -100, gradient finite
    edge = Tensor(np.array([0.0, 1.0, 0.0, 1.0], np.float32), requires_grad=True)
    loss = F.binary_cross_entropy(edge, np.array([1.0, 0.0, 0.0, 1.0]), reduction="none")
    np.testing.assert_allclose(loss.data, [100, 100, 0, 0])
    loss.sum().backward()
    assert np.isfinite(edge.grad.data).all()
    with pytest.raises(ValueError, match="between|in \\[0, 1\\]"):
        F.binary_cross_entropy(np.array([1.5]), np.array([1.0]))


@pytest.mark.parametrize(
    "loss",
    [
        lambda p, t: F.mse_loss(p, t),
        lambda p, t: F.quadratic_loss(p, t),
        lambda p, t: F.binary_cross_entropy(p.sigmoid(), t),
        lambda p, t: F.cross_entropy(p, t),
        lambda p, t: F.cross_entropy(p, t.argmax(axis=1)),
        lambda p, t: F.nll_loss(p.log_softmax(), t.argmax(axis=1).data),
    ],
)
def test_float32_in_float32_out(loss):
    rng = np.random.default_rng(0)
    p = Tensor(rng.standard_normal((4, 3)).astype(np.float32), requires_grad=True)
    t = rng.uniform(0, 1, (4, 3))  # float64 target: must not promote the loss
    out = loss(p, t)
    assert out.dtype == np.float32
    out.backward()
    assert p.grad.dtype == np.float32


def test_loss_shape_and_index_errors():
    x = np.zeros((4, 3), np.float32)
    with pytest.raises(ValueError, match=r"\(4, 2\).*\(4, 3\)"):
        F.mse_loss(x, np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"\(3, 3\).*\(4, 3\)"):
        F.cross_entropy(x, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"\(5,\)"):
        F.cross_entropy(x, np.array([0, 1, 2, 0, 1]))
    with pytest.raises(ValueError, match=r"\(4, 3, 1\)"):
        F.cross_entropy(x, np.zeros((4, 3, 1)))
    with pytest.raises(IndexError, match="target 3 at position 2 is out of range for 3"):
        F.cross_entropy(x, np.array([0, 1, 3, 0]))
    with pytest.raises(ValueError, match="out of range"):  # also a ValueError
        F.cross_entropy(x, np.array([0, -1, 2, 0]))
    with pytest.raises(IndexError, match="out of range"):
        F.nll_loss(x, np.array([0, 1, 2, 9]))
    with pytest.raises(TypeError, match="integers"):
        F.cross_entropy(x, np.array([0.5, 1, 2, 0]))
    with pytest.raises(ValueError, match="shape"):
        F.binary_cross_entropy(np.full((2, 2), 0.5), np.zeros(4))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, np.zeros(4, np.int64), reduction="avg")


# ============================================================================================
# losses: gradients (float64 central differences) and the fused op against its twin


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_gradchecks(reduction):
    rng = np.random.default_rng(2)
    x = leaf(rng.standard_normal((4, 3)))
    soft = leaf(rng.dirichlet(np.ones(3), size=4))
    y = np.array([0, 2, 1, 2])
    probs = leaf(rng.uniform(0.1, 0.9, (4, 3)))
    target = leaf(rng.uniform(0, 1, (4, 3)))
    assert tg.gradcheck(lambda a: F.cross_entropy(a, y, reduction), [x])
    assert tg.gradcheck(lambda a, q: F.cross_entropy(a, q, reduction), [x, soft])
    assert tg.gradcheck(lambda p, t: F.binary_cross_entropy(p, t, reduction), [probs, target])
    assert tg.gradcheck(lambda a, t: F.mse_loss(a, t, reduction), [x, target])
    assert tg.gradcheck(lambda a, t: F.quadratic_loss(a, t), [x, target])


@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_second_order_gradchecks(reduction):
    rng = np.random.default_rng(3)
    x = leaf(rng.standard_normal((3, 4)))
    soft = leaf(rng.dirichlet(np.ones(4), size=3))
    y = np.array([3, 0, 1])
    assert tg.gradgradcheck(lambda a: F.cross_entropy(a, y, reduction), [x])
    assert tg.gradgradcheck(lambda a, q: F.cross_entropy(a, q, reduction), [x, soft])
    probs = leaf(rng.uniform(0.1, 0.9, (3, 2)))
    target = leaf(rng.uniform(0, 1, (3, 2)))
    assert tg.gradgradcheck(lambda p, t: F.binary_cross_entropy(p, t, reduction), [probs, target])


def _ce_grads(fn, x: np.ndarray, target, v: np.ndarray):
    """(loss, dloss/dx, d(dloss/dx · v)/dx) via create_graph."""
    xt = leaf(x)
    loss = fn(xt, target)
    (gx,) = tg.grad(loss, xt, create_graph=True)
    (hv,) = tg.grad((gx * Tensor(v)).sum(), xt)
    return loss.data, gx.data, hv.data


@FAST
@given(
    x=hnp.arrays(
        np.float64, st.tuples(st.integers(1, 5), st.integers(2, 5)), elements=st.floats(-30, 30)
    ),
    data=st.data(),
)
def test_fused_cross_entropy_matches_composite_twin(x, data):
    n, c = x.shape
    y = np.array(data.draw(st.lists(st.integers(0, c - 1), min_size=n, max_size=n)))
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    v = np.random.default_rng(n * c).standard_normal(x.shape)
    for target in (y, np.eye(c)[y], np.random.default_rng(c).dirichlet(np.ones(c), size=n)):
        fused = _ce_grads(lambda a, t: F.cross_entropy(a, t, reduction).sum(), x, target, v)
        twin = _ce_grads(lambda a, t: F.cross_entropy_simple(a, t, reduction).sum(), x, target, v)
        for got, want in zip(fused, twin, strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_fused_cross_entropy_is_one_graph_node():
    x = leaf(np.zeros((2, 3)))
    loss = F.cross_entropy(x, [0, 1])
    assert loss.grad_fn == "SoftmaxCrossEntropy"
    assert loss._ctx.parents[0] is x


def test_gradient_of_probability_target():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4))
    q = leaf(rng.dirichlet(np.ones(4), size=3))
    F.cross_entropy(x, q).backward()
    np.testing.assert_allclose(q.grad.data, -np_log_softmax(x) / 3, rtol=1e-12)


def test_losses_against_torch():
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 5)) * 5
    y = rng.integers(0, 5, 6)
    soft = rng.dirichlet(np.ones(5), size=6)
    p = rng.uniform(0, 1, (6, 5))
    t = rng.uniform(0, 1, (6, 5))
    for red in ("mean", "sum", "none"):
        pairs = [
            (
                F.cross_entropy(x, y, red),
                tf.cross_entropy(torch.tensor(x), torch.tensor(y), reduction=red),
            ),
            (
                F.cross_entropy(x, soft, red),
                tf.cross_entropy(torch.tensor(x), torch.tensor(soft), reduction=red),
            ),
            (F.nll_loss(x, y, red), tf.nll_loss(torch.tensor(x), torch.tensor(y), reduction=red)),
            (
                F.binary_cross_entropy(p, t, red),
                tf.binary_cross_entropy(torch.tensor(p), torch.tensor(t), reduction=red),
            ),
            (
                F.mse_loss(x, soft, red),
                tf.mse_loss(torch.tensor(x), torch.tensor(soft), reduction=red),
            ),
        ]
        for ours, theirs in pairs:
            np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-12, atol=1e-12)
    xt, xr = leaf(x), torch.tensor(x, requires_grad=True)
    F.cross_entropy(xt, y).backward()
    tf.cross_entropy(xr, torch.tensor(y)).backward()
    np.testing.assert_allclose(xt.grad.data, xr.grad.numpy(), rtol=1e-12, atol=1e-15)


def test_small_network_learns():
    tg.manual_seed(0)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 2)).astype(np.float32)
    y = (x[:, 0] * x[:, 1] > 0).astype(np.int64)  # XOR-like quadrants
    net = nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 2))
    lr = 0.5
    first = None
    for _ in range(200):
        loss = F.cross_entropy(net(x), y)
        first = loss.item() if first is None else first
        net.zero_grad()
        loss.backward()
        for p in net.parameters():
            p.data -= lr * p.grad.data
    assert loss.item() < 0.3 * first


def test_package_never_imports_torch():
    code = (
        "import sys, tinygrad_mlp\n"
        "from tinygrad_mlp import nn, optim, serialization\n"
        "import tinygrad_mlp.nn.functional\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ----- the fused squared-error op against its composite twin --------------------------------


@settings(deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, max_side=4),
                  elements=st.floats(-3, 3)),
       st.sampled_from(["quadratic", "mean", "sum"]))
def test_fused_squared_error_matches_composite_twin(pred, kind):
    target = np.cos(pred * 3.0)  # any values; not equal to pred
    fused = {"quadratic": F.quadratic_loss,
             "mean": lambda a, b: F.mse_loss(a, b),
             "sum": lambda a, b: F.mse_loss(a, b, reduction="sum")}[kind]
    simple = {"quadratic": F.quadratic_loss_simple,
              "mean": lambda a, b: F.mse_loss(a, b, reduction="none").mean(),
              "sum": lambda a, b: F.mse_loss(a, b, reduction="none").sum()}[kind]
    x1, x2 = Tensor(pred, requires_grad=True), Tensor(pred, requires_grad=True)
    t1, t2 = Tensor(target, requires_grad=True), Tensor(target, requires_grad=True)
    a, b = fused(x1, t1), simple(x2, t2)
    np.testing.assert_allclose(a.data, b.data, rtol=1e-12, atol=1e-12)
    a.backward()
    b.backward()
    np.testing.assert_allclose(x1.grad.data, x2.grad.data, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(t1.grad.data, t2.grad.data, rtol=1e-12, atol=1e-12)
    assert tg.gradgradcheck(fused, [Tensor(pred, requires_grad=True),
                                    Tensor(target, requires_grad=True)])


def test_forward_hooks_as_torch():
    """register_forward_pre_hook / register_forward_hook: seen activations, replaced inputs
    and outputs (gradients flow through the replacement), removal by handle."""
    torch = pytest.importorskip("torch")
    x0 = np.linspace(-1.0, 1.0, 6).reshape(2, 3)

    def run(lib):
        mod = nn if lib == "tg" else torch.nn
        model = mod.Sequential(mod.Linear(3, 4), mod.ReLU(), mod.Linear(4, 2)).double()
        if lib == "tg":
            model.load_state_dict({k: np.asarray(v) for k, v in weights.items()})
        else:
            model.load_state_dict({k: torch.tensor(v) for k, v in weights.items()})
        seen = []
        h1 = model[1].register_forward_hook(lambda m, args, out: seen.append(np.array(
            out.data if lib == "tg" else out.detach().numpy())))
        h2 = model[2].register_forward_hook(lambda m, args, out: out * 2)
        h3 = model[0].register_forward_pre_hook(lambda m, args: (args[0] + 1,))
        x = (tg.tensor if lib == "tg" else torch.tensor)(x0)
        y = model(x)
        (y * y).sum().backward()
        g = model[0].weight.grad
        grads = g.numpy() if lib == "tg" else g.numpy()
        for h in (h1, h2, h3):
            h.remove()
        plain = model(x)
        return (np.array(y.data if lib == "tg" else y.detach().numpy()), seen[0], grads,
                np.array(plain.data if lib == "tg" else plain.detach().numpy()), len(seen))

    weights = {k: np.asarray(v, np.float64) for k, v in
               nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).state_dict().items()}
    mine, ref = run("tg"), run("torch")
    for a, b in zip(mine[:4], ref[:4], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    assert mine[4] == ref[4] == 1  # removed hooks are not called again
