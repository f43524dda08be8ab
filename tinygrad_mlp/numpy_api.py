"""numpy's own functions on Tensors: ``np.exp(t)``, ``np.sum(t, axis=0)``, ``ndarray + t``.

numpy hands a call that involves a Tensor to ``Tensor.__array_ufunc__`` (ufuncs:
``np.exp``, ``np.add``, and the operators of an ndarray or numpy scalar on the left) or
``Tensor.__array_function__`` (everything else: ``np.sum``, ``np.concatenate``...). Both
come here and look the numpy callable up in a table of tinygrad ops, so the result is a
Tensor wired into the graph, with gradients, exactly as if the op had been called.

A numpy callable without a rule is computed on the plain values only when nothing is lost:

* results that are not floating point (shapes, booleans, indices) come back as numpy
  gives them;
* a floating-point result of inputs that carry no gradient comes back as a plain ndarray,
  with a warning that it is not a Tensor;
* a floating-point result of an input that requires grad (or carries a forward-mode
  tangent) is a ``TypeError``: returning it would silently cut the graph.

``out=`` is always refused (a tinygrad op makes a new Tensor; it cannot write into an
array or another Tensor). Tensor operators (``t + u``) never come through here: this
module costs nothing on the hot path. ``np.asarray(t)`` is ``t.data`` (via ``__array__``).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mlp.tensor import _STATE, Tensor


def _tg() -> Any:
    import tinygrad_mlp

    return tinygrad_mlp


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(np.asarray(x))


def _scalar(x: Any) -> Any:
    """numpy scalars become Python numbers (weakly typed next to a Tensor, as in torch)."""
    if isinstance(x, np.generic) and x.dtype.kind in "biuf":
        return x.item()
    return x


def _name(fn: Any) -> str:
    return f"numpy.{getattr(fn, '__name__', repr(fn))}"


def _options(fn: Any, kwargs: dict, allowed: tuple[str, ...]) -> None:
    """Refuse keyword arguments a rule does not implement, naming them."""
    extra = [k for k, v in kwargs.items() if k not in allowed and v is not None]
    if extra:
        raise TypeError(
            f"{_name(fn)} on a Tensor: the option(s) {', '.join(f'{k}=' for k in extra)} "
            f"are not supported (supported: {', '.join(allowed) or 'none'})"
        )


# ----- ufuncs ---------------------------------------------------------------------------------


def _compare(op: Callable[[Any, Any], Any]) -> Callable[..., Tensor]:
    def rule(a: Any, b: Any) -> Tensor:  # comparisons: bool Tensors, no gradient (as operators)
        return Tensor._make(op(np.asarray(a), np.asarray(b)), None)

    return rule


def _method(name: str) -> Callable[..., Any]:
    """A rule calling ``tg.<name>`` (looked up at call time: some ops are optional)."""

    def rule(*args: Any) -> Any:
        return getattr(_tg(), name)(*[_t(a) if i == 0 else a for i, a in enumerate(args)])

    rule.tg_name = name  # type: ignore[attr-defined]
    return rule


_UFUNCS: dict[Any, Callable[..., Any]] = {
    np.add: lambda a, b: _tg().add(a, b),
    np.subtract: lambda a, b: _tg().sub(a, b),
    np.multiply: lambda a, b: _tg().mul(a, b),
    np.true_divide: lambda a, b: _tg().div(a, b),
    np.power: lambda a, b: _tg().pow(a, b),
    np.float_power: lambda a, b: _tg().pow(_t(a).astype(np.float64), b),
    np.matmul: lambda a, b: _tg().matmul(a, b),
    np.negative: lambda a: -_t(a),
    np.positive: lambda a: _t(a),
    np.maximum: lambda a, b: _tg().maximum(a, b),
    np.minimum: lambda a, b: _tg().minimum(a, b),
    np.less: _compare(np.less),
    np.less_equal: _compare(np.less_equal),
    np.greater: _compare(np.greater),
    np.greater_equal: _compare(np.greater_equal),
    np.equal: _compare(np.equal),
    np.not_equal: _compare(np.not_equal),
}
for _uf, _op in [
    (np.exp, "exp"), (np.log, "log"), (np.sqrt, "sqrt"), (np.absolute, "abs"), (np.tanh, "tanh"),
    (np.sin, "sin"), (np.cos, "cos"), (np.tan, "tan"), (np.log2, "log2"), (np.log1p, "log1p"),
    (np.exp2, "exp2"), (np.expm1, "expm1"), (np.square, "square"), (np.reciprocal, "reciprocal"),
    (np.sign, "sign"), (np.floor, "floor"), (np.ceil, "ceil"), (np.trunc, "trunc"),
    (np.rint, "round"),
]:
    _UFUNCS[_uf] = _method(_op)

#: ``ufunc.reduce`` forms that are reductions tinygrad has
_REDUCE = {np.add: "sum", np.maximum: "max", np.minimum: "min", np.multiply: "prod"}


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple, kwargs: dict) -> Any:
    """``Tensor.__array_ufunc__``: a numpy ufunc on Tensors, as a tinygrad op."""
    if kwargs.get("out") is not None:
        raise TypeError(
            f"{_name(ufunc)}(..., out=...) with a Tensor: out= is not supported (a tinygrad "
            "op returns a new Tensor; assign the result instead, e.g. y = np.exp(t))"
        )
    kwargs = {k: v for k, v in kwargs.items() if k != "out"}
    if method == "reduce" and ufunc in _REDUCE and hasattr(_tg(), _REDUCE[ufunc]):
        _options(ufunc, kwargs, ("axis", "keepdims"))
        x = _t(inputs[0])
        axis = kwargs.get("axis", 0)
        return getattr(x, _REDUCE[ufunc])(axis, bool(kwargs.get("keepdims", False)))
    rule = _UFUNCS.get(ufunc) if method == "__call__" else None
    if rule is not None and hasattr(rule, "tg_name") and not hasattr(_tg(), rule.tg_name):
        rule = None
    if rule is None:
        where = f"{_name(ufunc)}.{method}" if method != "__call__" else _name(ufunc)
        return _without_rule(ufunc, where, lambda *a, **k: getattr(ufunc, method)(*a, **k),
                             inputs, kwargs)
    _options(ufunc, kwargs, ())
    return rule(*[_scalar(x) for x in inputs])


# ----- other numpy functions -------------------------------------------------------------------


def _reduction(name: str) -> Callable[..., Tensor]:
    def rule(a: Any, axis: Any = None, out: Any = None, keepdims: bool = False,
             **kw: Any) -> Tensor:
        _options(rule, kw, ())
        return getattr(_t(a), name)(axis, keepdims)

    rule.__name__ = name
    return rule


def _var_std(name: str) -> Callable[..., Tensor]:
    def rule(a: Any, axis: Any = None, dtype: Any = None, out: Any = None, ddof: float = 0,
             keepdims: bool = False, **kw: Any) -> Tensor:
        _options(rule, {"dtype": dtype, **kw}, ())
        return getattr(_tg(), name)(_t(a), axis=axis, correction=ddof, keepdims=keepdims)

    rule.__name__ = name
    return rule


def _reshape(a: Any, *args: Any, shape: Any = None, newshape: Any = None, order: str = "C",
             copy: Any = None) -> Tensor:
    if order != "C":
        raise TypeError(f"numpy.reshape on a Tensor: only order='C' is supported, got {order!r}")
    shape = args[0] if args else (shape if shape is not None else newshape)
    if shape is None:
        raise TypeError("numpy.reshape on a Tensor: missing the new shape")
    return _t(a).reshape(tuple(shape) if isinstance(shape, (tuple, list)) else (shape,))


def _transpose(a: Any, axes: Any = None) -> Tensor:
    return _t(a).transpose(axes) if axes is not None else _t(a).transpose()


def _moveaxis(a: Any, source: Any, destination: Any) -> Tensor:
    t = _t(a)
    src = np.atleast_1d(source) % max(t.ndim, 1)
    dst = np.atleast_1d(destination) % max(t.ndim, 1)
    order = [n for n in range(t.ndim) if n not in src]
    for d, s in sorted(zip(dst.tolist(), src.tolist(), strict=True)):
        order.insert(d, s)
    return t.transpose(tuple(order))


def _squeeze(a: Any, axis: Any = None) -> Tensor:
    t = _t(a)
    return t.reshape(np.squeeze(np.empty(t.shape, dtype=bool), axis).shape)


def _expand_dims(a: Any, axis: Any) -> Tensor:
    t = _t(a)
    return t.reshape(np.expand_dims(np.empty(t.shape, dtype=bool), axis).shape)


def _concatenate(arrays: Any, axis: Any = 0, out: Any = None, dtype: Any = None,
                 casting: Any = None) -> Tensor:
    _options(_concatenate, {"dtype": dtype, "casting": casting}, ())
    if axis is None:
        return _tg().cat([_t(x).reshape(-1) for x in arrays], axis=0)
    return _tg().cat(list(arrays), axis=axis)


def _stack(arrays: Any, axis: int = 0, out: Any = None, **kw: Any) -> Tensor:
    _options(_stack, kw, ())
    return _tg().stack(list(arrays), axis=axis)


def _where(condition: Any, *xy: Any) -> Any:
    if not xy:  # np.where(cond): indices, no values to differentiate
        return np.where(np.asarray(condition))
    if len(xy) != 2:
        raise TypeError("numpy.where on Tensors: pass both x and y (or neither)")
    x, y = (_scalar(v) for v in xy)
    if not isinstance(x, Tensor) and not isinstance(y, Tensor):
        x = _t(x)
    return _tg().where(condition, x, y)


def _clip(a: Any, a_min: Any = None, a_max: Any = None, out: Any = None, *, min: Any = None,  # noqa: A002
          max: Any = None, **kw: Any) -> Tensor:  # noqa: A002
    _options(_clip, kw, ())
    lo = a_min if a_min is not None else min
    hi = a_max if a_max is not None else max
    if isinstance(lo, (Tensor, np.ndarray)) or isinstance(hi, (Tensor, np.ndarray)):
        t = _t(a)
        if lo is not None:
            t = _tg().maximum(t, lo)
        return _tg().minimum(t, hi) if hi is not None else t
    return _t(a).clip(_scalar(lo), _scalar(hi))


def _dot(a: Any, b: Any, out: Any = None) -> Tensor:
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return _tg().mul(_scalar(a), _scalar(b))
    if np.ndim(a) > 2 or np.ndim(b) > 2:
        raise TypeError("numpy.dot on Tensors of more than 2 dimensions is not supported "
                        "(use np.matmul or np.einsum, whose rules tinygrad has)")
    return _tg().matmul(a, b)


def _outer(a: Any, b: Any, out: Any = None) -> Tensor:
    return _t(a).reshape(-1, 1) * _t(b).reshape(1, -1)


def _ravel(a: Any, order: str = "C") -> Tensor:
    if order != "C":
        raise TypeError(f"numpy.ravel on a Tensor: only order='C' is supported, got {order!r}")
    return _t(a).reshape(-1)


def _broadcast_to(array: Any, shape: Any, subok: bool = False) -> Tensor:
    return _t(array).broadcast_to(tuple(shape) if isinstance(shape, (tuple, list)) else (shape,))


def _swapaxes(a: Any, axis1: int, axis2: int) -> Tensor:
    return _t(a).swapaxes(axis1, axis2)


def _argext(name: str) -> Callable[..., Tensor]:
    def rule(a: Any, axis: Any = None, out: Any = None, *, keepdims: bool = False) -> Tensor:
        return getattr(_t(a), name)(axis, keepdims)

    return rule


def _optional(name: str, adapt: Callable[..., tuple[tuple, dict]]) -> Callable[..., Any]:
    """A rule for an op some versions of tinygrad may lack (checked at call time)."""

    def rule(*args: Any, **kwargs: Any) -> Any:
        a, k = adapt(*args, **kwargs)
        return getattr(_tg(), name)(*a, **k)

    rule.tg_name = name  # type: ignore[attr-defined]
    return rule


def _axis_only(a: Any, axis: Any = None, dtype: Any = None, out: Any = None) -> tuple:
    _options(np.cumsum, {"dtype": dtype}, ())
    return (_t(a),), {"axis": axis}


def _prod_args(a: Any, axis: Any = None, dtype: Any = None, out: Any = None,
               keepdims: bool = False, **kw: Any) -> tuple:
    _options(np.prod, {"dtype": dtype, **kw}, ())
    return (_t(a),), {"axis": axis, "keepdims": keepdims}


def _flip_args(a: Any, axis: Any = None) -> tuple:  # np.flip(m, axis=None)
    return (_t(a),), {"axis": axis}


def _tri(m: Any, k: int = 0) -> tuple:
    return (_t(m),), {"k": k}


def _tile(a: Any, reps: Any) -> tuple:
    return (_t(a), reps), {}


def _roll(a: Any, shift: Any, axis: Any = None) -> tuple:
    return (_t(a), shift), {"axis": axis}


def _einsum(subscripts: str, *operands: Any, out: Any = None, **kw: Any) -> tuple:
    _options(np.einsum, kw, ())
    return (subscripts, *operands), {}


def _seq(tup: Any) -> tuple:
    return (list(tup),), {}


_FUNCTIONS: dict[Any, Callable[..., Any]] = {
    np.sum: _reduction("sum"),
    np.mean: _reduction("mean"),
    np.max: _reduction("max"),
    np.min: _reduction("min"),
    np.amax: _reduction("max"),
    np.amin: _reduction("min"),
    np.var: _var_std("var"),
    np.std: _var_std("std"),
    np.reshape: _reshape,
    np.transpose: _transpose,
    np.moveaxis: _moveaxis,
    np.swapaxes: _swapaxes,
    np.squeeze: _squeeze,
    np.expand_dims: _expand_dims,
    np.ravel: _ravel,
    np.broadcast_to: _broadcast_to,
    np.concatenate: _concatenate,
    np.stack: _stack,
    np.where: _where,
    np.clip: _clip,
    np.dot: _dot,
    np.outer: _outer,
    np.argmax: _argext("argmax"),
    np.argmin: _argext("argmin"),
    np.prod: _optional("prod", _prod_args),
    np.cumsum: _optional("cumsum", _axis_only),
    np.cumprod: _optional("cumprod", _axis_only),
    np.flip: _optional("flip", _flip_args),
    np.tril: _optional("tril", _tri),
    np.triu: _optional("triu", _tri),
    np.tile: _optional("tile", _tile),
    np.roll: _optional("roll", _roll),
    np.einsum: _optional("einsum", _einsum),
    np.hstack: _optional("hstack", _seq),
    np.vstack: _optional("vstack", _seq),
}
if hasattr(np, "concat"):  # numpy 2 spells it both ways
    _FUNCTIONS[np.concat] = _concatenate
if hasattr(np, "permute_dims"):
    _FUNCTIONS[np.permute_dims] = _transpose


def array_function(func: Any, types: tuple, args: tuple, kwargs: dict) -> Any:
    """``Tensor.__array_function__``: a numpy function on Tensors, as tinygrad ops."""
    if kwargs.get("out") is not None:
        raise TypeError(
            f"{_name(func)}(..., out=...) with a Tensor: out= is not supported (a tinygrad "
            "op returns a new Tensor; assign the result instead)"
        )
    if not all(issubclass(t, (Tensor, np.ndarray)) for t in types):
        return NotImplemented  # another library's array type: let it (or numpy) decide
    rule = _FUNCTIONS.get(func)
    if rule is not None and hasattr(rule, "tg_name") and not hasattr(_tg(), rule.tg_name):
        rule = None
    if rule is None:
        return _without_rule(func, _name(func), func, args, kwargs)
    return rule(*args, **kwargs)


# ----- no rule: plain values only when nothing is lost --------------------------------------------


def _plain(x: Any) -> Any:
    """Tensors inside (nested lists/tuples/dicts of) arguments replaced by their arrays."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(v) for v in x)
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _tensors(x: Any) -> list[Tensor]:
    if isinstance(x, Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _tensors(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _tensors(v)]
    return []


def _floats(x: Any) -> bool:
    if isinstance(x, (np.ndarray, np.generic)):
        return x.dtype.kind in "fc"
    if isinstance(x, (list, tuple)):
        return any(_floats(v) for v in x)
    return isinstance(x, float)


def _without_rule(fn: Any, name: str, call: Callable[..., Any], args: Any, kwargs: dict) -> Any:
    """Compute on plain values when no gradient is lost; otherwise a clear TypeError."""
    tensors = _tensors([args, kwargs])
    tracked = [t for t in tensors if (t.requires_grad and _STATE.grad_enabled)
               or t._tangent is not None and _STATE.forward_ad]
    result = call(*_plain(args), **_plain(kwargs))
    if not _floats(result):
        return result  # shapes, booleans, indices: nothing to differentiate
    if tracked:
        raise TypeError(
            f"{name} has no tinygrad rule: on a Tensor that requires grad its result would "
            "not be part of the graph. Use tinygrad ops (see tinygrad_mlp.numpy_api for the "
            "numpy functions that map onto them), or call it on np.asarray(t) or "
            "t.detach() to say that no gradient is wanted"
        )
    warnings.warn(
        f"{name} has no tinygrad rule: it returned a plain ndarray, not a Tensor",
        RuntimeWarning, stacklevel=3,
    )
    return result


def supported() -> dict[str, list[str]]:
    """Names of the numpy ufuncs and functions that run as tinygrad ops on Tensors.

    >>> "exp" in supported()["ufuncs"] and "concatenate" in supported()["functions"]
    True
    """
    tg = _tg()

    def ok(rule: Any) -> bool:
        return not hasattr(rule, "tg_name") or hasattr(tg, rule.tg_name)

    return {
        "ufuncs": sorted(u.__name__ for u, r in _UFUNCS.items() if ok(r)),
        "functions": sorted({f.__name__ for f, r in _FUNCTIONS.items() if ok(r)}),
    }
