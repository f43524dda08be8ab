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
    with pytest.warns(UserWarning, match=r"input 0 \(float32\) checked as float64"):
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


# ----- issue 10: the report is the Jacobian entry, any layout, reentrancy, float32, kinks ----


class MulPlantedAt13(tg.Function):
    """Planted bug: y = a·b with d/db wrong (×1.5) at the one element (1, 3)."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        factor = np.ones(a.shape)
        factor[1, 3] = 1.5
        return grad * b, grad * a * factor


def test_gradcheck_reports_the_jacobian_entries_of_a_planted_bug():
    """Issue 10, bug 7: the report gives ∂y[1,3]/∂b[1,3] = a[1,3] = 2.2 (numerical) and
    the planted 1.5·2.2 = 3.3 (analytical), not random projections."""
    a = np.full((2, 4), 0.5)
    a[1, 3] = 2.2
    b = np.linspace(-1.0, 1.0, 8).reshape(2, 4)
    with pytest.raises(tg.GradcheckError) as e:
        tg.gradcheck(MulPlantedAt13.apply, [Tensor(a, requires_grad=True),
                                            Tensor(b, requires_grad=True)])
    message = str(e.value)
    index, element, analytical, numerical = parse_report(message)
    assert (index, element) == (1, (1, 3))
    assert analytical == pytest.approx(3.3, abs=1e-8)
    assert numerical == pytest.approx(2.2, abs=1e-8)
    assert "output 0 (shape (2, 4)), element (1, 3)" in message
    assert "1 of 64 entries for input 1 disagree" in message  # an 8x8 Jacobian, one entry
    assert "hint" not in message  # a product is smooth: no kink hint


def test_gradcheck_names_input_and_output_elements_of_an_off_diagonal_entry():
    """With da = g @ b instead of g @ bᵀ the wrong entries are ∂y[r,j]/∂a[r,k] = b[k,j]
    (numerical) against b[j,k] (analytical): both elements must be named."""
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 3))
    with pytest.raises(tg.GradcheckError) as e:
        tg.gradcheck(MatMulTransposed.apply, [Tensor(a, requires_grad=True),
                                              Tensor(b, requires_grad=True)])
    m = re.search(r"input 0 \(shape \(2, 3\)\), element \((\d), (\d)\), and output 0 "
                  r"\(shape \(2, 3\)\), element \((\d), (\d)\)", str(e.value))
    assert m, str(e.value)
    r, k, r_out, j = (int(g) for g in m.groups())
    _, _, analytical, numerical = parse_report(str(e.value))
    assert r == r_out and j != k
    assert numerical == pytest.approx(b[k, j], abs=1e-8)
    assert analytical == pytest.approx(b[j, k], abs=1e-8)
    assert "also:" in str(e.value)  # more than one wrong entry: a few more are listed


def layout_inputs():
    """One 3x4 float64 input in each memory layout the strategies know."""
    values = np.random.default_rng(4).uniform(0.5, 2.0, (3, 4))
    out = [strategies.with_layout(values, name) for name in ("C", "F", "transposed", "strided")]
    out.append(np.broadcast_to(values[:1], (3, 4)))  # a read-only view with stride 0
    return out


@pytest.mark.parametrize("layout", range(5), ids=["C", "F", "transposed", "strided", "bcast"])
def test_gradcheck_checks_every_memory_layout(layout):
    """Issue 10, bug 6: a Fortran or transposed input used to be perturbed in a copy,
    so every numerical entry was 0 and a correct op failed."""
    x = layout_inputs()[layout]
    before = x.copy()
    t = Tensor(x, requires_grad=True)
    assert tg.gradcheck(lambda t: (t.exp() * t).sum(axis=0), [t])
    assert tg.gradcheck(lambda t, w: t @ w, [t, leaf((4, 2), 5)])
    np.testing.assert_array_equal(t.data, before)  # the user's data is never perturbed
    with pytest.raises(tg.GradcheckError, match="input 0") as e:  # and bugs are still seen
        tg.gradcheck(CubeTwiceTooBig.apply, [Tensor(x, requires_grad=True)])
    _, _, analytical, numerical = parse_report(str(e.value))
    assert analytical == pytest.approx(2 * numerical, rel=1e-5) and numerical != 0


class SquareRightOnce(tg.Function):
    """Planted bug: y = x², backward right only on its first call (state on the class)."""

    calls = 0

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        SquareRightOnce.calls += 1
        return 2 * x * grad if SquareRightOnce.calls == 1 else x * grad


class SquareSpoilsItsContext(tg.Function):
    """Planted bug: backward overwrites what forward saved, so a second call is wrong."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x.copy())
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        result = 2 * x * grad
        x *= 0.5  # in place: the next backward sees half of x
        return result


class SquareNoisy(tg.Function):
    """A nondeterministic backward: the right gradient plus noise of 1e-12."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return 2 * x * grad + np.random.default_rng().uniform(-1e-12, 1e-12, x.shape)


@pytest.mark.parametrize("op", [SquareRightOnce, SquareSpoilsItsContext])
@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_fails_a_backward_that_is_right_only_once(op, fast_mode):
    """Issue 10, bug 8: a single backward per check passed these."""
    op.calls = 0
    x = leaf((3,), 16)
    with pytest.raises(tg.GradcheckError, match="not reentrant") as e:
        tg.gradcheck(lambda t: op.apply(t).sum(), [x], fast_mode=fast_mode)
    m = re.search(r"first (\S+), second (\S+)", str(e.value))
    assert m and float(m[1]) == pytest.approx(2 * float(m[2]))  # the two calls, named
    op.calls = 0
    assert tg.gradcheck(lambda t: op.apply(t).sum(), [x], raise_exception=False) is False


def test_gradcheck_nondet_tol():
    x = leaf((3,), 17)
    with pytest.raises(tg.GradcheckError, match=r"not reentrant.*nondet_tol=0\.0"):
        tg.gradcheck(SquareNoisy.apply, [x])
    assert tg.gradcheck(SquareNoisy.apply, [x], nondet_tol=1e-10)


def test_gradcheck_fast_mode_passes_correct_ops_and_names_the_wrong_input():
    a, b, c = leaf((2, 3), 1), leaf((3, 4), 2), leaf((4,), 3)
    assert tg.gradcheck(lambda a, b, c: ((a @ b).tanh() * c).log_softmax(), [a, b, c],
                        fast_mode=True)
    with pytest.raises(tg.GradcheckError) as e:
        tg.gradcheck(lambda a, b: MulWrongSecondInput.apply(a, b), [leaf((4,), 9), leaf((4,), 10)],
                     fast_mode=True)
    message = str(e.value)
    assert "fast_mode" in message and "input 1" in message and "fast_mode=False" in message
    assert "input 0" not in message
    with pytest.raises(tg.GradcheckError, match="fast_mode"):
        tg.gradgradcheck(CubeFrozen.apply, [leaf((2, 2), 12)], fast_mode=True)
    assert tg.gradgradcheck(Cube.apply, [leaf((2, 2), 12)], fast_mode=True)


def test_gradgradcheck_reports_entries_of_the_gradient_jacobian():
    """For f = x³ and upstream v, the gradient is 3x²·v; its Jacobian is diagonal 6x·v.
    The frozen rule gives 0 there: the report names the diagonal entry and says what
    output k means."""
    x = leaf((3,), 18)
    v = np.random.default_rng(1).standard_normal(3)  # gradgradcheck's v for seed 0
    with pytest.raises(tg.GradcheckError) as e:
        tg.gradgradcheck(CubeFrozen.apply, [x])
    index, element, analytical, numerical = parse_report(str(e.value))
    k = element[0]
    assert f"output 0 (shape (3,)), element ({k},)" in str(e.value)
    assert analytical == 0.0
    assert numerical == pytest.approx(6 * x.data[k] * v[k], rel=1e-6)
    assert "gradient of v·fn" in str(e.value)


def test_gradcheck_hints_at_a_kink():
    x = Tensor(np.array([3e-7, 1.0, -2.0]), requires_grad=True)  # relu's kink within eps
    with pytest.raises(tg.GradcheckError) as e:
        tg.gradcheck(lambda t: t.relu(), [x])
    message = str(e.value)
    assert parse_report(message)[1] == (0,)
    assert "hint: the function is not smooth at input 0 element (0,) = 3e-07" in message
    assert "(left)" in message and "(right)" in message
    assert tg.gradcheck(lambda t: t.relu(), [Tensor(np.array([0.1, 1.0, -2.0]),
                                                    requires_grad=True)])


def test_gradcheck_float32_inputs_are_noted_in_the_report():
    x = Tensor(leaf((3,), 29).data.astype(np.float32), requires_grad=True)
    with pytest.warns(UserWarning, match="float32"), pytest.raises(tg.GradcheckError) as e:
        tg.gradcheck(CubeTwiceTooBig.apply, [x])
    assert "note: input 0 (float32) checked as float64 copies" in str(e.value)
    with pytest.warns(UserWarning, match="float32"), pytest.raises(tg.GradcheckError) as e:
        tg.gradgradcheck(CubeFrozen.apply, [x])
    assert "note: input 0 (float32) checked as float64 copies" in str(e.value)


def test_gradcheck_notes_a_function_that_computes_in_float32():
    x = leaf((3,), 19)
    with pytest.raises(tg.GradcheckError, match="note: output.*float32") as e:
        tg.gradcheck(lambda t: tg.ops.Cast.apply(t, dtype=np.float32).exp() * 3, [x])
    assert "compute in float64" in str(e.value)


def test_gradcheck_works_under_no_grad_and_with_non_float_outputs():
    x = leaf((3,), 20)
    with tg.no_grad():
        assert tg.gradcheck(lambda t: t.tanh(), [x])
    assert tg.gradcheck(lambda t: (t.exp(), t.argmax()), [x])  # the int output is ignored


def test_gradcheck_counts_an_output_that_forgot_its_graph():
    x = leaf((2,), 21)
    with pytest.raises(tg.GradcheckError) as e:
        tg.gradcheck(lambda t: Tensor(t.data * 2), [x])  # detached: analytical Jacobian 0
    _, _, analytical, numerical = parse_report(str(e.value))
    assert analytical == 0.0 and numerical == pytest.approx(2.0)


class CubeWithJvp(Cube):
    """y = x³: dy = 3x²·dx."""

    @staticmethod
    def jvp(ctx, dx):
        (x,) = ctx.primals
        return 3 * x**2 * dx


class CubeWithWrongJvp(Cube):
    """Planted bug in forward mode only: dy = 2x²·dx (backward is right)."""

    @staticmethod
    def jvp(ctx, dx):
        (x,) = ctx.primals
        return 2 * x**2 * dx


def test_gradcheck_check_forward_ad():
    pytest.importorskip("tinygrad_mlp.func")
    x, w = leaf((2, 3), 22), leaf((3, 2), 23)
    assert tg.gradcheck(lambda x, w: (x @ w).tanh(), [x, w], check_forward_ad=True)
    assert tg.gradcheck(lambda x: CubeWithJvp.apply(x), [x], check_forward_ad=True)
    assert tg.gradcheck(lambda x: CubeWithJvp.apply(x), [x], check_forward_ad=True,
                        fast_mode=True)
    with pytest.raises(tg.GradcheckError, match="forward-mode") as e:
        tg.gradcheck(lambda x: CubeWithWrongJvp.apply(x), [x], check_forward_ad=True)
    report = str(e.value).replace("jvp ", "analytical ", 1)  # parse_report's words
    index, element, jvp_entry, numerical = parse_report(report)
    assert jvp_entry == pytest.approx(2 / 3 * numerical, rel=1e-5)
    with pytest.raises(tg.GradcheckError, match="fast_mode"):
        tg.gradcheck(lambda x: CubeWithWrongJvp.apply(x), [x], check_forward_ad=True,
                     fast_mode=True)
    assert tg.gradcheck(lambda x: CubeWithWrongJvp.apply(x), [x])  # reverse mode is right


def test_gradcheck_check_forward_ad_without_forward_mode_is_a_clear_error(monkeypatch):
    import sys

    import tinygrad_mlp

    monkeypatch.delattr(tinygrad_mlp, "func", raising=False)
    monkeypatch.setitem(sys.modules, "tinygrad_mlp.func", None)  # import fails
    with pytest.raises(NotImplementedError, match=r"check_forward_ad=True.*func\.jvp"):
        tg.gradcheck(lambda t: t.exp(), [leaf((2,), 24)], check_forward_ad=True)


# ----- check_gradients and the strategies, as a user would use them ---------------------------


def test_check_gradients_passes_and_raises_assertion_with_the_report():
    check_gradients(lambda a, b: (a * b).sum(), np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    check_gradients(lambda t: Cube.apply(t), np.array([[1.0, -2.0]]), second_order=True)
    with pytest.raises(AssertionError, match=r"input 0.*element \(1,\).*analytical.*numerical"):
        check_gradients(lambda t: CubeTwiceTooBig.apply(t), np.array([0.0, 1.5]))
    with pytest.raises(AssertionError, match="gradient mismatch"):
        check_gradients(lambda t: CubeFrozen.apply(t), np.array([1.0, 2.0]), second_order=True)
    check_gradients(Cube.apply, np.array([1.0, 2.0]), second_order=True, fast_mode=True)
    with pytest.raises(AssertionError, match=r"fast_mode\) for input 0"):
        check_gradients(CubeTwiceTooBig.apply, np.array([1.0, 2.0]), fast_mode=True)


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


def as_torch_sees_it(a):
    """A 0-d array as the 1-element vector whose axis 0 / -1 torch lets a scalar have."""
    return a if a.ndim else a.reshape(1)


@given(st.integers(0, 4).flatmap(lambda n: st.tuples(st.just(n), strategies.valid_axes(n))))
def test_strategy_valid_axes_for_every_ndim(n_axis):
    n, axis = n_axis  # 0-d tensors get None, 0, -1, (0,), (-1,) as torch accepts
    a = np.arange(2.0**n).reshape((2,) * n)
    if n == 0:
        assert axis in (None, 0, -1, (0,), (-1,))
    assert np.sum(as_torch_sees_it(a), axis=axis).ndim <= n  # numpy accepts it


@given(st.data())
def test_strategy_valid_axes_draws_negative_axes_and_respects_restrictions(data):
    n = data.draw(st.integers(1, 4))
    axis = data.draw(strategies.valid_axes(n, allow_none=False, allow_tuple=False))
    assert isinstance(axis, int) and -n <= axis < n
    axes = data.draw(strategies.valid_axes(n))
    if isinstance(axes, tuple):
        assert len({a % n for a in axes}) == len(axes)


def test_strategy_valid_axes_and_permutations_reach_negative_numbers():
    from hypothesis import find

    assert find(strategies.valid_axes(3), lambda a: isinstance(a, tuple) and min(a) < 0)
    perm = find(strategies.permutations(3), lambda p: any(a < 0 for a in p))
    assert sorted(a % 3 for a in perm) == [0, 1, 2]


@given(strategies.array_and_axes(max_dims=3))
def test_strategy_array_and_axes(a_axis):
    a, axis = a_axis
    assert np.all(np.isfinite(a))
    expected = np.mean(as_torch_sees_it(a), axis=axis)
    assert expected.size >= 1 and np.all(np.isfinite(expected))


@given(strategies.arrays(strategies.shapes(min_dims=2, max_dims=3, min_side=2),
                         layout=strategies.layouts()), st.data())
def test_strategy_layouts_store_the_values_differently(a, data):
    assert np.all(np.isfinite(a))
    if a.strides[-1] == 0 or 0 in a.strides:  # broadcast: some stride is 0, read-only
        assert not a.flags.writeable
    for layout in ("C", "F", "transposed", "strided"):
        b = strategies.with_layout(np.array(a), layout)
        np.testing.assert_array_equal(b, a)
    assert strategies.with_layout(a, "F").flags.f_contiguous
    assert not strategies.with_layout(a, "strided").flags.c_contiguous
    assert strategies.with_layout(a, "transposed").base is not None


@given(strategies.arrays(strategies.shapes(max_dims=2), layout=strategies.layouts()))
def test_strategy_every_layout_works_for_every_shape(a):
    assert isinstance(a, np.ndarray) and np.all(np.isfinite(a))
    for layout in ("C", "F", "transposed", "strided"):  # 0-d stays 0-d
        assert strategies.with_layout(a, layout).shape == a.shape


def test_strategy_layouts_are_each_reachable():
    from hypothesis import find

    def drawn(check):  # find raises NoSuchExample when no draw satisfies check
        assert find(strategies.arrays((3, 2), layout=None), check).shape == (3, 2)

    drawn(lambda a: a.flags.f_contiguous and not a.flags.c_contiguous)  # F or transposed
    drawn(lambda a: 0 in a.strides)  # broadcast
    drawn(lambda a: not a.flags.c_contiguous and not a.flags.f_contiguous)  # strided
    with pytest.raises(ValueError, match="unknown layout 'diagonal'"):
        strategies.arrays((2,), layout="diagonal")
    with pytest.raises(ValueError, match="broadcast"):
        strategies.with_layout(np.ones(2), "broadcast")


@given(strategies.arrays(dtype=np.int64, min_value=-2**40, max_value=2**40))
def test_strategy_integer_arrays_keep_big_exact_values(a):
    assert a.dtype == np.int64 and np.all(np.abs(a) <= 2**40)


@given(strategies.arrays((4,), dtype=strategies.dtypes(ints=True, bools=True)))
def test_strategy_dtypes(a):
    assert a.dtype in (np.float32, np.float64, np.int32, np.int64, np.bool_)
    if a.dtype.kind == "f":
        assert np.all(np.isfinite(a)) and np.all(np.abs(a) <= 10)


@given(strategies.tensors((2,), dtype=strategies.dtypes(floats=False, bools=True)))
def test_strategy_tensors_of_bools_do_not_require_grad(t):
    assert t.dtype == np.bool_ and not t.requires_grad


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
    assert "FAIL  OnceSoftplus, gradcheck (backward run twice)" in out
    assert "not reentrant" in out
    assert "element (" in out and "output 0" in out  # the report names Jacobian entries
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


def fake_forward_mode(scale):
    """A stand-in ``tinygrad_mlp.func`` whose jvp is ``scale`` × central differences: it
    tests gradcheck's forward-mode plumbing before (or without) the real one."""
    import types

    def jvp(fn, primals, tangents):
        def at(sign):
            return fn(*(Tensor(p.data + sign * 1e-6 * np.asarray(t.data), requires_grad=True)
                        for p, t in zip(primals, tangents, strict=True)))

        with tg.no_grad():
            return fn(*primals), Tensor(scale * (at(1).data - at(-1).data) / 2e-6)

    return types.SimpleNamespace(jvp=jvp)


@pytest.mark.parametrize("fast_mode", [False, True])
def test_gradcheck_forward_ad_compares_the_jvp_with_the_numerical_jacobian(
        monkeypatch, fast_mode):
    import sys

    import tinygrad_mlp

    a, b = leaf((2, 2), 25), leaf((2,), 26)
    for scale, ok in ((1.0, True), (1.5, False)):
        fake = fake_forward_mode(scale)
        monkeypatch.setattr(tinygrad_mlp, "func", fake, raising=False)
        monkeypatch.setitem(sys.modules, "tinygrad_mlp.func", fake)
        assert tg.gradcheck(lambda a, b: (a * b).exp(), [a, b], check_forward_ad=True,
                            fast_mode=fast_mode, raise_exception=False) is ok
    with pytest.raises(tg.GradcheckError, match="forward-mode|jvp") as e:
        tg.gradcheck(lambda a, b: (a * b).exp(), [a, b], check_forward_ad=True,
                     fast_mode=fast_mode)
    if not fast_mode:
        _, _, jvp_entry, numerical = parse_report(str(e.value).replace("jvp ", "analytical ", 1))
        assert jvp_entry == pytest.approx(1.5 * numerical, rel=1e-5)


def test_gradcheck_benchmark_runs():
    """benchmarks/gradcheck.py (timings are its business, not the suite's) still runs."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "gradcheck.py"
    spec = importlib.util.spec_from_file_location("bench_gradcheck", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.main(["--in-features", "6", "--out-features", "3", "--repeats", "1",
                        "--no-torch"]) == 0


def test_gradcheck_forward_ad_alone(monkeypatch):
    import sys

    import tinygrad_mlp

    fake = fake_forward_mode(1.5)  # a wrong jvp, and a wrong backward: only jvp is checked
    monkeypatch.setattr(tinygrad_mlp, "func", fake, raising=False)
    monkeypatch.setitem(sys.modules, "tinygrad_mlp.func", fake)
    x = leaf((3,), 27)
    with pytest.raises(tg.GradcheckError, match="forward-mode"):
        tg.gradcheck(CubeTwiceTooBig.apply, [x], check_forward_ad=True, check_backward_ad=False)
    monkeypatch.setitem(sys.modules, "tinygrad_mlp.func", fake_forward_mode(1.0))
    monkeypatch.setattr(tinygrad_mlp, "func", sys.modules["tinygrad_mlp.func"])
    assert tg.gradcheck(CubeTwiceTooBig.apply, [x], check_forward_ad=True,
                        check_backward_ad=False)
    with pytest.raises(ValueError, match="check_backward_ad=False needs check_forward_ad"):
        tg.gradcheck(Cube.apply, [x], check_backward_ad=False)


def test_gradcheck_refuses_a_jacobian_too_big_to_hold(monkeypatch):
    import sys

    module = sys.modules["tinygrad_mlp.gradcheck"]  # tg.gradcheck is the function
    monkeypatch.setattr(module, "_MAX_ENTRIES", 100)
    x = leaf((11,), 28)
    with pytest.raises(ValueError, match=r"121 entries.*fast_mode=True"):
        tg.gradcheck(lambda t: t.exp(), [x])
    assert tg.gradcheck(lambda t: t.exp(), [x], fast_mode=True)


class SqrtNaNAtZero(tg.Function):
    """y = √x with the gradient NaN at 0, the same NaN on every call: not a reentrancy
    failure, but a mismatch (numerical is finite there, one-sided)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sqrt(np.abs(x))

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        with np.errstate(divide="ignore", invalid="ignore"):
            return grad * np.sign(x) * 0.5 / np.sqrt(np.abs(x)) * np.where(x == 0, np.nan, 1)


def test_gradcheck_nan_in_both_backward_passes_is_a_mismatch_not_nondeterminism():
    x = Tensor(np.array([0.0, 4.0]), requires_grad=True)
    with pytest.raises(tg.GradcheckError) as e:
        tg.gradcheck(SqrtNaNAtZero.apply, [x])
    assert "not reentrant" not in str(e.value)
    assert parse_report(str(e.value))[1] == (0,) and "analytical nan" in str(e.value)
