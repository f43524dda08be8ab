"""Spellings that PyTorch and tinygrad users type: ``t.size()`` / ``t.size(0)`` next to
numpy's ``t.size`` (an int), and activations as Tensor methods (``x.gelu()``)."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F


def test_size_is_an_int_and_callable_as_in_torch():
    t = tg.Tensor(np.zeros((2, 3, 4)))
    assert t.size == 24 and isinstance(t.size, int) and t.size + 1 == 25
    assert t.size() == (2, 3, 4) and t.size(0) == 2 and t.size(-1) == 4
    assert tg.Tensor(np.float64(1.0)).size() == ()


@pytest.mark.parametrize("name", ["gelu", "silu", "softplus", "elu", "celu", "selu",
                                  "leaky_relu", "mish", "hardswish", "hardsigmoid",
                                  "hardtanh", "relu6", "softsign", "logsigmoid"])
def test_activation_methods_are_the_functional_forms(name):
    x = np.linspace(-3, 3, 7)
    a, b = tg.Tensor(x, requires_grad=True), tg.Tensor(x, requires_grad=True)
    getattr(a, name)().sum().backward()
    getattr(F, name)(b).sum().backward()
    np.testing.assert_array_equal(getattr(tg.Tensor(x), name)().data, getattr(F, name)(x).data)
    np.testing.assert_array_equal(a.grad.data, b.grad.data)
    assert tg.gradcheck(lambda t: getattr(t, name)(), [tg.Tensor(x + 0.01, requires_grad=True)])


def test_method_aliases():
    x = tg.Tensor(np.array([-1.0, 2.0]))
    np.testing.assert_array_equal(x.swish().data, x.silu().data)
    np.testing.assert_array_equal(x.leakyrelu(0.2).data, F.leaky_relu(x, 0.2).data)


def test_a_tensor_shows_itself_in_jupyter():
    x = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = (x * 2).sum()
    y.backward()
    leaf_html, op_html = x._repr_html_(), y._repr_html_()
    assert "(2, 3)" in leaf_html and "float64" in leaf_html and "leaf, requires grad" in leaf_html
    assert ".grad (2, 3)" in leaf_html and "[[0., 1., 2.]," in leaf_html
    assert "grad_fn=Sum" in op_html
    big = tg.Tensor(np.zeros(10_000))._repr_html_()
    assert "..." in big and len(big) < 500  # summarised, as numpy prints large arrays
