"""PyTorch's in-place spellings, against PyTorch: ``x.exp_()`` and the other in-place
methods, ``inplace=True`` in ``nn.functional`` and in the activation modules, and the
functional ``F.relu_`` family. Each changes its input (the same object is returned), is
recorded like any in-place op (gradients as torch's), and under ``no_grad`` just changes
the array."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp import nn
from tinygrad_mlp.tensor import _INPLACE_NAMES

torch = pytest.importorskip("torch")
tF = torch.nn.functional

IDX = np.array([2, 0, 2])


def _args(name, lib):
    """Arguments for ``x.<name>_`` on a (3, 4) tensor."""
    as_lib = (lambda a: tg.tensor(a)) if lib == "tg" else (lambda a: torch.tensor(a))
    src = np.linspace(-1.0, 1.0, 12).reshape(3, 4)
    return {
        "cumsum": (1,), "cumprod": (1,), "pow": (3.0,), "tril": (), "triu": (1,),
        "index_add": (0, as_lib(IDX), as_lib(src)),
        "scatter_add": (0, as_lib(np.array([[0, 1, 2, 0], [2, 2, 1, 0], [1, 0, 0, 2]])),
                        as_lib(src)),
        "masked_fill": (as_lib(src > 0.2), 0.5),
    }.get(name, ())


@pytest.mark.parametrize("name", _INPLACE_NAMES)
def test_in_place_methods_match_torch(name):
    x0 = np.random.default_rng(0).uniform(0.6, 1.9, (3, 4))  # in every op's domain

    def run(lib):
        new = (lambda a: tg.tensor(a, requires_grad=True)) if lib == "tg" else (
            lambda a: torch.tensor(a, requires_grad=True))
        x = new(x0)
        y = x * 1.25
        out = getattr(y, f"{name}_")(*_args(name, lib))
        assert out is y  # in place: the same tensor comes back
        (y * y).sum().backward()
        values = y.data if lib == "tg" else y.detach().numpy()
        return np.asarray(values), (x.grad.numpy() if lib == "tg" else x.grad.numpy())

    (v, g), (tv, tgr) = run("tg"), run("torch")
    np.testing.assert_allclose(v, tv, rtol=1e-12)
    np.testing.assert_allclose(g, tgr, rtol=1e-12, atol=1e-12)


def test_in_place_methods_under_no_grad_change_the_array():
    w = tg.tensor(np.array([0.25, 4.0]), requires_grad=True)
    data = w.data
    with tg.no_grad():
        w.sqrt_().neg_()
    assert w.data is data and w.requires_grad and w.is_leaf
    np.testing.assert_array_equal(data, [-0.5, -2.0])
    with pytest.raises(RuntimeError, match="leaf Tensor that requires grad"):
        w.exp_()
    i = tg.tensor(np.array([1, 4]))
    with pytest.raises(TypeError, match="cannot be stored"):
        i.sqrt_()  # float results do not fit an integer tensor (torch refuses too)


ACTIVATIONS = [  # (tinygrad function, torch function, options)
    (F.relu, tF.relu, ()), (F.leaky_relu, tF.leaky_relu, (0.2,)), (F.elu, tF.elu, (0.7,)),
    (F.selu, tF.selu, ()), (F.celu, tF.celu, (1.3,)), (F.silu, tF.silu, ()),
    (F.hardtanh, tF.hardtanh, (-0.5, 0.8)), (F.relu6, tF.relu6, ()),
    (F.hardsigmoid, tF.hardsigmoid, ()), (F.hardswish, tF.hardswish, ()),
    (F.mish, tF.mish, ()),
]


@pytest.mark.parametrize("fn, tfn, options", ACTIVATIONS, ids=lambda v: getattr(v, "__name__", ""))
def test_inplace_true_changes_the_input_as_torch(fn, tfn, options):
    """The same values and gradients as the out-of-place function (exactly), and as torch
    (whose float64 hardsigmoid and celu backward use single-precision constants, 1/6 and
    1/α, so agreement with torch is to 1e-7 there and 1e-12 elsewhere)."""
    x0 = np.linspace(-4.0, 7.0, 12)

    def run(lib, f, inplace):
        x = tg.tensor(x0, requires_grad=True) if lib == "tg" else torch.tensor(
            x0, requires_grad=True)
        y = x * 1.5
        if inplace:
            assert f(y, *options, inplace=True) is y
        else:
            y = f(y, *options)
        (y * (y + 1)).sum().backward()
        return (y.data if lib == "tg" else y.detach().numpy()), x.grad.numpy()

    (v, g), (v0, g0) = run("tg", fn, True), run("tg", fn, False)
    np.testing.assert_array_equal(v, v0)
    np.testing.assert_allclose(g, g0, rtol=1e-15, atol=1e-15)
    tv, tgr = run("torch", tfn, True)
    np.testing.assert_allclose(v, tv, rtol=1e-12, atol=1e-15)
    rtol = 1e-7 if fn in (F.hardsigmoid, F.celu) else 1e-12
    np.testing.assert_allclose(g, tgr, rtol=rtol, atol=1e-12)
    plain = tg.tensor(x0 * 1.5)
    fn(plain, *options)
    np.testing.assert_array_equal(plain.data, x0 * 1.5)  # without inplace: untouched


def test_functional_in_place_spellings():
    for fn, ref in [(F.relu_, F.relu), (F.leaky_relu_, F.leaky_relu), (F.elu_, F.elu),
                    (F.selu_, F.selu), (F.celu_, F.celu), (F.hardtanh_, F.hardtanh)]:
        x = tg.tensor(np.linspace(-3.0, 3.0, 7))
        expected = ref(x).data
        assert fn(x) is x
        np.testing.assert_allclose(x.data, expected, rtol=1e-15)
    with pytest.raises(TypeError, match="inplace=True changes a Tensor"):
        F.relu(np.ones(3), inplace=True)


@pytest.mark.parametrize("module, tmodule", [
    (nn.ReLU(inplace=True), torch.nn.ReLU(inplace=True)),
    (nn.LeakyReLU(0.1, inplace=True), torch.nn.LeakyReLU(0.1, inplace=True)),
    (nn.ELU(inplace=True), torch.nn.ELU(inplace=True)),
    (nn.Hardtanh(-2.0, 2.0, inplace=True), torch.nn.Hardtanh(-2.0, 2.0, inplace=True)),
    (nn.SiLU(inplace=True), torch.nn.SiLU(inplace=True)),
])
def test_activation_modules_with_inplace_true(module, tmodule):
    assert "inplace=True" in repr(module)
    x0 = np.linspace(-3.0, 3.0, 6).reshape(2, 3)
    lin = nn.Linear(3, 3).double()
    tlin = torch.nn.Linear(3, 3).double()
    with torch.no_grad():
        tlin.weight.copy_(torch.tensor(lin.weight.data))
        tlin.bias.copy_(torch.tensor(lin.bias.data))
    out = nn.Sequential(lin, module)(tg.tensor(x0))
    tout = torch.nn.Sequential(tlin, tmodule)(torch.tensor(x0))
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(lin.weight.grad.numpy(), tlin.weight.grad.numpy(), rtol=1e-12)


def test_dropout_inplace_and_torch_argument_order():
    tg.manual_seed(0)
    x = tg.tensor(np.ones(1000)) * 1.0
    out = F.dropout(x, 0.5, True, True)  # (input, p, training, inplace), as torch
    assert out is x and set(np.unique(x.data)) == {0.0, 2.0}
    drop = nn.Dropout(0.5, inplace=True)
    assert repr(drop) == "Dropout(p=0.5, inplace=True)"
    y = tg.tensor(np.ones(10))
    assert drop.eval()(y) is y and (y.data == 1).all()


def test_detach_in_place():
    x = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x * 2
    assert y.detach_() is y and y.is_leaf and not y.requires_grad
    with pytest.raises(RuntimeError, match="use detach"):
        (x * 1)[0].detach_()
