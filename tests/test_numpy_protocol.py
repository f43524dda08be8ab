"""numpy's functions on Tensors: a table of numpy calls, each either a Tensor in the graph
with the right value and gradient, or a clear refusal; never a silently detached result."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor, numpy_api

R = np.random.default_rng(0)
B = R.standard_normal((2, 3)) + 2.5  # a constant operand (positive: log, sqrt, powers)

# name -> a function of one (2, 3) array-like, evaluated on float64 arrays and on Tensors
TABLE = {
    "exp": np.exp, "log": lambda x: np.log(x * x + 1), "sqrt": lambda x: np.sqrt(x * x + 1),
    "tanh": np.tanh, "abs": lambda x: np.abs(x + 10), "negative": np.negative,
    "positive": np.positive, "square": np.square, "sin": np.sin, "cos": np.cos,
    "log1p": lambda x: np.log1p(x * x), "expm1": np.expm1, "exp2": np.exp2,
    "reciprocal": lambda x: np.reciprocal(x * x + 1),
    "add": lambda x: np.add(x, 1), "add-array-left": lambda x: np.add(B, x),
    "subtract": lambda x: np.subtract(B, x), "multiply": lambda x: np.multiply(x, B),
    "divide": lambda x: np.divide(x, B), "rdivide": lambda x: B / (x * x + 1),
    "power": lambda x: np.power(x * x + 1, 1.5), "power-tensor-exp": lambda x: np.power(B, x),
    "maximum": lambda x: np.maximum(x, B - 2.5), "minimum": lambda x: np.minimum(x, 0.25),
    "matmul": lambda x: np.matmul(x, B.T), "matmul-left": lambda x: np.matmul(B.T, x),
    "ndarray+t": lambda x: B + x, "ndarray*t": lambda x: B * x, "ndarray@t": lambda x: B.T @ x,
    "ndarray-t": lambda x: B - x, "float64*t": lambda x: np.float64(2) * x,
    "sum": lambda x: np.sum(x, axis=0), "sum-all": np.sum,
    "mean": lambda x: np.mean(x, axis=1, keepdims=True), "max": lambda x: np.max(x, axis=1),
    "min": lambda x: np.min(x), "amax": lambda x: np.amax(x, axis=(0, 1)),
    "add.reduce": lambda x: np.add.reduce(x, axis=1),
    "var": lambda x: np.var(x, axis=0), "std": lambda x: np.std(x, axis=1, ddof=1),
    "prod": lambda x: np.prod(x, axis=0), "cumsum": lambda x: np.cumsum(x, axis=1),
    "reshape": lambda x: np.reshape(x, (3, 2)), "transpose": np.transpose,
    "transpose-axes": lambda x: np.transpose(np.reshape(x, (1, 2, 3)), (2, 0, 1)),
    "moveaxis": lambda x: np.moveaxis(np.reshape(x, (1, 2, 3)), 0, -1),
    "swapaxes": lambda x: np.swapaxes(x, 0, 1), "ravel": np.ravel,
    "squeeze": lambda x: np.squeeze(np.reshape(x, (1, 2, 3))),
    "expand_dims": lambda x: np.expand_dims(x, 1),
    "broadcast_to": lambda x: np.broadcast_to(x, (2, 2, 3)),
    "concatenate": lambda x: np.concatenate([x, B, x * 2], axis=1),
    "concatenate-None": lambda x: np.concatenate([x, B], axis=None),
    "stack": lambda x: np.stack([x, B], axis=-1),
    "where": lambda x: np.where(B > 2.5, x, -x), "clip": lambda x: np.clip(x, -0.5, 0.5),
    "dot": lambda x: np.dot(x, B.T), "outer": lambda x: np.outer(x[0], x[1]),
    "flip": lambda x: np.flip(x, axis=0), "tile": lambda x: np.tile(x, (1, 2)),
    "einsum": lambda x: np.einsum("ij,ij->i", x, B),
    "tril": np.tril, "roll": lambda x: np.roll(x, 1, axis=1),
    "hstack": lambda x: np.hstack([x, B]), "vstack": lambda x: np.vstack([x, B]),
}


@pytest.mark.parametrize("name", sorted(TABLE))
@given(x=hnp.arrays(np.float64, (2, 3), elements=st.integers(-200, 200).map(lambda i: i / 100),
                   unique=True))  # no near-ties: max/min/maximum are smooth between them
def test_numpy_function_on_a_tensor_records_the_graph(name, x):
    fn = TABLE[name]
    if name in ("clip",):
        x = np.where(np.abs(np.abs(x) - 0.5) < 1e-3, x + 0.01, x)  # away from the bounds
    t = Tensor(x, requires_grad=True)
    out = fn(t)
    assert isinstance(out, Tensor), f"np {name} returned {type(out).__name__}"
    assert out.requires_grad and (out.grad_fn is not None or out is t), (
        f"np {name} dropped the graph")
    expected = np.asarray(fn(x))
    assert out.shape == expected.shape
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)
    assert tg.gradcheck(fn, [t])


def test_float32_tensors_keep_their_dtype_next_to_numpy_scalars():
    t = Tensor(np.array([1.0, 2.0], np.float32))
    assert (np.float64(2) * t).dtype == np.float32  # the numpy scalar is a weak constant
    assert np.exp(t).dtype == np.float32


def test_comparisons_give_bool_tensors_from_either_side():
    t = Tensor(np.array([1.0, 3.0]))
    for result in (np.greater(t, 2), np.ones(2) < t, np.equal(t, np.array([1.0, 0.0]))):
        assert isinstance(result, Tensor) and result.dtype == bool
    np.testing.assert_array_equal((np.ones(2) < t).data, [False, True])


def test_ndarray_on_the_left_still_gives_a_tensor_with_gradients():
    t = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    for out in (np.ones(3) + t, t + np.ones(3), np.ones(3) * t, np.arange(3.0) - t):
        assert isinstance(out, Tensor) and out.requires_grad
    (np.full(3, 2.0) * t).sum().backward()
    np.testing.assert_array_equal(t.grad.data, [2.0, 2.0, 2.0])


def test_asarray_is_the_value():
    t = Tensor(np.array([[1.0, 2.0]]), requires_grad=True)
    a = np.asarray(t)
    assert type(a) is np.ndarray
    np.testing.assert_array_equal(a, t.data)
    assert np.shape(t) == (1, 2) and np.ndim(t) == 2 and np.size(t) == 2


def test_out_is_refused_clearly():
    t = Tensor(np.ones(3))
    with pytest.raises(TypeError, match=r"numpy.exp\(\.\.\., out=\.\.\.\).*not supported"):
        np.exp(t, out=np.empty(3))
    with pytest.raises(TypeError, match=r"numpy.sum\(\.\.\., out=\.\.\.\).*not supported"):
        np.sum(t, out=np.empty(()))
    arr = np.zeros(3)
    with pytest.raises(TypeError, match="out= is not supported"):
        arr += t  # would write a graph value into a plain array


def test_functions_without_a_rule_never_silently_drop_the_graph():
    t = Tensor(np.array([3.0, 1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match="numpy.sort has no tinygrad rule.*np.asarray"):
        np.sort(t)
    with pytest.raises(TypeError, match="numpy.median has no tinygrad rule"):
        np.median(t)
    with pytest.raises(TypeError, match="numpy.arctan has no tinygrad rule"):
        np.arctan(t)
    # without a graph to lose: a plain array, with a warning saying so
    c = Tensor(np.array([3.0, 1.0, 2.0]))
    with pytest.warns(RuntimeWarning, match="numpy.sort has no tinygrad rule: it returned a"):
        assert type(np.sort(c)) is np.ndarray
    # results that are not floats (indices, booleans) come back quietly, as numpy gives them
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(np.argsort(t), [1, 2, 0])
        assert np.allclose(t, [3.0, 1.0, 2.0])
        assert np.isfinite(t).all()


def test_unsupported_options_name_themselves():
    t = Tensor(np.ones((2, 2)), requires_grad=True)
    with pytest.raises(TypeError, match="initial="):
        np.sum(t, initial=1.0)
    with pytest.raises(TypeError, match="where="):
        np.exp(t, where=np.array([True, False]))


def test_tensor_operators_do_not_go_through_the_protocol(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("the numpy protocol was used on the hot path")

    monkeypatch.setattr(numpy_api, "array_ufunc", boom)
    monkeypatch.setattr(numpy_api, "array_function", boom)
    t = Tensor(np.ones((2, 2)), requires_grad=True)
    u = Tensor(np.ones((2, 2)))
    loss = ((t + u) * 2 - t / 3 + t @ u).exp().sum() + (t ** 2).mean()
    loss.backward()
    assert t.grad.shape == (2, 2)


def test_supported_lists_what_maps_onto_ops():
    names = numpy_api.supported()
    for n in ("exp", "add", "matmul", "maximum", "tanh"):
        assert n in names["ufuncs"]
    for n in ("sum", "mean", "reshape", "transpose", "concatenate", "stack", "where", "clip"):
        assert n in names["functions"]
