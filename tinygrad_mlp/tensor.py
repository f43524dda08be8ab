"""Tensor: a numpy array that remembers how it was computed, and the backward walk.

Every differentiable op returns a Tensor whose ``_ctx`` records the op and its inputs
(``Function.apply`` does the recording). For ``loss = sigmoid(x @ W.T + b).sum()``::

      x    W            each box is a Tensor; each arrow an op's Context,
       \\  /             which points from an output back to its inputs
      MatMul   b
          \\   /
           Add
            |
         Sigmoid
            |
           Sum  -> loss      loss.backward() walks these arrows in reverse
                             topological order, calling each op's backward rule

``backward`` is two steps, and every way of differentiating (``backward``, ``tg.grad``,
the ``tg.jit`` replay) runs the same two:

1. **plan** (:func:`_plan`): find every tensor that leads to the output, with an explicit
   stack (never recursion), and order them newest first. Tensors are numbered as they
   are created and an op's output is always newer than its inputs, so this order is a
   reverse topological order: each tensor comes after every op that used it.
2. **execute** (:func:`_execute`): seed the output's gradient with 1, then visit the plan
   in order, calling each op's backward rule and adding what it returns into its inputs'
   gradients (summed, never overwritten), running hooks, filling leaves' ``.grad``.

Afterwards the graph lets go (:func:`_release`): saved arrays and intermediate tensors
are freed, so memory is held by what the user holds. Grad mode, anomaly mode and the
tracer are per thread (``_STATE``).
"""

from __future__ import annotations

import contextlib
import functools
import html
import inspect
import itertools
import os
import threading
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np


class _State(threading.local):
    """Per-thread switches, as PyTorch's: is a graph being recorded? Are we hunting NaNs?
    Who traces? A ``no_grad`` block in one thread never changes what another records.

    The defaults are class attributes, so every new thread starts from them.
    """

    grad_enabled = True
    tracer: Callable[[dict], None] | None = None
    #: True while any of anomaly mode, a jit trace or forward mode is on, so that
    #: ``Function.apply`` reads one attribute (a thread-local read is not free) per op
    special = False
    _anomaly = False
    _tape: list | None = None
    _forward_ad = 0

    def _special_changed(self) -> None:
        self.special = bool(self._anomaly or self._tape is not None or self._forward_ad)

    @property
    def anomaly(self) -> bool:
        """Inside ``detect_anomaly``: check every op's values for NaN/Inf."""
        return self._anomaly

    @anomaly.setter
    def anomaly(self, value: bool) -> None:
        self._anomaly = value
        self._special_changed()

    @property
    def tape(self) -> list | None:
        """While ``tg.jit`` traces: every op call, in order."""
        return self._tape

    @tape.setter
    def tape(self, value: list | None) -> None:
        self._tape = value
        self._special_changed()

    @property
    def forward_ad(self) -> int:
        """> 0 inside ``tg.func.jvp``: ops carry tangents (forward mode)."""
        return self._forward_ad

    @forward_ad.setter
    def forward_ad(self, value: int) -> None:
        self._forward_ad = value
        self._special_changed()


_STATE = _State()

#: Every Tensor gets the next number when it is created. An op's output is always created
#: after its inputs, so ordering tensors from the highest number down is a valid reverse
#: topological order: the backward plan is a sort, never a recursive search.
_CREATION_ORDER = itertools.count()


class _GradMode:
    """A grad-mode switch usable as a context manager and as a decorator, also of generator
    functions (the mode then holds each time the generator's body runs, as in PyTorch)."""

    mode = True

    def __init__(self) -> None:
        self._prev: list[bool] = []

    def __enter__(self) -> None:
        self._prev.append(_STATE.grad_enabled)
        _STATE.grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        _STATE.grad_enabled = self._prev.pop()

    def _clone(self) -> _GradMode:
        return type(self)()

    def __call__(self, fn: Callable) -> Callable:
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def generator(*args: Any, **kwargs: Any) -> Any:
                with self._clone():
                    gen = fn(*args, **kwargs)
                    request = None
                    try:
                        response = gen.send(None)
                    except StopIteration as stop:
                        return stop.value
                while True:
                    try:
                        request = yield response
                    except GeneratorExit:
                        with self._clone():
                            gen.close()
                        raise
                    except BaseException as e:  # thrown in by the caller: pass it on
                        with self._clone():
                            try:
                                response = gen.throw(e)
                            except StopIteration as stop:
                                return stop.value
                    else:
                        with self._clone():
                            try:
                                response = gen.send(request)
                            except StopIteration as stop:
                                return stop.value

            return generator

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._clone():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):  # noqa: N801  (PyTorch's name)
    """Context manager and decorator: ops inside record no graph (inference, updates).

    Per thread: another thread keeps recording while this one is inside.

    >>> import tinygrad_mlp as tg
    >>> x = tg.Tensor([1.0], requires_grad=True)
    >>> with tg.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    mode = False


class enable_grad(_GradMode):  # noqa: N801
    """Context manager and decorator: record the graph again inside a ``no_grad`` block."""

    mode = True


class inference_mode(_GradMode):  # noqa: N801
    """PyTorch's ``inference_mode(mode=True)``: here the same as ``no_grad`` (nothing is
    recorded; ``mode=False`` records as usual). A context manager and a decorator."""

    def __init__(self, mode: bool = True) -> None:
        super().__init__()
        self.mode = not mode

    def _clone(self) -> _GradMode:
        return inference_mode(not self.mode)


class set_grad_enabled(_GradMode):  # noqa: N801
    """Turn recording on or off: as a call it takes effect at once (``set_grad_enabled(False)``);
    as a context manager or decorator it restores the previous mode afterwards.

    >>> import tinygrad_mlp as tg
    >>> with tg.set_grad_enabled(False):
    ...     tg.is_grad_enabled()
    False
    >>> tg.is_grad_enabled()
    True
    """

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._prev = [_STATE.grad_enabled]
        _STATE.grad_enabled = self.mode

    def __enter__(self) -> None:
        pass  # already switched by __init__

    def __exit__(self, *exc: object) -> None:
        _STATE.grad_enabled = self._prev[0]

    def _clone(self) -> _GradMode:
        return set_grad_enabled(self.mode)

    def __call__(self, fn: Callable) -> Callable:
        _STATE.grad_enabled = self._prev[0]  # decorating is not switching
        return super().__call__(fn)


def is_grad_enabled() -> bool:
    """True when ops record the graph (in this thread, outside ``no_grad``)."""
    return _STATE.grad_enabled


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_source_line() -> str:
    """``file:line: code`` of the innermost stack frame outside this package (the user's
    line that called the op, even when it went through ``nn`` layers or losses)."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno}: {frame.line}"
    return "<unknown>"


def _to_array(data: Any, dtype: Any = None, copy: bool = False) -> np.ndarray:
    """numpy value of ``data``; Python numbers and lists default to float32. With ``copy``
    an array (or Tensor) is always copied, so the caller's array is never shared."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.array(data, dtype=dtype, copy=True) if copy else np.asarray(data, dtype=dtype)
        if arr.dtype.kind not in "biufc":
            raise TypeError(f"cannot make a Tensor from an array of dtype {arr.dtype}")
        return arr
    if dtype is not None:
        return np.asarray(data, dtype=dtype)
    try:
        arr = np.asarray(data)
    except (ValueError, TypeError) as e:
        raise TypeError(f"cannot make a Tensor from {type(data).__name__}: {e}") from None
    if arr.dtype.kind in "iuf":
        return arr.astype(np.float32)
    if arr.dtype.kind not in "bc":
        raise TypeError(f"cannot make a Tensor from {type(data).__name__} (dtype {arr.dtype})")
    return arr


class _Size(int):
    """The element count (an int, numpy's ``t.size``) that can also be called as torch's
    ``t.size()`` (the shape) or ``t.size(dim)`` (one dimension)."""

    shape: tuple[int, ...]

    def __new__(cls, n: int, shape: tuple[int, ...]) -> _Size:
        obj = super().__new__(cls, n)
        obj.shape = shape
        return obj

    def __call__(self, dim: int | None = None) -> Any:
        return self.shape if dim is None else self.shape[dim]


def _activation(name: str) -> Callable[..., Tensor]:
    """A Tensor method that calls ``nn.functional.<name>`` (tinygrad spells activations
    as methods: ``x.gelu()``); imported when called, so the core imports no nn."""

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        from tinygrad_mlp.nn import functional

        return getattr(functional, name)(self, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"``nn.functional.{name}(self, ...)``."
    return method


class Tensor:
    """An n-dimensional array with automatic differentiation.

    >>> import tinygrad_mlp as tg
    >>> x = tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    Tensor([2., 4., 6.], dtype=float32)
    """

    __slots__ = (
        "data", "grad", "requires_grad", "_ctx", "_hooks", "_retains_grad", "_seq", "_vc",
        "_tangent", "_view", "__weakref__",
    )
    def __array_ufunc__(self, ufunc: Any, method: str, *inputs: Any, **kwargs: Any) -> Any:
        """numpy ufuncs on Tensors (``np.exp(t)``, ``ndarray + t``) run as tinygrad ops."""
        from tinygrad_mlp import numpy_api

        return numpy_api.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        """numpy functions on Tensors (``np.sum(t, axis=0)``) run as tinygrad ops."""
        from tinygrad_mlp import numpy_api

        return numpy_api.array_function(func, types, args, kwargs)

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _to_array(data, dtype, copy=True)  # never the caller's array
        self.grad: Tensor | None = None
        self._ctx = None
        self._hooks: list | None = None
        self._retains_grad = False
        self._seq = next(_CREATION_ORDER)
        self._vc: list[int] | None = None  # version counter, shared with detach()ed views
        self._tangent = None  # forward mode (tg.func.jvp): d(self) along the tangent
        self._view: _View | None = None  # set when the values are a view of another tensor's
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _make(data: Any, ctx: Any) -> Tensor:
        """Wrap an op's result without the constructor's checks (the hot path)."""
        t = object.__new__(Tensor)
        t.data = data if type(data) is np.ndarray else np.asarray(data)
        t.grad = None
        t.requires_grad = ctx is not None
        t._ctx = ctx
        t._hooks = None
        t._retains_grad = False
        t._seq = next(_CREATION_ORDER)
        t._vc = None
        t._tangent = None
        t._view = None
        return t

    # ----- basic properties -------------------------------------------------------------
    shape = property(lambda self: self.data.shape, doc="Tuple of dimensions.")
    ndim = property(lambda self: self.data.ndim, doc="Number of dimensions.")
    size = property(lambda self: _Size(self.data.size, self.data.shape),
                    doc="Number of elements: an int, as numpy; ``t.size()`` / ``t.size(0)``, "
                        "called as in torch, give the shape / one dimension.")
    dtype = property(lambda self: self.data.dtype, doc="numpy dtype of the values.")
    is_leaf = property(lambda self: self._ctx is None, doc="Not the result of a recorded op.")
    grad_fn = property(
        lambda self: self._ctx.fn.__name__ if self._ctx is not None else None,
        doc="Name of the op that produced this tensor (None for leaves).",
    )

    @property
    def _version(self) -> int:
        """How many times this tensor's values were changed in place (as torch's)."""
        return 0 if self._vc is None else self._vc[0]

    def _bump_version(self) -> None:
        """Record an in-place change of ``self.data`` (call after modifying it)."""
        if self._vc is None:
            self._vc = [0]
        self._vc[0] += 1

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self._ctx is not None:
            extra = f", grad_fn={self.grad_fn}"
        return f"Tensor({body}, dtype={self.data.dtype}{extra})"

    def _repr_html_(self) -> str:
        """How Jupyter shows a Tensor: a header line (shape, dtype, where it came from, its
        gradient's shape if any) over the values, summarised by numpy when large."""
        origin = (f"grad_fn={self.grad_fn}" if self._ctx is not None
                  else "leaf, requires grad" if self.requires_grad else "constant")
        grad = "" if self.grad is None else f" · .grad {tuple(self.grad.shape)}"
        values = html.escape(np.array2string(self.data, separator=", ", threshold=200,
                                             edgeitems=3))
        return (f"<div><b>Tensor</b> <code>{tuple(self.shape)}</code> "
                f"<code>{self.dtype}</code> · {html.escape(origin)}{grad}"
                f"<pre style=\"margin:2px 0\">{values}</pre></div>")

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype)

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.data)

    def __int__(self) -> int:
        return int(self.data)

    __hash__ = object.__hash__  # == is elementwise, so hash by identity

    def numpy(self) -> np.ndarray:
        """A copy of the values as an ndarray."""
        return self.data.copy()

    def item(self) -> float | int | bool:
        """The single value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def tolist(self) -> Any:
        """Values as nested Python lists."""
        return self.data.tolist()

    # ----- gradient bookkeeping ---------------------------------------------------------
    def requires_grad_(self, flag: bool = True) -> Tensor:
        """Set whether gradients are accumulated for this (leaf) tensor; returns self."""
        if flag and self.data.dtype.kind not in "fc":
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {self.dtype}"
            )
        if not flag and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf tensor: use detach()")
        self.requires_grad = bool(flag)
        return self

    def detach(self) -> Tensor:
        """The same values (shared, not copied, with a shared version counter, so an
        in-place change through either is seen by backward), cut from the graph."""
        t = Tensor._make(self.data, None)
        t._vc = self._shared_vc()
        return t

    def _shared_vc(self) -> list[int]:
        """This tensor's version counter, created if needed, to share with a view."""
        if self._vc is None:
            self._vc = [0]
        return self._vc

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (same as ``t.grad = None``)."""
        self.grad = None

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        self._retains_grad = True

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> _HookHandle:
        """Call ``fn(grad)`` when this tensor's gradient is computed; a returned Tensor
        replaces the gradient. Returns a handle: ``handle.remove()`` (as torch; calling
        the handle works too) takes the hook off."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return _HookHandle(self._hooks, fn)

    def backward(
        self,
        grad: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        trace: bool = False,
        *,
        gradient: Any = None,
        inputs: Tensor | Sequence[Tensor] | None = None,
    ) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``grad`` (same shape as self; ``gradient=``, torch's name, also works) is the
        upstream gradient; it may be omitted only for a single-element tensor.
        ``retain_graph`` keeps saved values for another backward; ``create_graph`` records
        the backward pass itself, for higher-order gradients. ``inputs``, as in torch:
        accumulate into these tensors' ``.grad`` only (leaves or not), no other.
        ``trace=True`` prints each node as it is visited (see ``tg.trace``).
        """
        if gradient is not None:
            if grad is not None:
                raise TypeError("backward() got both grad and gradient (torch's name for it)")
            grad = gradient
        if trace:
            from tinygrad_mlp.viz import trace as _trace

            with _trace():
                return self.backward(grad, retain_graph, create_graph, inputs=inputs)
        _run_backward([self], [grad], retain_graph, create_graph, inputs=_inputs_arg(inputs),
                      accumulate=True)

    # ----- in-place operations ----------------------------------------------------------
    # Under no_grad (or when nothing needs a gradient) they change this tensor's array in
    # place, so views and from_numpy arrays see it. When the graph is being recorded, the
    # op is recorded out of place on a copy of the old value (which keeps the old history,
    # for ops that read the tensor before) and the result is written back; the tensor then
    # continues from the in-place op. Each change bumps the version counter, so backward
    # can refuse rules whose saved values were overwritten. A change through a view is
    # recorded on the viewed tensor (WriteView), and a view whose base changed is made
    # again of the base the next time an op reads it (_current_view), as in PyTorch.

    def _inplace(self, ufunc: Any, op: Callable[..., Tensor], *args: Any) -> Tensor:
        """Apply ``op(self, *args)`` in place. ``ufunc`` (or None) is its numpy form, called
        as ``ufunc(self.data, *values, out=self.data, casting=...)`` when nothing is recorded."""
        if _STATE.special and _STATE.tape is not None:
            raise InPlaceWhileTracing(
                "tg.jit cannot replay in-place operations (the replay would skip them): use "
                "out-of-place ops (x = x + 1) inside a jitted function")
        if (_STATE.grad_enabled and self._view is not None and not self._view.grad_mode
                and self._view.root().requires_grad):
            raise RuntimeError(
                f"in-place operation on a view (shape {self.shape}) made under no_grad of a "
                "tensor that requires grad, while recording: the change could not be followed "
                "(as torch). Make the view while recording, or clone() it"
            )
        recording = _STATE.grad_enabled and (
            self.requires_grad or any(isinstance(a, Tensor) and a.requires_grad for a in args)
        )
        if recording or (_STATE.forward_ad and (  # inside tg.func.jvp: tangents change too
            self._tangent is not None
            or any(isinstance(a, Tensor) and a._tangent is not None for a in args)
        )):
            if recording and self._ctx is None and self.requires_grad:
                raise RuntimeError(
                    f"a leaf Tensor that requires grad (shape {self.shape}) is being used in an "
                    "in-place operation: change it inside `with tg.no_grad():` (as optimizers "
                    "do), or use an out-of-place op"
                )
            if self._view is not None:  # the change is the viewed tensor's: record it there
                return self._inplace_through_view(op, *args)
            old = Tensor._make(self.data.copy(), self._ctx)
            old.requires_grad, old._seq, old._tangent = self.requires_grad, self._seq, self._tangent
            result = op(old, *args)
            before = self._version
            self._write(result.data)
            ctx = result._ctx
            if ctx is not None:
                ctx.inplace_from = before
                ctx.inplace_old = next((k for k, p in enumerate(ctx.parents) if p is old), 0)
                if _is_one_of(result.data, ctx.saved):  # the rule reads its output, which
                    ctx.out_array = result.data  # is this tensor now (for create_graph)
                self._ctx, self._seq, self.requires_grad = ctx, result._seq, True
            self._tangent = result._tangent
            return self
        if ufunc is not None:
            values = [a.data if isinstance(a, Tensor) else a for a in args]
            self._check_writeable()
            try:
                ufunc(self.data, *values, out=self.data, casting="same_kind")
            except (TypeError, ValueError) as e:
                kind = TypeError if isinstance(e, TypeError) else ValueError
                raise kind(f"in-place {ufunc.__name__} on a tensor of shape {self.shape} "
                           f"and dtype {self.dtype}: {e}") from None
            self._changed()
            return self
        prev = _STATE.grad_enabled
        _STATE.grad_enabled = False
        try:
            result = op(self, *args)
        finally:
            _STATE.grad_enabled = prev
        self._write(result.data)
        return self

    def _inplace_through_view(self, op: Callable[..., Tensor], *args: Any) -> Tensor:
        """An in-place op on a view, recorded as PyTorch does: the new values of the view
        are computed out of place, then written into the viewed tensor (the base) by an
        in-place copy of ``WriteView(base, new values)``, so the base's history records the
        change. This view (and any other view of the base) follows the base's new history
        the next time an op reads it (see :func:`_current_view`)."""
        view = self._view
        root = view.root()
        if root._ctx is None and root.requires_grad and _STATE.grad_enabled:
            raise RuntimeError(
                f"a view of a leaf Tensor that requires grad (shape {root.shape}) is being used "
                "in an in-place operation: change it inside `with tg.no_grad():`, or clone() "
                "the view first"
            )
        self._check_writeable()
        now = self if self._ctx is not None else view.of(view.base)  # unrecorded: as it is
        new = op(now.clone(), *args)  # a copy: the base's write must not touch what op saved
        self._check_fits(new.shape)
        base = view.base
        base.copy_(_ops.WriteView.apply(base, new, view=view))
        self.requires_grad = base.requires_grad
        return self

    def _write(self, value: np.ndarray) -> None:
        """Store ``value`` in this tensor's array (in place) and record the change."""
        self._check_fits(value.shape)
        self._check_writeable()
        try:
            np.copyto(self.data, value, casting="same_kind")
        except TypeError:
            raise TypeError(f"in-place operation: result of dtype {value.dtype} cannot be "
                            f"stored in a tensor of dtype {self.dtype}") from None
        self._changed()

    def _check_fits(self, shape: tuple) -> None:
        if shape != self.data.shape:
            raise ValueError(f"in-place operation: the result has shape {shape}, which "
                             f"does not fit the tensor's shape {self.shape}")

    def _check_writeable(self) -> None:
        if not self.data.flags.writeable:
            raise ReadOnlyError(f"in-place operation on a read-only tensor of shape "
                                f"{self.shape} (a broadcast view or a read-only array): "
                                "clone() it first")

    def _changed(self) -> None:
        """Bump the version; if the op that made this tensor saved its value, mark that."""
        ctx = self._ctx
        if ctx is not None and _saved_overlaps(ctx, self):
            ctx.modified = (self._version, self._version + 1)
        self._bump_version()

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(np.add, _ops.Add.apply, other)

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(np.subtract, _ops.Sub.apply, other)

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(np.multiply, _ops.Mul.apply, other)

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(np.true_divide, _ops.Div.apply, other)

    def add_(self, other: Any, alpha: float = 1) -> Tensor:
        """``self += alpha * other``, in place (as torch's ``add_``); returns self."""
        return self._inplace(np.add, _ops.Add.apply, other if alpha == 1 else other * alpha)

    def sub_(self, other: Any, alpha: float = 1) -> Tensor:
        """``self -= alpha * other``, in place; returns self."""
        return self._inplace(np.subtract, _ops.Sub.apply, other if alpha == 1 else other * alpha)

    def mul_(self, other: Any) -> Tensor:
        """``self *= other``, in place; returns self."""
        return self._inplace(np.multiply, _ops.Mul.apply, other)

    def div_(self, other: Any) -> Tensor:
        """``self /= other``, in place; returns self."""
        return self._inplace(np.true_divide, _ops.Div.apply, other)

    def clamp_(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        """Clip the values to ``[min, max]`` in place; returns self."""
        return self._inplace(None, lambda t: _ops.Clip.apply(t, lo=min, hi=max))

    clip_ = clamp_

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph, in place: it becomes a leaf that does not
        require grad (as torch's ``detach_``); returns self."""
        if self._view is not None and self._ctx is not None:
            raise RuntimeError("detach_() on a view of another tensor: use detach() instead "
                               "(as torch: the view's base would still hold its history)")
        self._ctx, self.requires_grad = None, False
        return self

    def fill_(self, value: Any) -> Tensor:
        """Set every element to ``value`` (a number or a one-element Tensor); returns self.
        Recorded, the old values get a zero gradient and a Tensor ``value`` gets the sum."""
        return self._inplace(None, _overwrite, value)

    def zero_(self) -> Tensor:
        """Set every element to 0 in place; returns self."""
        return self.fill_(0)

    def copy_(self, src: Any) -> Tensor:
        """Copy ``src`` (broadcast to this shape, cast to this dtype) in place; returns self.
        Recorded, the gradient flows to ``src`` and not to the old values."""
        return self._inplace(None, _overwrite, src)

    def __setitem__(self, index: Any, value: Any) -> None:
        """``t[index] = value``: in place; recorded, the gradient flows to ``value`` and to
        the elements of ``t`` that were not overwritten."""
        index = _index_arrays(index)

        def setitem(data: np.ndarray, v: Any, out: np.ndarray, casting: str) -> None:
            out[index] = v  # numpy's item assignment, called as the in-place ufuncs are

        self._inplace(setitem, lambda t, v: _ops.SetItem.apply(t, v, index=index), value)

    # ----- operators: each one line, calling the op in ops.py -----------------------------
    def __add__(self, other: Any) -> Tensor:
        return _ops.Add.apply(self, other)

    def __radd__(self, other: Any) -> Tensor:
        return _ops.Add.apply(other, self)

    def __sub__(self, other: Any) -> Tensor:
        return _ops.Sub.apply(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return _ops.Sub.apply(other, self)

    def __mul__(self, other: Any) -> Tensor:
        return _ops.Mul.apply(self, other)

    def __rmul__(self, other: Any) -> Tensor:
        return _ops.Mul.apply(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return _ops.Div.apply(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return _ops.Div.apply(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return _ops.Pow.apply(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return _ops.Pow.apply(other, self)

    def __neg__(self) -> Tensor:
        return _ops.Neg.apply(self)

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(self, other)

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(other, self)

    def __getitem__(self, index: Any) -> Tensor:
        return _ops.GetItem.apply(self, index=_index_arrays(index))

    # comparisons: not differentiable, they return bool tensors
    def __lt__(self, other: Any) -> Tensor:
        return Tensor._make(self.data < _value(other), None)

    def __le__(self, other: Any) -> Tensor:
        return Tensor._make(self.data <= _value(other), None)

    def __gt__(self, other: Any) -> Tensor:
        return Tensor._make(self.data > _value(other), None)

    def __ge__(self, other: Any) -> Tensor:
        return Tensor._make(self.data >= _value(other), None)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._make(self.data == _value(other), None)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._make(self.data != _value(other), None)

    def argmax(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool | None = None) -> Tensor:
        """Indices of the maxima (int64, not differentiable); ``dim``/``keepdim`` as torch."""
        return _ops.composite.arg_extreme(self, np.argmax, *_ops.pick(axis, dim, keepdims, keepdim))

    def argmin(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None,
               keepdim: bool | None = None) -> Tensor:
        """Indices of the minima (int64, not differentiable); ``dim``/``keepdim`` as torch."""
        return _ops.composite.arg_extreme(self, np.argmin, *_ops.pick(axis, dim, keepdims, keepdim))

    # ----- elementwise math ---------------------------------------------------------------
    def exp(self) -> Tensor:
        return _ops.Exp.apply(self)

    def log(self) -> Tensor:
        return _ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        return _ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        return _ops.Abs.apply(self)

    def sigmoid(self) -> Tensor:
        return _ops.Sigmoid.apply(self)

    def tanh(self) -> Tensor:
        return _ops.Tanh.apply(self)

    def relu(self) -> Tensor:
        return _ops.ReLU.apply(self)

    def clip(self, lo: float | None = None, hi: float | None = None) -> Tensor:
        return _ops.Clip.apply(self, lo=lo, hi=hi)

    def clamp(self, min: Any = None, max: Any = None) -> Tensor:  # noqa: A002  (torch's names)
        """``clip`` with torch's keyword names: ``x.clamp(min=0)``."""
        return _ops.Clip.apply(self, lo=min, hi=max)

    # ----- reductions -------------------------------------------------------------------
    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False, *,
            dim: Any = None, keepdim: bool | None = None) -> Tensor:
        if dim is not None or keepdim is not None:
            axis, keepdims = _ops.pick(axis, dim, keepdims, keepdim)
        return _ops.Sum.apply(self, axis=_axes(axis, self.ndim), keepdims=keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False, *,
             dim: Any = None, keepdim: bool | None = None) -> Tensor:
        """Sum divided by the number of elements reduced (NaN for an empty reduction)."""
        s = self.sum(axis, keepdims, dim=dim, keepdim=keepdim)
        n = self.size // max(s.size, 1) if self.size else 0
        return s * (1.0 / n) if n else s * float("nan")

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False, *,
            dim: int | None = None, keepdim: bool | None = None) -> Any:
        """Largest values over ``axis`` (numpy: ties share the gradient, as torch.amax).

        With torch's ``dim=`` keyword the result is torch's pair ``(values, indices)``
        (``.values``/``.indices``), the gradient going to the index's element only.
        """
        if dim is not None:
            axis, keepdims = _ops.pick(None, dim, keepdims, keepdim)
            return _ops.composite.values_indices(self, np.argmax, axis, keepdims)
        return _ops.Max.apply(self, axis=_axes(axis, self.ndim), keepdims=keepdims, fn=np.max)

    def min(self, axis: int | Sequence[int] | None = None, keepdims: bool = False, *,
            dim: int | None = None, keepdim: bool | None = None) -> Any:
        """Smallest values over ``axis``; with ``dim=``, torch's ``(values, indices)``."""
        if dim is not None:
            axis, keepdims = _ops.pick(None, dim, keepdims, keepdim)
            return _ops.composite.values_indices(self, np.argmin, axis, keepdims)
        return _ops.Max.apply(self, axis=_axes(axis, self.ndim), keepdims=keepdims, fn=np.min)

    def softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        return _ops.Softmax.apply(self, axis=axis if dim is None else dim)

    def log_softmax(self, axis: int = -1, *, dim: int | None = None) -> Tensor:
        return _ops.LogSoftmax.apply(self, axis=axis if dim is None else dim)

    # ----- shape -----------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.Reshape.apply(self, shape=shape)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute dimensions as numpy does: a full permutation, or none to reverse them.
        Two separate axes on a tensor of other than 2 dimensions (no permutation there) swap
        them, as ``torch.transpose(x, 0, 2)``; a tuple is always a permutation."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        elif len(axes) == 2 and self.ndim != 2:
            return self.swapaxes(*axes)
        return _ops.Transpose.apply(self, axes=axes or None)

    @property
    def T(self) -> Tensor:
        """Dimensions reversed (numpy's ``.T``)."""
        return self.transpose()

    def swapaxes(self, a: int, b: int) -> Tensor:
        """Exchange two dimensions."""
        perm = list(range(self.ndim))
        perm[a], perm[b] = perm[b], perm[a]
        return self.transpose(perm)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Dimensions ``start_dim..end_dim`` merged into one (default: all, giving 1-D)."""
        return _ops.composite.flatten_dims(self, start_dim, end_dim)

    def broadcast_to(self, *shape: Any) -> Tensor:
        """Repeat along size-1 (or new leading) dimensions to ``shape`` (a tuple or sizes;
        -1 keeps a dimension, as torch's ``expand``)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        lead = len(shape) - self.ndim
        shape = tuple(self.shape[i - lead] if n == -1 and i >= lead else n
                      for i, n in enumerate(shape))
        return _ops.Expand.apply(self, shape=shape)

    expand = broadcast_to

    # ----- PyTorch surface (issue 12) ---------------------------------------------------
    gelu = _activation("gelu")
    silu = swish = _activation("silu")
    softplus = _activation("softplus")
    elu = _activation("elu")
    celu = _activation("celu")
    selu = _activation("selu")
    leaky_relu = leakyrelu = _activation("leaky_relu")
    mish = _activation("mish")
    hardswish = _activation("hardswish")
    hardsigmoid = _activation("hardsigmoid")
    hardtanh = _activation("hardtanh")
    relu6 = _activation("relu6")
    softsign = _activation("softsign")
    logsigmoid = _activation("logsigmoid")
    # Thin methods over ops/: math.py, scan.py, layout.py, linalg.py, index.py and the
    # compositions in composite.py. torch's names are accepted next to numpy's: dim= for
    # axis=, keepdim= for keepdims=.
    def __abs__(self) -> Tensor:
        return _ops.Abs.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def clone(self) -> Tensor:
        """A copy in new memory, still in the graph (the gradient passes through)."""
        return _ops.Clone.apply(self)

    def contiguous(self) -> Tensor:
        """Self when its values are C-contiguous, else a contiguous copy (in the graph)."""
        return self if self.data.flags.c_contiguous else _ops.Clone.apply(self)

    def view(self, *shape: Any) -> Tensor:
        """Same as ``reshape`` (numpy copies only when it must)."""
        return self.reshape(*shape)

    def permute(self, *dims: Any) -> Tensor:
        """torch's name for a full permutation of the dimensions (negatives allowed)."""
        if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
            dims = tuple(dims[0])
        return _ops.Transpose.apply(self, axes=dims)

    def numel(self) -> int:
        """Number of elements (torch's name for ``size``)."""
        return self.data.size

    def dim(self) -> int:
        """Number of dimensions (torch's name for ``ndim``)."""
        return self.data.ndim

    # dtypes: between floating dtypes the cast is differentiable
    def astype(self, dtype: Any) -> Tensor:
        return _ops.composite.astype(self, dtype)

    def to(self, dtype: Any) -> Tensor:
        """torch's ``x.to(dtype)`` (``"cpu"`` is accepted and changes nothing: numpy only)."""
        if isinstance(dtype, str) and dtype == "cpu":
            return self
        return self if self.dtype == np.dtype(dtype) else _ops.composite.astype(self, dtype)

    def float(self) -> Tensor:
        return self if self.dtype == np.float32 else _ops.composite.astype(self, np.float32)

    def double(self) -> Tensor:
        return self if self.dtype == np.float64 else _ops.composite.astype(self, np.float64)

    def half(self) -> Tensor:
        return self if self.dtype == np.float16 else _ops.composite.astype(self, np.float16)

    def long(self) -> Tensor:
        return self if self.dtype == np.int64 else _ops.composite.astype(self, np.int64)

    def int(self) -> Tensor:
        return self if self.dtype == np.int32 else _ops.composite.astype(self, np.int32)

    def bool(self) -> Tensor:
        return self if self.dtype == np.bool_ else _ops.composite.astype(self, np.bool_)

    # arithmetic by name
    def add(self, other: Any) -> Tensor:
        return _ops.Add.apply(self, other)

    def sub(self, other: Any) -> Tensor:
        return _ops.Sub.apply(self, other)

    def mul(self, other: Any) -> Tensor:
        return _ops.Mul.apply(self, other)

    def div(self, other: Any) -> Tensor:
        return _ops.Div.apply(self, other)

    def pow(self, other: Any) -> Tensor:
        return _ops.Pow.apply(self, other)

    def neg(self) -> Tensor:
        return _ops.Neg.apply(self)

    def matmul(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(self, other)

    def dot(self, other: Any) -> Tensor:
        return _ops.composite.dot(self, other)

    def outer(self, other: Any) -> Tensor:
        return _ops.composite.outer(self, other)

    def maximum(self, other: Any) -> Tensor:
        return _ops.maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return _ops.minimum(self, other)

    # elementwise math
    def sin(self) -> Tensor:
        return _ops.Sin.apply(self)

    def cos(self) -> Tensor:
        return _ops.Cos.apply(self)

    def tan(self) -> Tensor:
        return _ops.Tan.apply(self)

    def log2(self) -> Tensor:
        return _ops.Log2.apply(self)

    def log1p(self) -> Tensor:
        return _ops.Log1p.apply(self)

    def exp2(self) -> Tensor:
        return _ops.Exp2.apply(self)

    def expm1(self) -> Tensor:
        return _ops.Expm1.apply(self)

    def rsqrt(self) -> Tensor:
        return _ops.Rsqrt.apply(self)

    def reciprocal(self) -> Tensor:
        return _ops.Reciprocal.apply(self)

    def square(self) -> Tensor:
        return _ops.Square.apply(self)

    def sign(self) -> Tensor:
        return _ops.Rounding.apply(self, fn=np.sign)

    def floor(self) -> Tensor:
        return _ops.Rounding.apply(self, fn=np.floor)

    def ceil(self) -> Tensor:
        return _ops.Rounding.apply(self, fn=np.ceil)

    def round(self, decimals: int = 0) -> Tensor:
        """Round half to even (as numpy and torch)."""
        return _ops.Rounding.apply(self, fn=np.round, decimals=decimals)

    def trunc(self) -> Tensor:
        return _ops.Rounding.apply(self, fn=np.trunc)

    # shape
    def squeeze(self, axis: Any = None, *, dim: Any = None) -> Tensor:
        return _ops.composite.squeeze(self, _ops.pick(axis, dim)[0])

    def unsqueeze(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        return _ops.composite.unsqueeze(self, _ops.pick(axis, dim)[0])

    def unflatten(self, axis: int | None = None, sizes: Sequence[int] = (), *,
                  dim: int | None = None) -> Tensor:
        return _ops.composite.unflatten(self, _ops.pick(axis, dim)[0], sizes)

    def repeat(self, *reps: Any) -> Tensor:
        """torch's repeat (numpy's tile): ``reps[i]`` copies along axis i."""
        return _ops.composite.repeat(self, *reps)

    def tile(self, reps: Any) -> Tensor:
        return _ops.composite.tile(self, reps)

    def pad(self, pad_width: Any, value: float = 0.0) -> Tensor:
        """Constant padding: numpy's ``pad_width`` (an int, a pair, or a pair per axis) or
        torch's flat ``(last_before, last_after, ...)`` tuple of ints."""
        return _ops.Pad.apply(self, widths=_ops.pad_widths(pad_width, self.ndim), value=value)

    def flip(self, *axes: Any, axis: Any = None, dims: Any = None) -> Tensor:
        """Order reversed along ``axis``: an int, a tuple or several ints (None: all)."""
        if axes:
            axis = _ops.pick(axes[0] if len(axes) == 1 else axes, axis)[0]
        return _ops.composite.flip(self, _ops.pick(axis, dims)[0])

    def roll(self, shift: Any = None, axis: Any = None, *, shifts: Any = None,
             dims: Any = None) -> Tensor:
        """Shift cyclically along ``axis`` (None: over the flattened tensor)."""
        shift = shift if shifts is None else shifts
        if shift is None:
            raise TypeError("roll: give the shift (torch: shifts=)")
        axis = _ops.pick(axis, dims)[0]
        if isinstance(axis, (tuple, list)):
            axis = tuple(_ops.axis_index(a, self.ndim, "roll") for a in axis)
            shift = tuple(shift) if isinstance(shift, (tuple, list)) else (shift,) * len(axis)
        elif axis is not None:
            axis = _ops.axis_index(axis, self.ndim, "roll") if self.ndim else None
        return _ops.Roll.apply(self, shift=shift, axis=axis)

    def split(self, size_or_sections: Any, axis: int = 0, *, dim: int | None = None) -> tuple:
        return _ops.composite.split(self, size_or_sections, axis if dim is None else dim)

    def chunk(self, chunks: int, axis: int = 0, *, dim: int | None = None) -> tuple:
        return _ops.composite.chunk(self, chunks, axis if dim is None else dim)

    def unbind(self, axis: int = 0, *, dim: int | None = None) -> tuple:
        return _ops.composite.unbind(self, axis if dim is None else dim)

    def narrow(self, axis: int | None = None, start: int = 0, length: int = 0, *,
               dim: int | None = None) -> Tensor:
        return _ops.composite.narrow(self, _ops.pick(axis, dim)[0], start, length)

    def tril(self, k: int = 0, *, diagonal: int | None = None) -> Tensor:
        return _ops.Triangle.apply(self, k=k if diagonal is None else diagonal, upper=False)

    def triu(self, k: int = 0, *, diagonal: int | None = None) -> Tensor:
        return _ops.Triangle.apply(self, k=k if diagonal is None else diagonal, upper=True)

    # reductions (axis/dim, keepdims/keepdim)
    def amax(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: bool | None = None) -> Tensor:
        return self.max(*_ops.pick(axis, dim, keepdims, keepdim))

    def amin(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: bool | None = None) -> Tensor:
        return self.min(*_ops.pick(axis, dim, keepdims, keepdim))

    def prod(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
             keepdim: bool | None = None) -> Tensor:
        """Product over ``axis``; exact for integers, gradient exact at zeros."""
        axis, keepdims = _ops.pick(axis, dim, keepdims, keepdim)
        return _ops.Prod.apply(self, axis=_axes(axis, self.ndim), keepdims=keepdims)

    def cumsum(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        """Running sum along ``axis`` (None: over the flattened tensor, as numpy)."""
        axis = _ops.pick(axis, dim)[0]
        if axis is None:
            return _ops.CumSum.apply(self.reshape(-1), axis=0)
        return _ops.CumSum.apply(self, axis=_ops.axis_index(axis, self.ndim, "cumsum"))

    def cumprod(self, axis: int | None = None, *, dim: int | None = None) -> Tensor:
        """Running product along ``axis`` (None: over the flattened tensor, as numpy)."""
        axis = _ops.pick(axis, dim)[0]
        if axis is None:
            return _ops.CumProd.apply(self.reshape(-1), axis=0)
        return _ops.CumProd.apply(self, axis=_ops.axis_index(axis, self.ndim, "cumprod"))

    def var(self, axis: Any = None, correction: float | None = None, keepdims: bool = False, *,
            dim: Any = None, keepdim: bool | None = None, unbiased: bool | None = None,
            ddof: float | None = None) -> Tensor:
        """Variance with ``correction`` (default 1, as torch; numpy's ``ddof`` and torch's
        ``unbiased`` are accepted too)."""
        axis, correction = _ops.var_args(axis, dim, correction, unbiased, ddof)
        return _ops.composite.var(self, axis, correction, keepdims if keepdim is None else keepdim)

    def std(self, axis: Any = None, correction: float | None = None, keepdims: bool = False, *,
            dim: Any = None, keepdim: bool | None = None, unbiased: bool | None = None,
            ddof: float | None = None) -> Tensor:
        """Standard deviation, √var (correction 1 by default, as torch)."""
        axis, correction = _ops.var_args(axis, dim, correction, unbiased, ddof)
        return _ops.composite.std(self, axis, correction, keepdims if keepdim is None else keepdim)

    def logsumexp(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
                  keepdim: bool | None = None) -> Tensor:
        return _ops.composite.logsumexp(self, *_ops.pick(axis, dim, keepdims, keepdim))

    def norm(self, ord: Any = 2, axis: Any = None, keepdims: bool = False, *, p: Any = None,  # noqa: A002
             dim: Any = None, keepdim: bool | None = None) -> Tensor:
        """Vector ``ord``-norm over ``axis`` (``p=`` is torch's name for ord)."""
        axis, keepdims = _ops.pick(axis, dim, keepdims, keepdim)
        return _ops.composite.norm(self, ord if p is None else p, axis, keepdims)

    def all(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: bool | None = None) -> Tensor:
        """Are all elements true (non-zero)? A bool tensor outside the graph."""
        axis, keepdims = _ops.pick(axis, dim, keepdims, keepdim)
        axis = _axes(axis, self.ndim) if self.ndim else None
        return Tensor._make(np.all(self.data, axis=axis, keepdims=keepdims), None)

    def any(self, axis: Any = None, keepdims: bool = False, *, dim: Any = None,
            keepdim: bool | None = None) -> Tensor:
        """Is any element true (non-zero)? A bool tensor outside the graph."""
        axis, keepdims = _ops.pick(axis, dim, keepdims, keepdim)
        axis = _axes(axis, self.ndim) if self.ndim else None
        return Tensor._make(np.any(self.data, axis=axis, keepdims=keepdims), None)

    # indexing along an axis
    def gather(self, axis: int | None = None, index: Any = None, *,
               dim: int | None = None) -> Tensor:
        """torch.gather: ``out[i][j] = self[i][index[i][j]]`` for axis 1."""
        return _ops.index_ops.gather(self, _ops.pick(axis, dim)[0], index)

    def take_along_axis(self, indices: Any, axis: int) -> Tensor:
        return _ops.index_ops.take_along_axis(self, indices, axis)

    def index_select(self, axis: int | None = None, index: Any = None, *,
                     dim: int | None = None) -> Tensor:
        return _ops.index_ops.index_select(self, _ops.pick(axis, dim)[0], index)

    def scatter_add(self, axis: int | None = None, index: Any = None, src: Any = None, *,
                    dim: int | None = None) -> Tensor:
        return _ops.index_ops.scatter_add(self, _ops.pick(axis, dim)[0], index, src)

    def index_add(self, axis: int | None = None, index: Any = None, source: Any = None,
                  alpha: float = 1, *, dim: int | None = None) -> Tensor:
        return _ops.index_ops.index_add(self, _ops.pick(axis, dim)[0], index, source, alpha)

    def masked_fill(self, mask: Any, value: float) -> Tensor:
        """``value`` where ``mask`` is true, else self (the gradient flows where it is false)."""
        return _ops.where(mask, value, self)

    def cat(self, *others: Any, axis: int = 0, dim: int | None = None) -> Tensor:
        """``tg.cat([self, *others], axis)`` (tinygrad's method form)."""
        return _ops.cat([self, *others], axis if dim is None else dim)

    def stack(self, *others: Any, axis: int = 0, dim: int | None = None) -> Tensor:
        """``tg.stack([self, *others], axis)`` (tinygrad's method form)."""
        return _ops.stack([self, *others], axis if dim is None else dim)

    # factories as static methods, as tinygrad spells them: Tensor.zeros(2, 3)
    @staticmethod
    def zeros(*size: Any, **kwargs: Any) -> Tensor:
        return _ops.creation.zeros(*size, **kwargs)

    @staticmethod
    def ones(*size: Any, **kwargs: Any) -> Tensor:
        return _ops.creation.ones(*size, **kwargs)

    @staticmethod
    def full(size: Any, fill_value: Any, **kwargs: Any) -> Tensor:
        return _ops.creation.full(size, fill_value, **kwargs)

    @staticmethod
    def empty(*size: Any, **kwargs: Any) -> Tensor:
        return _ops.creation.empty(*size, **kwargs)

    @staticmethod
    def arange(*args: Any, **kwargs: Any) -> Tensor:
        return _ops.creation.arange(*args, **kwargs)

    @staticmethod
    def linspace(*args: Any, **kwargs: Any) -> Tensor:
        return _ops.creation.linspace(*args, **kwargs)

    @staticmethod
    def eye(*args: Any, **kwargs: Any) -> Tensor:
        return _ops.creation.eye(*args, **kwargs)

    @staticmethod
    def rand(*size: Any, **kwargs: Any) -> Tensor:
        return _ops.creation.rand(*size, **kwargs)

    @staticmethod
    def randn(*size: Any, **kwargs: Any) -> Tensor:
        return _ops.creation.randn(*size, **kwargs)


def _value(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _index_arrays(index: Any) -> Any:
    """An index with any Tensors in it replaced by their arrays."""
    if isinstance(index, tuple):
        return tuple(_value(i) for i in index)
    return _value(index)


def _overwrite(t: Tensor, value: Any) -> Tensor:
    """``value`` broadcast to ``t``'s shape and dtype, as an op of ``t`` (whose gradient is
    then 0): what ``fill_`` and ``copy_`` record."""
    if isinstance(value, Tensor):
        if value.dtype != t.dtype:
            value = _ops.Cast.apply(value, dtype=t.dtype)
    else:
        value = np.asarray(value, dtype=t.dtype)
    return _ops.Where.apply(value, t, cond=np.ones(t.shape, dtype=bool))


def _axes(axis: Any, ndim: int) -> tuple[int, ...] | None:
    """Normalise ``axis`` (None, int or sequence, negatives allowed) to a sorted tuple."""
    if axis is None:
        return None
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -max(ndim, 1) <= a < max(ndim, 1):
            raise ValueError(f"axis {a} is out of bounds for a tensor of dimension {ndim}")
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {axis}")
    return tuple(sorted(out))


# ----- the backward walk ------------------------------------------------------------------


def _unbroadcast(g: Any, shape: tuple[int, ...], fn: type) -> Any:
    """Sum ``g`` over the dimensions broadcasting added, so it has ``shape``.

    This is the one place broadcasting is undone: an op's rule may return a gradient of
    the broadcast result's shape and the engine reduces it to each input's shape.
    """
    lead = g.ndim - len(shape)
    if lead < 0:
        raise ValueError(
            f"{fn.__name__}.backward returned a gradient of shape {tuple(g.shape)} "
            f"for an input of shape {shape}"
        )
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1
    )
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    if lead:
        g = g.reshape(shape)
    if tuple(g.shape) != shape:
        raise ValueError(
            f"{fn.__name__}.backward returned a gradient that does not reduce to the input's "
            f"shape: got {tuple(g.shape)}, input has shape {shape}"
        )
    return g


def _seed(root: Tensor, grad: Any, create_graph: bool) -> Any:
    """The gradient that starts the walk: ``grad`` checked against ``root``, or 1."""
    if grad is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for single-element outputs; "
                f"this output has shape {root.shape}: pass backward(grad) of that shape"
            )
        d = root.data
        g = np.array(1, d.dtype) if d.ndim == 0 else np.ones(d.shape, d.dtype)
    else:
        g = grad.data if isinstance(grad, Tensor) and not create_graph else grad
        if not isinstance(g, Tensor):
            g = np.array(g, dtype=root.dtype)  # a copy: the user's array is never aliased
        if tuple(g.shape) != root.shape:
            raise ValueError(
                f"grad has shape {tuple(g.shape)} but the output has shape {root.shape}; "
                "they must match"
            )
    return Tensor(g) if create_graph and not isinstance(g, Tensor) else g


def _conform(g: Any, shape: tuple, dtype: Any, fn: type, create_graph: bool) -> Any:
    """An op's returned gradient made to match its input: an array (or, under
    create_graph, a Tensor) of the input's shape (broadcasting undone) and dtype."""
    if type(g) is _Parts:  # for an op with several outputs: conformed output by output
        return g
    if not isinstance(g, (np.ndarray, Tensor)):
        g = np.asarray(g, dtype=dtype)
    if tuple(g.shape) != shape:
        g = _unbroadcast(g, shape, fn)
    if not create_graph:
        if isinstance(g, Tensor):
            g = g.data
        return g if g.dtype == dtype else g.astype(dtype)
    if g.dtype != dtype:  # a float32 input gets a float32 gradient
        g = _ops.Cast.apply(g if isinstance(g, Tensor) else Tensor._make(g, None), dtype=dtype)
    return g


def _accumulate(t: Tensor, g: Any, shared: bool) -> None:
    """Add ``g`` into ``t.grad``: in place when we own the buffer, by graph op otherwise."""
    if isinstance(g, Tensor):  # create_graph: g may be the user's seed or another's grad
        if t.grad is not None:
            t.grad = t.grad + g
        else:
            t.grad = g if g.requires_grad else Tensor._make(g.data.copy(), None)
    elif t.grad is None:
        t.grad = Tensor._make(g.copy() if shared else g, None)
    elif t.grad.requires_grad or not t.grad.data.flags.writeable:
        t.grad = Tensor._make(t.grad.data + g, None)
    else:
        t.grad.data += g


class InPlaceWhileTracing(RuntimeError):
    """An in-place op while a tape records (``tg.jit``, ``tg.func.vmap``): a replay of the
    tape could not repeat it. vmap then runs example by example; jit refuses."""


class ReadOnlyError(RuntimeError, ValueError):
    """An in-place change of values that cannot be written (a broadcast view, a read-only
    array): a RuntimeError as in torch, and a ValueError as numpy says it."""


class _HookHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook off (twice is harmless),
    as torch's RemovableHandle; also a context manager, and callable."""

    __slots__ = ("_hooks", "_fn")

    def __init__(self, hooks: list, fn: Callable) -> None:
        self._hooks, self._fn = hooks, fn

    def remove(self) -> None:
        if self._fn in self._hooks:
            self._hooks.remove(self._fn)

    __call__ = remove

    def __enter__(self) -> _HookHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _inplace_method(name: str) -> Callable[..., Tensor]:
    """``t.<name>_(...)``: ``t.<name>(...)`` written into ``t``, recorded as any in-place op
    (see ``Tensor._inplace``), as PyTorch's in-place methods."""

    def method(self: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return self._inplace(None, lambda t, *a: getattr(t, name)(*a, **kwargs), *args)

    method.__name__ = method.__qualname__ = f"{name}_"
    method.__doc__ = f"``self.{name}(...)`` written into this tensor, in place; returns self."
    return method


#: PyTorch's in-place spellings of elementwise and same-shape methods (``x.exp_()``, ...)
_INPLACE_NAMES = (
    "abs", "ceil", "cos", "cumprod", "cumsum", "exp", "exp2", "expm1", "floor", "index_add",
    "log", "log1p", "log2", "masked_fill", "neg", "pow", "reciprocal", "relu", "round",
    "rsqrt", "scatter_add", "sigmoid", "sign", "sin", "sqrt", "square", "tan", "tanh", "tril",
    "triu", "trunc",
)
for _name in _INPLACE_NAMES:
    setattr(Tensor, f"{_name}_", _inplace_method(_name))


class _View:
    """How a tensor's values are a view of another tensor's (its base): the op that made
    the view and its arguments, so the same view can be made again, of the base's current
    values or of any array of the base's shape; the base's version at the time, and
    whether grad mode was on."""

    __slots__ = ("base", "fn", "args", "kwargs", "version", "grad_mode")

    def __init__(self, base: Tensor, fn: Any, args: tuple, kwargs: dict) -> None:
        self.base, self.fn, self.args, self.kwargs = base, fn, args, kwargs
        self.version, self.grad_mode = base._vc[0], _STATE.grad_enabled

    def root(self) -> Tensor:
        """The tensor at the end of the chain of views: the one that owns the values."""
        t = self.base
        while t._view is not None:
            t = t._view.base
        return t

    def of(self, x: Any) -> Any:
        """The same view of ``x`` (an array, or a Tensor: then a recorded op)."""
        args = [x if a is self.base else a for a in self.args]
        if isinstance(x, Tensor):
            return self.fn.apply(*args, **self.kwargs)
        from tinygrad_mlp.function import Context

        arrays = [a.data if isinstance(a, Tensor) else a for a in args]
        return self.fn.forward(Context(self.fn), *arrays, **self.kwargs)


def _current_view(t: Tensor) -> Tensor:
    """``t``, or, for a recorded view (or any view inside ``tg.func.jvp``) whose base was
    changed in place since the view was made, the same view made again of the base as it
    is now (values, history, tangent): what an op reading ``t`` now reads (PyTorch
    regenerates such a view's grad_fn)."""
    view = t._view
    if view is None or t._vc[0] == view.version or (t._ctx is None and not _STATE.forward_ad):
        return t
    return view.of(view.base)


class _Freed(Tensor):
    """What a released graph keeps of an intermediate tensor: its place in the graph (op,
    creation number, shape, dtype), not its values, so the tensor itself can be freed.
    Its ``data`` is a read-only stand-in of zeros that takes no memory."""

    __slots__ = ("_shape", "_dtype")
    grad = None
    _hooks = None
    _retains_grad = False
    _vc = None
    _tangent = None
    _view = None

    @property
    def data(self) -> np.ndarray:  # type: ignore[override]
        return np.broadcast_to(np.zeros((), self._dtype), self._shape)


def _freed(t: Tensor) -> _Freed:
    f = object.__new__(_Freed)
    d = t.data
    f._shape, f._dtype, f._ctx, f._seq, f.requires_grad = d.shape, d.dtype, t._ctx, t._seq, True
    return f


def _release(ctx: Any) -> None:
    """Free what one op kept for backward: saved arrays, and its intermediate inputs (each
    replaced by a :class:`_Freed` record; leaves and constants stay). Saved plain numbers
    stay, so ops that saved no arrays can be walked again, as in torch."""
    saved = ctx.saved
    if saved:
        for s in saved:
            if type(s) is np.ndarray:
                ctx.saved = None
                break
    kept = None
    for k, p in enumerate(ctx.parents):
        if type(p) is Tensor and p._ctx is not None:
            if kept is None:
                kept = list(ctx.parents)
            kept[k] = _freed(p)
    if kept is not None:
        ctx.parents = tuple(kept)
    if ctx._by_array is not None:
        ctx._by_array = None
    if ctx.out_array is not None:
        ctx.out_array = None


class _Plan:
    """A graph's reverse topological order: what the execution visits, and in what order.

    ``steps`` holds, newest first, ``(seq, key, tensor, ctx, targets)`` for every tensor
    behind the roots: its creation number, its key in the execution's table of gradients
    (``id(tensor)``; a ``tg.jit`` replay numbers its values instead), the tensor (None
    where a replay has none), the op that made it (None for a leaf), and for each input k
    of that op that needs a gradient, ``(k, key, leaf, shape, dtype)``: the input's key,
    whether it is a leaf, and the shape and dtype its gradient must have.
    """

    __slots__ = ("steps",)

    def __init__(self, steps: list) -> None:
        self.steps = steps


def _plan(roots: Sequence[Tensor]) -> _Plan:
    """Every tensor that leads to ``roots`` through ops that need gradients, ordered newest
    first (a reverse topological order, since an op's output is newer than its inputs).

    The search is an explicit stack, never recursion. Inputs changed in place after an op
    read them are resolved here (see :func:`_input_as_read`), before any rule runs.
    """
    seen: set[int] = set()
    stack = []
    for r in roots:
        if id(r) not in seen:
            seen.add(id(r))
            stack.append(r)
    steps = []
    while stack:
        t = stack.pop()
        ctx = t._ctx
        if ctx is None:
            steps.append((t._seq, id(t), t, None, ()))
            continue
        if ctx.modified is not None or t._vc is not None:
            _check_output(ctx, t)
        needs, versions = ctx.needs_input_grad, ctx.versions
        targets = []
        k = 0
        for p in ctx.parents:
            if needs[k]:
                vc = p._vc
                if vc is not None and vc[0] != (0 if versions is None else versions[k]):
                    p = _input_as_read(ctx, k, p)  # changed in place since the op read it
                d = p.data
                targets.append((k, id(p), p._ctx is None, d.shape, d.dtype))
                if id(p) not in seen:
                    seen.add(id(p))
                    stack.append(p)
            k += 1
        steps.append((t._seq, id(t), t, ctx, tuple(targets)))
    steps.sort(reverse=True)  # by creation number (unique keys break any tie)
    return _Plan(steps)


_FREED = (
    "trying to backward through the graph a second time (or to read saved values after "
    "they were freed). Saved values are freed by backward(); pass retain_graph=True to the "
    "first backward to keep them."
)


def _check_output(ctx: Any, t: Tensor) -> None:
    """Refuse an op whose output was changed in place, directly or through a view or a
    ``detach()``ed alias, when its rule reads that output."""
    if ctx.modified is not None:
        raise _modified_error(ctx, "its output", *ctx.modified)
    made = 0 if ctx.inplace_from is None else ctx.inplace_from + 1
    if t._vc[0] != made and _saved_overlaps(ctx, t):
        raise _modified_error(ctx, "its output", made, t._vc[0])


def _input_as_read(ctx: Any, k: int, p: Tensor) -> Tensor:
    """Input k of ``ctx`` as the op read it. If it was changed in place since, an op that
    saved its values cannot differentiate (a clear error, as torch's); otherwise the
    gradient goes to the tensor's earlier version (the node the in-place op kept)."""
    read = ctx.versions[k] if ctx.versions is not None else 0
    now = p._vc[0]
    if _saved_overlaps(ctx, p):
        raise _modified_error(ctx, f"its input {k} (shape {tuple(p.shape)})", read, now)
    while p._ctx is not None and p._ctx.inplace_from is not None and p._ctx.inplace_from >= read:
        p = p._ctx.parents[p._ctx.inplace_old]  # the value the in-place op overwrote
    return p


def _saved_overlaps(ctx: Any, t: Tensor) -> bool:
    """Did ``ctx`` save an array that shares memory with ``t``'s values?"""
    return bool(ctx.saved) and any(
        type(s) is np.ndarray and np.may_share_memory(s, t.data) for s in ctx.saved
    )


def _modified_error(ctx: Any, what: str, was: int, now: int) -> RuntimeError:
    return RuntimeError(
        f"one of the values needed for gradient computation has been modified by an in-place "
        f"operation: {ctx.fn.__name__} saved {what} at version {was}, and it is now at "
        f"version {now}. Use an out-of-place op (x = x * 2 instead of x *= 2), or clone() "
        "the tensor before changing it."
    )


def _execute(
    plan: _Plan,
    seeds: Sequence[tuple[Any, Any]],
    retain_graph: bool,
    create_graph: bool,
    wanted: set | None = None,
) -> dict[Any, Any]:
    """Run the backward rules in the plan's order: the one execution every backward uses
    (``Tensor.backward``, ``tg.grad`` and the ``tg.jit`` replay).

    ``seeds`` are ``(key, grad)`` for the roots. Each tensor's gradient is complete when
    its turn comes (every op that used it came first): see :func:`_arrive`. Leaves (and
    ``retain_grad`` tensors) accumulate it into ``.grad``, or, for ``tg.grad``, those whose
    keys are in ``wanted`` are returned.
    """
    grads: dict[Any, Any] = {}  # key -> gradient so far
    for j, g in seeds:
        grads[j] = g if j not in grads else grads[j] + g
    found: dict[Any, Any] = {}  # key -> gradient, for tg.grad
    shared: set[int] = set()  # ids of gradient arrays that another place may also hold
    tracer = _STATE.tracer
    anomaly = _STATE.anomaly
    prev_mode = _STATE.grad_enabled
    _STATE.grad_enabled = create_graph
    try:
        for _, i, t, ctx, targets in plan.steps:
            g = grads.pop(i, None)  # complete now: every op that used it came first
            if g is None:
                continue
            if ctx is None:  # a leaf; the usual case inline: a fresh array becomes .grad
                if (wanted is None and t.grad is None and not t._hooks
                        and type(g) is np.ndarray and id(g) not in shared):
                    t.grad = Tensor._make(g, None)
                else:
                    g = _arrive(t, g, i, True, wanted, found, shared, create_graph)
                if tracer is not None:
                    _report(tracer, t, None, g, ())
                continue
            if t is not None and (t._hooks or t._retains_grad or wanted is not None):
                g = _arrive(t, g, i, False, wanted, found, shared, create_graph)
            if create_graph or ctx.multi is not None:
                in_grads = _rule_in_graph(ctx, g, t)
            else:
                in_grads = ctx.fn.backward(ctx, g)
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if len(in_grads) != len(ctx.needs_input_grad):
                raise RuntimeError(
                    f"{ctx.fn.__name__}.backward returned {len(in_grads)} gradient(s) but "
                    f"forward took {len(ctx.needs_input_grad)} input(s): return one per input "
                    "(None where there is no gradient)"
                )
            if tracer is not None:
                _report(tracer, t, ctx.fn.__name__, g, in_grads)
            for k, j, leaf, shape, dtype in targets:
                pg = in_grads[k]
                if pg is None:
                    continue
                if type(pg) is not np.ndarray or pg.shape != shape or (
                    pg.dtype is not dtype and pg.dtype != dtype
                ):
                    pg = _conform(pg, shape, dtype, ctx.fn, create_graph)  # rare: Tensor, cast
                if anomaly:
                    _check_finite(pg, ctx, "backward", k)
                prev = grads.get(j)
                if prev is not None:
                    grads[j] = prev + pg  # a new array: nobody else holds it
                    continue
                grads[j] = pg
                if leaf and not create_graph and (  # .grad may keep pg: does another hold it?
                    pg is g or pg.base is not None or _is_one_of(pg, ctx.saved)
                ):
                    shared.add(id(pg))
            if not retain_graph:
                _release(ctx)
    finally:
        _STATE.grad_enabled = prev_mode
    return found


def _arrive(t: Tensor, g: Any, i: Any, leaf: bool, wanted: set | None,
            found: dict[Any, Any], shared: set[int], create_graph: bool) -> Any:
    """Tensor ``t`` (key i) has its complete gradient ``g``: its hooks may replace it;
    then ``tg.grad`` takes it (keys in ``wanted``); a ``retain_grad`` tensor adds it into
    ``.grad`` (always, as torch), a leaf too unless ``tg.grad`` is asking. Returns the
    gradient that flows on."""
    if t._hooks:
        for hook in t._hooks:
            out = hook(g if isinstance(g, Tensor) else Tensor._make(g, None))
            if out is not None:
                g = out if create_graph else _value(out)
        shared.add(id(g))
    taken = wanted is not None and i in wanted
    if taken:
        found[i] = g
    if t._retains_grad and not leaf:  # as torch: whenever a gradient passes through it
        _accumulate(t, g, taken or id(g) in shared)
    elif leaf and wanted is None:
        _accumulate(t, g, id(g) in shared)
    return g


def _rule_in_graph(ctx: Any, g: Any, t: Any) -> Any:
    """Call the rule of an op with several outputs, or any rule under create_graph (its
    saved values are then matched to the op's tensors, so the rule records a graph)."""
    if ctx.multi is not None:
        return _multi_backward(ctx, g, t)
    ctx.out = t
    try:
        return ctx.fn.backward(ctx, g)
    finally:
        ctx.out = None


def _is_one_of(x: Any, values: tuple | None) -> bool:
    """Is ``x`` (by identity) one of ``values``?"""
    if values:
        for v in values:
            if v is x:
                return True
    return False


def _inputs_arg(inputs: Tensor | Sequence[Tensor] | None) -> list[Tensor] | None:
    """``backward(inputs=...)`` as a list, checked as torch checks it."""
    if inputs is None:
        return None
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if not ins:
        raise RuntimeError("backward(inputs=...) cannot be empty: leave it out to fill every "
                           "leaf's .grad")
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"backward(inputs=...): input {i} does not require grad")
    return ins


def _run_backward(
    roots: Sequence[Tensor],
    grads: Sequence[Any],
    retain_graph: bool | None,
    create_graph: bool,
    inputs: Sequence[Tensor] | None,
    accumulate: bool = False,
) -> list[Any] | None:
    """Plan the walk from ``roots``, then execute it: gradients of ``inputs`` if given
    (``tg.grad``, or with ``accumulate`` added into those tensors' ``.grad``, as
    ``backward(inputs=...)``), else accumulated into ``.grad`` of leaves (``backward``)."""
    starts, seeds = [], []
    for r, g in zip(roots, grads, strict=True):
        if r._view is not None:
            r = _current_view(r)  # a view whose base changed since: the view as it is now
        if not r.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn: "
                "nothing to differentiate (did you forget requires_grad=True, or use no_grad?)"
            )
        starts.append(r)
        seeds.append((id(r), _seed(r, g, create_graph)))
    if retain_graph is None:
        retain_graph = create_graph
    plan = _plan(starts)
    wanted = None if inputs is None else {id(t) for t in inputs}
    found = _execute(plan, seeds, retain_graph, create_graph, wanted)
    if inputs is None:
        return None
    grads = [found.get(id(t)) for t in inputs]
    if accumulate:
        for t, g in zip(inputs, grads, strict=True):
            if g is not None and not (t._retains_grad and t._ctx is not None):  # (has it)
                _accumulate(t, g, True)  # True: the array may be held elsewhere, copy it
        return None
    return [g if g is None or isinstance(g, Tensor) else Tensor._make(g, None) for g in grads]


def _multi_backward(ctx: Any, g: _Parts, hub: Any) -> Any:
    """Backward of an op with several outputs: its rule gets one gradient per output
    (zeros for outputs nothing used, or None after ``ctx.set_materialize_grads(False)``)."""
    grads = list(g.parts)
    for n, (shape, dtype) in enumerate(ctx.multi):
        if grads[n] is None and ctx.materialize_grads:
            zeros = np.zeros(shape, dtype)
            grads[n] = Tensor._make(zeros, None) if _STATE.grad_enabled else zeros
    if not _STATE.grad_enabled:
        return ctx.fn.backward(ctx, *grads)
    ctx.out = hub
    try:
        return ctx.fn.backward(ctx, *grads)
    finally:
        ctx.out = None


def _report(tracer: Callable[[dict], None], t: Any, op: str | None, g: Any,
            in_grads: tuple) -> None:
    """Tell ``tg.trace`` about one visited node (op None for a leaf)."""
    hooks = len(t._hooks) if t is not None and t._hooks else 0
    tracer({"tensor": t, "op": op, "grad": g, "input_grads": in_grads, "hooks": hooks})


class _Parts:
    """The gradient of an op with several outputs: one entry per output (None: none yet)."""

    __slots__ = ("parts",)

    def __init__(self, parts: list) -> None:
        self.parts = parts

    def __add__(self, other: _Parts) -> _Parts:
        return _Parts([b if a is None else a if b is None else a + b
                       for a, b in zip(self.parts, other.parts, strict=True)])


def _check_finite(value: Any, ctx: Any, phase: str, inputs: Any = None) -> None:
    """Under ``detect_anomaly``: raise at the first op whose values are NaN or Inf.

    ``inputs``: in the forward, the op's input arrays (to say when a NaN came in from
    outside, e.g. a leaf); in the backward, the index of the input whose gradient it is.
    """
    if type(value) is _Parts:
        return
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.kind not in "fc" or np.all(np.isfinite(arr)):
        return
    bad = "NaN" if np.isnan(arr).any() else "Inf"
    name = ctx.fn.__name__
    if phase == "backward":
        what = f"the gradient of its input {inputs}"
        shape = f" (shape {tuple(arr.shape)})"
        msg = f"detect_anomaly: {name}.backward produced {bad} in {what}{shape}"
    else:
        msg = f"detect_anomaly: {name} produced {bad} in its forward (output shape {arr.shape})"
        for a in inputs or ():
            v = np.asarray(a.data if isinstance(a, Tensor) else a)
            if v.dtype.kind in "fc" and not np.all(np.isfinite(v)):
                msg += "; an input already held NaN/Inf (a leaf's values, or computed outside "
                msg += "detect_anomaly)"
                break
    if ctx.source:
        msg += f"\n  created at {ctx.source}"
    else:
        msg += "\n  (this op was created outside detect_anomaly(): run the forward pass inside "
        msg += "it too to see the source line that created it)"
    raise FloatingPointError(msg)


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool | None = None,
    materialize_grads: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` untouched).

    Like ``torch.autograd.grad``. With ``create_graph=True`` the results are part of a
    graph and can be differentiated again (Hessian-vector products, gradient penalties).
    An input the outputs do not use is an error, or None with ``allow_unused=True``, or
    zeros with ``materialize_grads=True`` (which allows it, as torch).

    >>> import tinygrad_mlp as tg
    >>> x = tg.Tensor(3.0, requires_grad=True)
    >>> (dx,) = tg.grad(x ** 3, x, create_graph=True)
    >>> (dxx,) = tg.grad(dx, x)
    >>> float(dx), float(dxx)
    (27.0, 18.0)
    """
    outs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    ins = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None or isinstance(grad_outputs, (Tensor, np.ndarray)):
        gos = [grad_outputs] * len(outs) if len(outs) == 1 or grad_outputs is None else None
    else:
        gos = list(grad_outputs)
    if gos is None or len(gos) != len(outs):
        raise ValueError("grad_outputs must have one entry per output")
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise RuntimeError(f"input {i} to grad() does not require grad")
    result = _run_backward(outs, gos, retain_graph, create_graph, inputs=ins)
    assert result is not None
    if allow_unused is None:
        allow_unused = materialize_grads
    for i, r in enumerate(result):
        if r is None and not allow_unused:
            raise RuntimeError(
                f"input {i} to grad() was not used to compute the outputs "
                "(pass allow_unused=True to get None for it)"
            )
        if r is None and materialize_grads:
            result[i] = Tensor._make(np.zeros_like(ins[i].data), None)
    return tuple(result)


@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise ``FloatingPointError`` at the first op whose forward or backward makes NaN/Inf,
    naming the op and the line of user code that created it. Slow: for debugging."""
    prev = _STATE.anomaly
    _STATE.anomaly = True
    try:
        yield
    finally:
        _STATE.anomaly = prev


from tinygrad_mlp import ops as _ops  # noqa: E402  (ops needs Tensor defined first)
