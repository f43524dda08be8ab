"""Tests of the engine itself: the backward walk, gradient bookkeeping, grad modes,
hooks, ``tg.grad``, numerics at the edges, custom Functions and error messages.

Expected values come from calculus done by hand (or numpy), never from the engine.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor


def leaf(values, dtype=np.float64) -> Tensor:
    return Tensor(np.array(values, dtype=dtype), requires_grad=True)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ----- the walk ---------------------------------------------------------------------------------


def test_chain_of_100k_ops_backpropagates_without_recursion():
    assert sys.getrecursionlimit() < 100_000  # the default limit is in force
    x = leaf(1.0)
    y = x
    for _ in range(100_000):
        y = y * 0.99999
    y.backward()
    np.testing.assert_allclose(x.grad.data, 0.99999**100_000, rtol=1e-9)
    z = x
    for _ in range(50_000):  # 100,000 ops again, each Add also consuming x directly
        z = z + x * 1e-5
    (g,) = tg.grad(z, x)
    np.testing.assert_allclose(g.data, 1 + 50_000 * 1e-5, rtol=1e-9)
    del y, z  # tearing down a deep graph must not overflow the C stack either


def test_tensor_used_twice_accumulates():
    x = leaf([1.0, -2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data)


def test_x_plus_x_times_x_accumulates():
    x = leaf([1.5, -0.5])
    ((x + x) * x).sum().backward()  # d(2x²)/dx = 4x
    np.testing.assert_allclose(x.grad.data, 4 * x.data)


def test_diamond_graph_sums_both_paths():
    x = leaf([0.3, -1.2])
    a = x * 3.0
    b = a.exp()
    c = a.tanh()
    (b * c).sum().backward()  # d/dx e^{3x}·tanh 3x = 3e^{3x}(tanh 3x + 1 - tanh² 3x)
    t = np.tanh(3 * x.data)
    np.testing.assert_allclose(x.grad.data, 3 * np.exp(3 * x.data) * (t + 1 - t * t))


def test_shared_subexpression_with_many_consumers():
    x = leaf([0.5, 2.0])
    s = x.sigmoid()
    y = s * s + s * 3.0 - s / 2.0 + (s * s).sum()  # the sum is broadcast to both outputs
    y.backward(np.ones(2))
    sv = 1 / (1 + np.exp(-x.data))
    ds = 2 * sv + 3.0 - 0.5 + 2 * (2 * sv)  # elementwise terms, then Σ s² twice
    np.testing.assert_allclose(x.grad.data, ds * sv * (1 - sv))


def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0])
    (x * x).sum().backward()
    first = x.grad
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, 2 * x.data + 3)
    assert x.grad is first  # accumulated into, not replaced
    x.zero_grad()
    assert x.grad is None
    (x * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, [3.0, 3.0])
    x.grad = None
    (x * 2.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 2.0])


def test_broadcast_gradients_are_summed_to_each_input_shape():
    r = rng(1)
    x = leaf(r.standard_normal((3, 1)))
    y = leaf(r.standard_normal((4,)))
    s = leaf(r.standard_normal(()))
    g = r.standard_normal((2, 3, 4))
    (x * y + s).broadcast_to((2, 3, 4)).backward(g)
    np.testing.assert_allclose(x.grad.data, (g * y.data).sum(axis=(0, 2))[:, None])
    np.testing.assert_allclose(y.grad.data, (g * x.data).sum(axis=(0, 1)))
    np.testing.assert_allclose(s.grad.data, g.sum())
    assert x.grad.shape == (3, 1) and y.grad.shape == (4,) and s.grad.shape == ()


def test_random_upstream_gradient_is_used_as_given():
    r = rng(2)
    a = leaf(r.standard_normal((2, 3)))
    b = leaf(r.standard_normal((3, 4)))
    g = r.standard_normal((2, 4))
    (a @ b).backward(g)
    np.testing.assert_allclose(a.grad.data, g @ b.data.T)
    np.testing.assert_allclose(b.grad.data, a.data.T @ g)


# ----- retain_graph ------------------------------------------------------------------------


def test_second_backward_through_freed_graph_raises_clearly():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time.*retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward_that_accumulates():
    x = leaf([1.0, 2.0])
    y = (x * x).exp().sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * 2 * x.data * np.exp(x.data**2))
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_tg_grad_frees_the_graph_unless_retained():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    tg.grad(y, x, retain_graph=True)
    (g,) = tg.grad(y, x)
    np.testing.assert_allclose(g.data, 2 * x.data)
    with pytest.raises(RuntimeError, match="second time"):
        tg.grad(y, x)


# ----- grad modes and requires_grad ------------------------------------------------------


def test_no_grad_context_records_nothing_and_restores():
    x = leaf([1.0])
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2
        with tg.no_grad():
            pass
        assert not tg.is_grad_enabled()
        with tg.enable_grad():
            assert (x * 2).requires_grad
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert (x * 2).requires_grad


def test_no_grad_restores_after_an_exception():
    with pytest.raises(KeyError):
        with tg.no_grad():
            raise KeyError("inside")
    assert tg.is_grad_enabled()


def test_no_grad_as_decorator_including_recursion():
    x = leaf([1.0])

    @tg.no_grad()
    def f(n: int) -> Tensor:
        y = x * 2
        return f(n - 1) if n else y

    assert not f(3).requires_grad
    assert tg.is_grad_enabled()  # each call restores its own previous mode
    assert (x * 2).requires_grad

    @tg.enable_grad()
    def g(n: int) -> Tensor:
        return g(n - 1) if n else x * 2

    with tg.no_grad():
        assert g(2).requires_grad
        assert not tg.is_grad_enabled()


def test_detach_shares_values_and_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    np.testing.assert_array_equal(d.data, y.data)
    assert np.shares_memory(d.data, y.data)
    (x * d).sum().backward()  # d is a constant: dx = d
    np.testing.assert_allclose(x.grad.data, 3 * x.data)


def test_detached_copy_of_an_input_is_a_constant_for_higher_order_gradients():
    x = leaf([1.5, -2.0])
    (g,) = tg.grad((x.detach() * x * x).sum(), x, create_graph=True)  # c·2x, c = x
    np.testing.assert_allclose(g.data, 2 * x.data**2)
    (h,) = tg.grad(g.sum(), x)  # d/dx (2 c x) = 2c, not 6x
    np.testing.assert_allclose(h.data, 2 * x.data)
    (g,) = tg.grad((x * x.data).sum(), x, create_graph=True)  # the raw array is constant too
    assert not g.requires_grad
    np.testing.assert_allclose(g.data, x.data)


def test_two_leaves_sharing_one_array_are_both_differentiated():
    x = leaf([1.5, 2.0])
    y = Tensor(x.data, requires_grad=True)
    (g,) = tg.grad((x * y * y).sum(), y, create_graph=True)  # 2xy
    hx, hy = tg.grad(g.sum(), [x, y])
    np.testing.assert_allclose(hx.data, 2 * y.data)
    np.testing.assert_allclose(hy.data, 2 * x.data)


def test_requires_grad_propagation():
    a = leaf([1.0])
    b = Tensor([2.0])
    assert not b.requires_grad
    assert (a + b).requires_grad and (b * a).requires_grad
    assert not (b * b).requires_grad
    assert (a + b).grad_fn == "Add" and a.grad_fn is None
    assert a.is_leaf and not (a + b).is_leaf


def test_requires_grad_():
    t = Tensor([1.0, 2.0])
    assert t.requires_grad_() is t and t.requires_grad
    (t * t).sum().backward()
    np.testing.assert_allclose(t.grad.data, [2.0, 4.0])
    assert not t.requires_grad_(False).requires_grad
    assert not (t * t).requires_grad
    with pytest.raises(RuntimeError, match="non-leaf"):
        (leaf([1.0]) * 2).requires_grad_(False)


def test_backward_only_reaches_leaves_that_require_grad():
    a = leaf([1.0])
    b = Tensor([2.0])
    (a * b).sum().backward()
    assert b.grad is None
    np.testing.assert_allclose(a.grad.data, [2.0])


# ----- hooks and retain_grad ----------------------------------------------------------------


def test_hook_is_called_with_the_gradient():
    x = leaf([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy()))
    (x * 3).sum().backward()
    assert len(seen) == 1
    np.testing.assert_allclose(seen[0], [3.0, 3.0])


def test_hook_on_intermediate_can_replace_the_gradient():
    x = leaf([1.0, 2.0])
    y = x * x
    y.register_hook(lambda g: g * 10)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, 10 * 2 * x.data)


def test_hook_on_leaf_replacement_is_what_accumulates():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: Tensor(np.zeros(2)))
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.0, 0.0])


def test_hook_removal_handle():
    x = leaf([1.0])
    calls = []
    handle = x.register_hook(lambda g: calls.append(1))
    (x * 2).sum().backward()
    handle.remove()  # torch's spelling (a RemovableHandle)
    handle.remove()  # twice is harmless
    (x * 2).sum().backward()
    assert calls == [1]
    with x.register_hook(lambda g: calls.append(2)):  # as a context manager
        (x * 2).sum().backward()
    (x * 2).sum().backward()
    remove = x.register_hook(lambda g: calls.append(3))
    remove()  # calling the handle removes it too
    (x * 2).sum().backward()
    assert calls == [1, 2]
    with pytest.raises(RuntimeError):
        Tensor([1.0]).register_hook(lambda g: None)


def test_hook_replacement_does_not_alias_the_returned_tensor():
    x = leaf([1.0, 2.0])
    replacement = Tensor(np.array([5.0, 5.0]))
    x.register_hook(lambda g: replacement)
    (x * 2).sum().backward()
    (x * 2).sum().backward()
    np.testing.assert_allclose(replacement.data, [5.0, 5.0])
    np.testing.assert_allclose(x.grad.data, [10.0, 10.0])


def test_retain_grad_keeps_intermediate_gradients():
    x = leaf([1.0, 2.0])
    y = x * 3
    z = x * 4
    y.retain_grad()
    (y * y + z).sum().backward()
    np.testing.assert_allclose(y.grad.data, 2 * y.data)
    assert z.grad is None
    np.testing.assert_allclose(x.grad.data, 2 * y.data * 3 + 4)


# ----- tg.grad -------------------------------------------------------------------------------


def test_tg_grad_returns_gradients_without_touching_dot_grad():
    x = leaf([1.0, 2.0])
    w = leaf([3.0, -1.0])
    gx, gw = tg.grad((x * w).sum(), [x, w])
    np.testing.assert_allclose(gx.data, w.data)
    np.testing.assert_allclose(gw.data, x.data)
    assert x.grad is None and w.grad is None
    (g,) = tg.grad(x * w, x, grad_outputs=np.array([2.0, 5.0]))
    np.testing.assert_allclose(g.data, [6.0, -5.0])


def test_tg_grad_of_intermediate_and_multiple_outputs():
    x = leaf([1.0, 2.0])
    h = x * x
    y1 = h.sum()
    y2 = (h * 2).sum()
    (gh,) = tg.grad([y1, y2], h, retain_graph=True)
    np.testing.assert_allclose(gh.data, [3.0, 3.0])
    (gx,) = tg.grad([y1, y2], [x])
    np.testing.assert_allclose(gx.data, 3 * 2 * x.data)


def test_tg_grad_allow_unused():
    x = leaf([1.0])
    u = leaf([2.0])
    with pytest.raises(RuntimeError, match="allow_unused"):
        tg.grad((x * 2).sum(), [x, u])
    gx, gu = tg.grad((x * 2).sum(), [x, u], allow_unused=True)
    np.testing.assert_allclose(gx.data, [2.0])
    assert gu is None


def test_tg_grad_create_graph_third_derivative():
    x = leaf(0.7)
    (d1,) = tg.grad(x**4, x, create_graph=True)
    (d2,) = tg.grad(d1, x, create_graph=True)
    (d3,) = tg.grad(d2, x)
    np.testing.assert_allclose([d1.item(), d2.item(), d3.item()],
                               [4 * 0.7**3, 12 * 0.7**2, 24 * 0.7])
    assert d1.requires_grad and not d3.requires_grad


def test_hessian_vector_product_matches_analytic_hessian():
    r = rng(3)
    n = 4
    a = r.standard_normal((n, n))
    xv, v = r.standard_normal(n), r.standard_normal(n)
    x = leaf(xv)
    A = Tensor(a)

    def f(t):  # f = ½ tᵀA t + Σ sin-free smooth terms: Σ e^{t} + (Σ t)³
        return (t @ A @ t) * 0.5 + t.exp().sum() + t.sum() ** 3

    (g,) = tg.grad(f(x), x, create_graph=True)
    np.testing.assert_allclose(
        g.data, 0.5 * (a + a.T) @ xv + np.exp(xv) + 3 * xv.sum() ** 2, rtol=1e-10
    )
    (hv,) = tg.grad(g, x, grad_outputs=v, retain_graph=True)
    hessian = 0.5 * (a + a.T) + np.diag(np.exp(xv)) + 6 * xv.sum() * np.ones((n, n))
    np.testing.assert_allclose(hv.data, hessian @ v, rtol=1e-10)
    (hv2,) = tg.grad((g * Tensor(v)).sum(), x)  # the same product, written as grad of g·v
    np.testing.assert_allclose(hv2.data, hessian @ v, rtol=1e-10)


def test_gradient_penalty_style_double_backward_into_dot_grad():
    w = leaf([0.5, -1.0])
    x = Tensor(np.array([2.0, 3.0]))
    (gw,) = tg.grad(((w * x).tanh()).sum(), w, create_graph=True)  # x·(1 - tanh²(wx))
    (gw * gw).sum().backward()
    t = np.tanh(w.data * x.data)
    d_gw = x.data * (-2 * t * (1 - t * t) * x.data)
    np.testing.assert_allclose(w.grad.data, 2 * gw.data * d_gw)


# ----- numerics at the edges -------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_of_huge_inputs_is_finite_and_correct(dtype):
    x = leaf([1000.0, -1000.0, 0.0], dtype)
    y = x.sigmoid()
    np.testing.assert_array_equal(y.data, np.array([1.0, 0.0, 0.5], dtype))
    y.backward(np.ones(3, dtype))
    np.testing.assert_array_equal(x.grad.data, np.array([0.0, 0.0, 0.25], dtype))
    (g,) = tg.grad(x.sigmoid().sum(), x, create_graph=True)
    (h,) = tg.grad(g.sum(), x)  # s(1-s)(1-2s): 0 at ±1000 and at 0
    assert np.all(np.isfinite(h.data))
    np.testing.assert_allclose(h.data, [0.0, 0.0, 0.0], atol=1e-30)


def test_log_softmax_of_logits_1e4_apart_is_finite_and_correct():
    x = leaf([[0.0, 1e4, -1e4], [5.0, 5.0, 5.0 - 1e4]])
    y = x.log_softmax(axis=-1)
    ln2 = np.log(2.0)
    np.testing.assert_allclose(y.data, [[-1e4, 0.0, -2e4], [-ln2, -ln2, -1e4 - ln2]], rtol=1e-12)
    g = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0]])
    y.backward(g)
    p = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])  # softmax, exactly representable here
    np.testing.assert_allclose(x.grad.data, g - p * g.sum(axis=1, keepdims=True), atol=1e-12)
    s = Tensor(x.data).softmax()
    np.testing.assert_allclose(s.data, p, atol=1e-300)
    assert np.all(np.isfinite(s.data))


def test_nan_propagates_forward_and_backward():
    x = leaf([1.0, np.nan, 2.0])
    for y in (x.exp(), x.tanh(), x.sigmoid(), x * x, x.abs(), x.sum(), x.max(), x.softmax()):
        assert np.isnan(y.data).any()
    (x * x).sum().backward()
    assert np.isnan(x.grad.data[1]) and np.isfinite(x.grad.data[[0, 2]]).all()
    x.grad = None
    x.max().backward()  # as torch.amax: the NaN maximum makes the gradient NaN
    assert np.isnan(x.grad.data).any()
    y = leaf([1.0, 2.0])
    (y * 2).backward(np.array([np.nan, 1.0]))  # a NaN upstream gradient is passed on
    assert np.isnan(y.grad.data[0]) and y.grad.data[1] == 2.0


def test_gradients_at_kinks_follow_pytorch():
    x = leaf([0.0, -1.0, 2.0])
    x.relu().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0, 1.0])
    x.grad = None
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, -1.0, 1.0])
    c = leaf([-1.0, 0.0, 1.0, 2.0, -3.0])
    c.clip(-1.0, 1.0).sum().backward()  # at a bound the gradient passes
    np.testing.assert_array_equal(c.grad.data, [1.0, 1.0, 1.0, 0.0, 0.0])


def test_max_and_min_split_the_gradient_evenly_among_ties():
    x = leaf([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    x.max(axis=1).backward(np.array([1.0, 6.0]))
    np.testing.assert_allclose(x.grad.data, [[0.0, 0.5, 0.5], [2.0, 2.0, 2.0]])
    x.grad = None
    x.max().backward()
    np.testing.assert_allclose(x.grad.data, [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]])
    x.grad = None
    x.min(axis=0, keepdims=True).backward(np.ones((1, 3)))
    np.testing.assert_allclose(x.grad.data, [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])


def test_maximum_and_minimum_give_half_each_on_ties():
    a = leaf([1.0, 2.0, 3.0])
    b = leaf([1.0, 5.0, 0.0])
    tg.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.data, [0.5, 1.0, 0.0])
    a.grad = b.grad = None
    tg.minimum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(b.grad.data, [0.5, 0.0, 1.0])


def test_pow_with_zero_exponent_has_zero_gradient_everywhere():
    x = leaf([0.0, 2.0])
    (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [0.0, 0.0])
    (g,) = tg.grad((x**1).sum(), x, create_graph=True)  # d/dx x = x⁰ = 1, then 0
    np.testing.assert_array_equal(g.data, [1.0, 1.0])
    (h,) = tg.grad(g.sum(), x)  # 0·0⁻¹ would be NaN at x = 0
    np.testing.assert_array_equal(h.data, [0.0, 0.0])


def test_python_scalars_in_functional_forms_are_not_rounded_to_float32():
    x = leaf([0.0, 2.0])
    np.testing.assert_array_equal(tg.maximum(x, 0.1).data, [0.1, 2.0])
    np.testing.assert_array_equal(tg.minimum(0.1, x).data, [0.0, 0.1])
    np.testing.assert_array_equal(tg.where(np.array([True, False]), x, 0.1).data, [0.0, 0.1])
    np.testing.assert_array_equal(tg.sub(0.1, x).data, [0.1, 0.1 - 2.0])
    np.testing.assert_array_equal(tg.mul(0.1, x).data, [0.0, 0.2])
    x32 = leaf([0.0, 2.0], np.float32)
    assert tg.maximum(x32, 0.1).dtype == np.float32
    assert tg.where(np.array([True, False]), 0.5, x32).dtype == np.float32


# ----- empty arrays --------------------------------------------------------------------------


def test_sum_of_empty_is_zero_with_empty_gradient():
    x = leaf(np.zeros((0, 3)))
    y = x.sum()
    assert y.item() == 0.0
    y.backward()
    assert x.grad.shape == (0, 3)
    x.grad = None
    x.sum(axis=0).backward(np.ones(3))
    assert x.grad.shape == (0, 3)


def test_elementwise_ops_on_empty_arrays():
    x = leaf(np.zeros((0, 3)))
    y = (x.exp() * 2 + x.sigmoid() - x.tanh()).relu()
    assert y.shape == (0, 3)
    y.backward(np.zeros((0, 3)))
    assert x.grad.shape == (0, 3)


def test_matmul_with_a_zero_dimension():
    a = leaf(np.zeros((2, 0)))
    b = leaf(np.zeros((0, 3)))
    y = a @ b
    np.testing.assert_array_equal(y.data, np.zeros((2, 3)))
    y.backward(np.ones((2, 3)))
    assert a.grad.shape == (2, 0) and b.grad.shape == (0, 3)
    c = leaf(np.zeros((0, 2)))
    d = leaf(np.ones((2, 3)))
    z = c @ d
    assert z.shape == (0, 3)
    z.backward(np.zeros((0, 3)))
    np.testing.assert_array_equal(d.grad.data, np.zeros((2, 3)))


# ----- custom Functions ---------------------------------------------------------------------


class Cube(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * grad


class MulAdd(tg.Function):
    """a·b + c, with one gradient per input."""

    @staticmethod
    def forward(ctx, a, b, c):
        ctx.save_for_backward(a, b)
        return a * b + c

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * b, grad * a, grad


def test_custom_function_forward_backward():
    x = leaf([1.0, -2.0])
    y = Cube.apply(x)
    np.testing.assert_allclose(y.data, x.data**3)
    assert y.grad_fn == "Cube"
    y.backward(np.array([1.0, 0.5]))
    np.testing.assert_allclose(x.grad.data, 3 * x.data**2 * [1.0, 0.5])


def test_custom_function_with_several_inputs_and_constants():
    a, b = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    MulAdd.apply(a, b, np.array([10.0, 20.0])).sum().backward()
    np.testing.assert_allclose(a.grad.data, b.data)
    np.testing.assert_allclose(b.grad.data, a.data)
    c = leaf(1.0)  # broadcast input: the engine reduces its gradient
    MulAdd.apply(a, b, c).sum().backward()
    np.testing.assert_allclose(c.grad.data, 2.0)


def test_custom_function_under_create_graph():
    x = leaf([1.5, -0.5])
    (g,) = tg.grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.data, 3 * x.data**2)
    (h,) = tg.grad(g.sum(), x)
    np.testing.assert_allclose(h.data, 6 * x.data)
    assert tg.gradgradcheck(lambda t: Cube.apply(t), [x])


def test_custom_function_returning_wrong_number_of_gradients_names_it():
    class TwoGrads(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2, grad

    with pytest.raises(RuntimeError, match="TwoGrads.*2 gradient.*1 input"):
        TwoGrads.apply(leaf([1.0])).sum().backward()

    class OneGrad(tg.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad):
            return grad

    with pytest.raises(RuntimeError, match="OneGrad"):
        OneGrad.apply(leaf([1.0]), leaf([2.0])).sum().backward()


@pytest.mark.parametrize("bad_shape", [(3, 2), (2,), (4, 3), ()])
def test_custom_function_returning_wrong_shape_names_it(bad_shape):
    class BadShape(tg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return np.ones(bad_shape)

    with pytest.raises(ValueError, match="BadShape"):
        BadShape.apply(leaf(np.ones((2, 3)))).sum().backward()


def test_custom_function_none_gradient_means_no_gradient():
    class FirstOnly(tg.Function):
        @staticmethod
        def forward(ctx, a, b):
            return a * 1.0

        @staticmethod
        def backward(ctx, grad):
            return grad, None

    a, b = leaf([1.0]), leaf([2.0])
    FirstOnly.apply(a, b).sum().backward()
    np.testing.assert_allclose(a.grad.data, [1.0])
    assert b.grad is None


# ----- errors on bad input -----------------------------------------------------------------


def test_matmul_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(4, 5\)"):
        Tensor(np.ones((2, 3))) @ Tensor(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        Tensor(np.ones(3)) @ Tensor(np.ones(4))
    with pytest.raises(ValueError):
        Tensor(2.0) @ Tensor(np.ones(3))


def test_broadcast_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, ?3\).*\(4,\)"):
        Tensor(np.ones((2, 3))) + Tensor(np.ones(4))
    with pytest.raises(ValueError, match=r"\(2, ?3\).*\(3, ?2\)"):
        tg.maximum(Tensor(np.ones((2, 3))), Tensor(np.ones((3, 2))))


def test_backward_on_non_scalar_needs_a_gradient():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(RuntimeError, match=r"single-element.*\(2,\)"):
        y.backward()
    leaf([[3.0]]).sum().backward()  # one element: fine, any shape


def test_backward_with_gradient_of_wrong_shape():
    y = leaf([1.0, 2.0]) * 2
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        y.backward(np.ones(3))


def test_backward_of_tensor_that_does_not_require_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor([1.0]).sum().backward()
    with pytest.raises(RuntimeError, match="does not require grad"):
        tg.grad(leaf([1.0]).sum(), Tensor([1.0]))


@pytest.mark.parametrize(
    "data",
    ["abc", object(), None, [1, "a"], [[1, 2], [3]], np.array(["a", "b"]), np.array([object()])],
)
def test_unsupported_data_types_are_rejected(data):
    with pytest.raises(TypeError):
        Tensor(data)


def test_requires_grad_on_integer_tensor_is_an_error():
    with pytest.raises(TypeError, match="floating"):
        Tensor(np.array([1, 2]), requires_grad=True)
    with pytest.raises(TypeError, match="floating"):
        Tensor(np.array([True])).requires_grad_()


# ----- gradient buffers: aliasing and dtype ------------------------------------------------


def test_gradients_do_not_alias_each_other_or_the_seed():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    g = np.array([1.0, -1.0])
    (x + y).backward(g)
    x.grad.data += 100.0
    np.testing.assert_array_equal(y.grad.data, [1.0, -1.0])
    np.testing.assert_array_equal(g, [1.0, -1.0])
    g[:] = 7.0
    np.testing.assert_array_equal(y.grad.data, [1.0, -1.0])


def test_gradients_do_not_alias_values_or_saved_arrays():
    x = leaf([1.0, 2.0])
    c = np.array([5.0, 6.0])
    (x * c).sum().backward()
    x.grad.data += 1.0
    np.testing.assert_array_equal(c, [5.0, 6.0])
    y = leaf([1.0, 2.0])
    y.backward(np.array([3.0, 3.0]))  # a leaf as the root: its grad is a copy of the seed
    np.testing.assert_array_equal(y.data, [1.0, 2.0])
    z = leaf(np.ones((2, 2)))
    z.reshape(4).backward(np.arange(4.0))  # the gradient is a view of the seed
    z.grad.data += 1
    z.reshape(4).backward(np.arange(4.0))
    np.testing.assert_array_equal(z.grad.data, 2 * np.arange(4.0).reshape(2, 2) + 1)


def test_gradients_do_not_alias_under_create_graph():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    g = Tensor(np.array([1.0, -1.0]))
    (x + y).backward(g, create_graph=True)
    assert x.grad is not y.grad
    x.grad.data += 100.0
    np.testing.assert_array_equal(y.grad.data, [1.0, -1.0])
    np.testing.assert_array_equal(g.data, [1.0, -1.0])
    (x + y).sum().backward()  # a later ordinary backward accumulates into each separately
    np.testing.assert_array_equal(x.grad.data, [102.0, 100.0])
    np.testing.assert_array_equal(y.grad.data, [2.0, 0.0])


def test_float32_parameters_get_float32_gradients():
    w = leaf([1.0, 2.0], np.float32)
    c64 = np.array([3.0, 4.0])  # a float64 constant upcasts the forward (numpy rules)
    y = (w * c64 + 1.0).sum()
    assert y.dtype == np.float64
    y.backward()
    assert w.grad.dtype == np.float32
    np.testing.assert_allclose(w.grad.data, [3.0, 4.0])
    (g,) = tg.grad((w * w * c64).sum(), w, create_graph=True)
    assert g.dtype == np.float32
    (h,) = tg.grad(g.sum(), w)
    assert h.dtype == np.float32
    np.testing.assert_allclose(h.data, 2 * c64)
    x = leaf(np.ones((2, 2)), np.float32)
    (x @ np.eye(2)).sum().backward()
    assert x.grad.dtype == np.float32
    x.grad = None
    (x.sum() * Tensor(np.float64(2.0))).backward()
    assert x.grad.dtype == np.float32


# ----- Tensor basics used by the tests above -------------------------------------------------


def test_tensor_basics():
    t = Tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    assert t.shape == (2, 3) and t.ndim == 2 and t.size == 6 and isinstance(t.size, int)
    assert len(t) == 2 and t.dtype == np.float32
    assert isinstance(t.data, np.ndarray)
    np.testing.assert_array_equal(np.asarray(t), t.numpy())
    assert Tensor(3.5).item() == 3.5
    assert "Tensor(" in repr(t) and "requires_grad=True" in repr(leaf([1.0]))
    assert "grad_fn=Mul" in repr(leaf([1.0]) * 2)
    with pytest.raises(ValueError):
        t.item()
    with pytest.raises(TypeError):
        len(Tensor(1.0))
    u = Tensor(t)
    assert u.shape == t.shape and not u.requires_grad


def test_pow_with_tensor_exponent_at_base_zero_follows_torch():
    # da = b·a^(b-1) is 0 where b = 0; db = y·ln a is 0 where a = 0 and b >= 0 (no 0·inf NaN)
    a = leaf([0.0, 0.0, 2.0, 0.0], np.float64)
    b = leaf([2.0, 0.0, 0.5, 1.0], np.float64)
    (a**b).sum().backward()
    np.testing.assert_allclose(a.grad.data, [0.0, 0.0, 0.5 * 2.0**-0.5, 1.0])
    np.testing.assert_allclose(b.grad.data, [0.0, 0.0, 2.0**0.5 * np.log(2.0), 0.0])
    assert np.isfinite(a.grad.data).all() and np.isfinite(b.grad.data).all()


def test_relu_of_nan_passes_the_gradient_on_as_torch():
    x = leaf([np.nan, -1.0, 0.0, 2.0])
    y = x.relu()
    assert np.isnan(y.data[0])  # the NaN itself propagates forward
    y.backward(np.array([3.0, 3.0, 3.0, 3.0]))
    np.testing.assert_array_equal(x.grad.data, [3.0, 0.0, 0.0, 3.0])  # relu'(0) = 0


def test_pytorch_2_style_function_with_setup_context():
    """forward(*inputs) without ctx, and setup_context(ctx, inputs, output), as torch 2
    writes custom ops: same gradients as the classic style, gradchecked, also subclassed."""
    class Cube(tg.Function):
        @staticmethod
        def forward(x, scale=1.0):
            return scale * x ** 3

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    class Inherited(Cube):
        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x ** 2 * g

    x = tg.tensor(np.array([0.5, -1.5, 2.0]), requires_grad=True)
    for op in (Cube, Inherited):
        assert tg.gradcheck(lambda t, op=op: op.apply(t), [x])
        x.grad = None
        op.apply(x).sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), 3 * x.numpy() ** 2)
    np.testing.assert_allclose(Cube.apply(x, scale=2.0).numpy(), 2 * x.numpy() ** 3)
