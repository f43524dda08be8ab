"""gradcheck and gradgradcheck must pass on correct ops and FAIL on planted bugs; the
hypothesis strategies and check_gradients must work in a user's own tests; the
custom-op example must run."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor
from tinygrad_mlp.testing import check_gradients, strategies

# ----- ops with planted bugs -------------------------------------------------------------------


class Cube(tg.Function):
    """Correct: y = x³, dx = 3x²·g."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * grad


class CubeTwiceTooBig(Cube):
    """Planted bug: the gradient is 2× too big."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 6 * x**2 * grad


class MatMulTransposed(tg.Function):
    """Planted bug: a @ b with da = g @ b instead of g @ bᵀ (invisible for symmetric b)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad @ b, a.T @ grad


class MulWrongSecondInput(tg.Function):
    """Planted bug: a·b with db = g·a + 1 (only input 1 is wrong)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        return grad * b, grad * a + 1


class CubeFrozen(Cube):
    """Planted bug: the first derivative is right, but built from a constant copy of x,
    so its own derivative (the second derivative of the op) is lost."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        x = Tensor(x.numpy()) if isinstance(x, Tensor) else x
        return 3 * x**2 * grad


def leaf(shape, seed=0, lo=0.5, hi=2.0):
    return Tensor(np.random.default_rng(seed).uniform(lo, hi, shape), requires_grad=True)


def parse_report(message: str):
    """(input index, element index, analytical, numerical) from a GradcheckError message."""
    number = r"(?:np\.float64\()?(-?[0-9.e+-]+|nan|-?inf)"  # 1.5 or np.float64(1.5)
    m = re.search(
        rf"input (\d+).*element \(([\d, ]*)\).*analytical {number}.*numerical {number}",
        message,
    )
    assert m, f"report does not name input, element and both values: {message}"
    element = tuple(int(i) for i in m.group(2).replace(" ", "").split(",") if i)
    return int(m.group(1)), element, float(m.group(3)), float(m.group(4))


# ----- gradcheck ---------------------------------------------------------------------------------


def test_gradcheck_passes_on_correct_ops():
    a, b, c = leaf((2, 3), 1), leaf((3, 4), 2), leaf((4,), 3)
    assert tg.gradcheck(lambda a, b, c: ((a @ b).tanh() * c).log_softmax(), [a, b, c])
    assert tg.gradcheck(lambda x: Cube.apply(x), [a])
    assert tg.gradcheck(lambda x, y: (x.sigmoid(), (x @ y).sum()), [a, b])  # tuple output
    assert tg.gradgradcheck(lambda a, b, c: ((a @ b).tanh() * c).log_softmax(), [a, b, c])


def test_gradcheck_accepts_arrays_and_float32_and_leaves_inputs_alone():
    x32 = leaf((3,), 4).data.astype(np.float32)
    t = Tensor(x32.copy(), requires_grad=True)
    assert tg.gradcheck(lambda x: (x * x).exp(), [t])  # checked on float64 copies
    np.testing.assert_array_equal(t.data, x32)
    assert t.grad is None
    assert tg.gradcheck(lambda x: x.sqrt(), np.array([1.0, 4.0]))  # a bare array


def test_gradcheck_only_checks_inputs_that_require_grad():
    x = leaf((3,), 5)
    const = Tensor(np.array([1.0, 2.0, 3.0]))
    assert tg.gradcheck(lambda x, c: x * c, [x, const])
    with pytest.raises(ValueError, match="no input requires grad"):
        tg.gradcheck(lambda c: c * 2, [const])


def test_gradcheck_fails_on_a_gradient_twice_too_big():
    x = leaf((2, 3), 6)
    with pytest.raises(tg.GradcheckError) as e:
        tg.gradcheck(lambda t: CubeTwiceTooBig.apply(t), [x])
    index, element, analytical, numerical = parse_report(str(e.value))
    assert index == 0
    assert len(element) == 2 and all(0 <= i < n for i, n in zip(element, x.shape, strict=True))
    assert analytical == pytest.approx(2 * numerical, rel=1e-4)  # the planted factor
    assert "(2, 3)" in str(e.value)  # the input's shape


def test_gradcheck_fails_on_a_transposed_gradient():
    a = leaf((3, 3), 7)
    b = leaf((3, 3), 8)
    with pytest.raises(tg.GradcheckError, match="input 0"):
        tg.gradcheck(lambda a, b: MatMulTransposed.apply(a, b), [a, b])
    sym = Tensor(b.data + b.data.T)  # for a symmetric b the bug is invisible
    assert tg.gradcheck(lambda a, b: MatMulTransposed.apply(a, b), [a, sym])


class TransposeForgotten(tg.Function):
    """Planted bug: y = xᵀ with dx = g instead of gᵀ."""

    @staticmethod
    def forward(ctx, x):
        return x.T

    @staticmethod
    def backward(ctx, grad):
        return grad


def test_gradcheck_random_upstream_gradient_sees_what_all_ones_hides():
    x = leaf((3, 3), 15)
    with pytest.raises(tg.GradcheckError, match="input 0"):
        tg.gradcheck(lambda t: TransposeForgotten.apply(t), [x])
    # behind .sum() the upstream gradient is all ones, gᵀ = g, and the bug hides
    assert tg.gradcheck(lambda t: TransposeForgotten.apply(t).sum(), [x])


def test_gradcheck_names_the_wrong_input():
    a, b = leaf((4,), 9), leaf((4,), 10)
    with pytest.raises(tg.GradcheckError) as e:
        tg.gradcheck(lambda a, b: MulWrongSecondInput.apply(a, b), [a, b])
    index, element, analytical, numerical = parse_report(str(e.value))
    assert index == 1 and len(element) == 1
    assert analytical == pytest.approx(numerical + 1, abs=1e-6)


def test_gradcheck_returns_false_without_raising():
    x = leaf((3,), 11)
    assert tg.gradcheck(lambda t: CubeTwiceTooBig.apply(t), [x], raise_exception=False) is False
    assert tg.gradcheck(lambda t: Cube.apply(t), [x], raise_exception=False) is True
    assert tg.gradgradcheck(lambda t: CubeFrozen.apply(t), [x], raise_exception=False) is False


def test_gradgradcheck_catches_a_first_order_correct_but_frozen_backward():
    x = leaf((2, 2), 12)
    assert tg.gradcheck(lambda t: CubeFrozen.apply(t), [x])  # first order is right
    assert tg.gradgradcheck(lambda t: Cube.apply(t), [x])
    with pytest.raises(tg.GradcheckError) as e:
        tg.gradgradcheck(lambda t: CubeFrozen.apply(t), [x])
    index, element, analytical, numerical = parse_report(str(e.value))
    assert index == 0 and len(element) == 2
    assert analytical == 0.0 and abs(numerical) > 1e-3  # the lost 6x·g·v term


def test_gradcheck_tolerances_are_applied():
    x = leaf((3,), 14)

    class SlightlyOff(Cube):
        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 3 * x**2 * grad * (1 + 1e-2)

    with pytest.raises(tg.GradcheckError):
        tg.gradcheck(lambda t: SlightlyOff.apply(t), [x])
    assert tg.gradcheck(lambda t: SlightlyOff.apply(t), [x], rtol=0.05)


# ----- check_gradients and the strategies, as a user would use them ---------------------------


def test_check_gradients_passes_and_raises_assertion_with_the_report():
    check_gradients(lambda a, b: (a * b).sum(), np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    check_gradients(lambda t: Cube.apply(t), np.array([[1.0, -2.0]]), second_order=True)
    with pytest.raises(AssertionError, match=r"input 0.*element \(1,\).*analytical.*numerical"):
        check_gradients(lambda t: CubeTwiceTooBig.apply(t), np.array([0.0, 1.5]))
    with pytest.raises(AssertionError, match="gradient mismatch"):
        check_gradients(lambda t: CubeFrozen.apply(t), np.array([1.0, 2.0]), second_order=True)


@given(strategies.arrays())
def test_strategy_arrays_without_arguments(a):
    assert isinstance(a, np.ndarray) and a.dtype == np.float64
    assert np.all(np.isfinite(a)) and np.all(np.abs(a) <= 10)


@given(strategies.arrays(dtype=np.float32, min_value=-1, max_value=1))
def test_strategy_arrays_float32(a):
    assert a.dtype == np.float32 and np.all(np.isfinite(a)) and np.all(np.abs(a) <= 1)


@given(strategies.tensors())
def test_strategy_tensors_without_arguments(t):
    assert isinstance(t, Tensor) and t.requires_grad and t.dtype == np.float64
    assert np.all(np.isfinite(t.data))
    (t * t).sum().backward()
    np.testing.assert_allclose(t.grad.data, 2 * t.data)


@given(strategies.broadcastable_shapes())
def test_strategy_broadcastable_shapes_without_arguments(shapes):
    assert len(shapes) == 2
    a, b = (np.ones(s) for s in shapes)
    out = Tensor(a, requires_grad=True) + Tensor(b, requires_grad=True)
    assert out.shape == np.broadcast_shapes(*shapes)


@given(strategies.arrays(strategies.shapes(min_dims=1)), strategies.valid_axes())
def test_strategy_valid_axes_without_arguments(a, axis):
    np.testing.assert_allclose(Tensor(a).sum(axis=axis).data, np.sum(a, axis=axis))


@given(st.integers(0, 4).flatmap(lambda n: st.tuples(st.just(n), strategies.valid_axes(n))))
def test_strategy_valid_axes_for_every_ndim(n_axis):
    n, axis = n_axis  # including 0-d tensors, whose only axis argument is None
    a = np.ones((2,) * n)
    np.testing.assert_allclose(Tensor(a).sum(axis=axis).data, np.sum(a, axis=axis))


@given(strategies.array_and_axes(max_dims=3))
def test_strategy_array_and_axes(a_axis):
    a, axis = a_axis
    assert np.all(np.isfinite(a))
    np.testing.assert_allclose(Tensor(a).mean(axis=axis).data, np.mean(a, axis=axis))


@given(strategies.arrays(strategies.shapes(max_dims=2, max_side=3)))
def test_check_gradients_inside_a_users_given_test(x):
    check_gradients(lambda t: (t.tanh() * t).sum(), x, second_order=True)


# ----- the example -----------------------------------------------------------------------------


def load_example():
    path = Path(__file__).resolve().parent.parent / "examples" / "custom_op_gradcheck.py"
    spec = importlib.util.spec_from_file_location("custom_op_gradcheck", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_custom_op_example_runs_and_catches_its_planted_bugs(capsys):
    assert load_example().main(["--examples", "10"]) == 0
    out = capsys.readouterr().out
    assert "PASS  gradcheck" in out and "PASS  gradgradcheck" in out
    assert "FAIL  BuggySoftplus, gradcheck" in out
    assert "FAIL  FrozenSoftplus, gradgradcheck" in out
    assert "analytical" in out and "numerical" in out
    assert "behaved as expected" in out


def test_custom_op_example_buggy_flag_and_help(capsys):
    example = load_example()
    assert example.main(["--buggy"]) == 1
    assert "gradient mismatch" in capsys.readouterr().out
    with pytest.raises(SystemExit) as e:
        example.main(["--help"])
    assert e.value.code == 0


def test_custom_op_example_softplus_is_right():
    example = load_example()
    x = np.array([-50.0, -1.0, 0.0, 2.0, 800.0])
    y = example.softplus(Tensor(x, requires_grad=True))
    np.testing.assert_allclose(y.data, [np.exp(-50.0), np.log1p(np.exp(-1.0)), np.log(2.0),
                                        2.0 + np.log1p(np.exp(-2.0)), 800.0], rtol=1e-12)
    t = Tensor(x, requires_grad=True)
    example.softplus(t).sum().backward()
    np.testing.assert_allclose(t.grad.data, 1 / (1 + np.exp(-x)), rtol=1e-12)
