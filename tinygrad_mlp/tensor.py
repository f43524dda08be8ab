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

``backward`` seeds the output's gradient with 1 and visits each tensor once, after every
op that used it has added its contribution (gradients used more than once are summed,
never overwritten). The walk is a loop over a priority queue, never recursion: tensors
are numbered as they are created, and an op's output is always newer than its inputs,
so taking the newest waiting tensor first is a reverse topological order.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np


class _State:
    """Global switches: is a graph being recorded? Are we hunting NaNs? Who traces?"""

    grad_enabled = True
    anomaly = False
    tracer: Callable[[dict], None] | None = None
    tape: list | None = None  # while tg.jit traces: every op call, in order
    forward_ad = 0  # > 0 inside tg.func.jvp: ops carry tangents (forward mode)


_STATE = _State()

#: Every Tensor gets the next number when it is created. An op's output is always created
#: after its inputs, so visiting tensors from the highest number down is a valid reverse
#: topological order: the backward walk needs no separate sort.
_CREATION_ORDER = itertools.count()


class no_grad(contextlib.ContextDecorator):
    """Context manager and decorator: ops inside record no graph (inference, updates).

    >>> import tinygrad_mlp as tg
    >>> x = tg.Tensor([1.0], requires_grad=True)
    >>> with tg.no_grad():
    ...     y = x * 2
    >>> y.requires_grad
    False
    """

    def __enter__(self) -> None:
        self._prev = _STATE.grad_enabled
        _STATE.grad_enabled = False

    def __exit__(self, *exc: object) -> None:
        _STATE.grad_enabled = self._prev

    def _recreate_cm(self) -> no_grad:
        return type(self)()  # a fresh one per decorated call: _prev is per call


class enable_grad(contextlib.ContextDecorator):
    """Context manager and decorator: record the graph again inside a ``no_grad`` block."""

    def __enter__(self) -> None:
        self._prev = _STATE.grad_enabled
        _STATE.grad_enabled = True

    def __exit__(self, *exc: object) -> None:
        _STATE.grad_enabled = self._prev

    def _recreate_cm(self) -> enable_grad:
        return type(self)()  # a fresh one per decorated call: _prev is per call


def is_grad_enabled() -> bool:
    """True when ops record the graph (outside ``no_grad``)."""
    return _STATE.grad_enabled


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_source_line() -> str:
    """``file:line: code`` of the innermost stack frame outside this package (the user's
    line that called the op, even when it went through ``nn`` layers or losses)."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno}: {frame.line}"
    return "<unknown>"


def _to_array(data: Any, dtype: Any = None) -> np.ndarray:
    """numpy value of ``data``; Python numbers and lists default to float32."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data) if dtype is None else np.asarray(data, dtype=dtype)
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
        "_tangent", "__weakref__",
    )
    __array_ufunc__ = None  # ndarray <op> Tensor defers to Tensor's reflected operators

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _to_array(data, dtype)
        self.grad: Tensor | None = None
        self._ctx = None
        self._hooks: list | None = None
        self._retains_grad = False
        self._seq = next(_CREATION_ORDER)
        self._vc: list[int] | None = None  # version counter, shared with detach()ed views
        self._tangent = None  # forward mode (tg.func.jvp): d(self) along the tangent
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
        return t

    # ----- basic properties -------------------------------------------------------------
    shape = property(lambda self: self.data.shape, doc="Tuple of dimensions.")
    ndim = property(lambda self: self.data.ndim, doc="Number of dimensions.")
    size = property(lambda self: self.data.size, doc="Number of elements (an int, as numpy).")
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
        """The same values (shared, not copied), cut from the graph."""
        return Tensor._make(self.data, None)

    def zero_grad(self) -> None:
        """Forget the accumulated gradient (same as ``t.grad = None``)."""
        self.grad = None

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        self._retains_grad = True

    def register_hook(self, fn: Callable[[Tensor], Tensor | None]) -> Callable[[], None]:
        """Call ``fn(grad)`` when this tensor's gradient is computed; a returned Tensor
        replaces the gradient. Returns a function that removes the hook."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require grad")
        if self._hooks is None:
            self._hooks = []
        self._hooks.append(fn)
        return lambda: self._hooks.remove(fn)

    def backward(
        self,
        grad: Any = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
        trace: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into ``leaf.grad`` for every leaf that requires grad.

        ``grad`` (same shape as self) is the upstream gradient; it may be omitted only for
        a single-element tensor. ``retain_graph`` keeps saved values for another backward;
        ``create_graph`` records the backward pass itself, for higher-order gradients.
        ``trace=True`` prints each node as it is visited (see ``tg.trace``).
        """
        if trace:
            from tinygrad_mlp.viz import trace as _trace

            with _trace():
                return self.backward(grad, retain_graph, create_graph)
        _run_backward([self], [grad], retain_graph, create_graph, inputs=None)

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

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Indices of the maxima (int64, not differentiable)."""
        return Tensor._make(np.argmax(self.data, axis=axis, keepdims=keepdims), None)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> Tensor:
        """Indices of the minima (int64, not differentiable)."""
        return Tensor._make(np.argmin(self.data, axis=axis, keepdims=keepdims), None)

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

    clamp = clip

    # ----- reductions -------------------------------------------------------------------
    def sum(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.Sum.apply(self, axis=_axes(axis, self.ndim), keepdims=keepdims)

    def mean(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        """Sum divided by the number of elements reduced (NaN for an empty reduction)."""
        s = self.sum(axis, keepdims)
        n = self.size // max(s.size, 1) if self.size else 0
        return s * (1.0 / n) if n else s * float("nan")

    def max(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.Max.apply(self, axis=_axes(axis, self.ndim), keepdims=keepdims, fn=np.max)

    def min(self, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Tensor:
        return _ops.Max.apply(self, axis=_axes(axis, self.ndim), keepdims=keepdims, fn=np.min)

    def softmax(self, axis: int = -1) -> Tensor:
        return _ops.Softmax.apply(self, axis=axis)

    def log_softmax(self, axis: int = -1) -> Tensor:
        return _ops.LogSoftmax.apply(self, axis=axis)

    # ----- shape -----------------------------------------------------------------------
    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.Reshape.apply(self, shape=shape)

    def transpose(self, *axes: Any) -> Tensor:
        """Permute dimensions as numpy does: a full permutation, or none to reverse them."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
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

    def flatten(self) -> Tensor:
        """A 1-D view of all elements (numpy order)."""
        return self.reshape(-1)

    def broadcast_to(self, shape: Sequence[int]) -> Tensor:
        """Repeat along size-1 (or new leading) dimensions to ``shape``."""
        return _ops.Expand.apply(self, shape=tuple(shape))

    expand = broadcast_to


def _value(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x


def _index_arrays(index: Any) -> Any:
    """An index with any Tensors in it replaced by their arrays."""
    if isinstance(index, tuple):
        return tuple(_value(i) for i in index)
    return _value(index)


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
        g = np.array(1, dtype=root.dtype).reshape(root.shape)  # cheaper than np.ones
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


def _conform(g: Any, data: np.ndarray, fn: type, create_graph: bool) -> Any:
    """An op's returned gradient made to match its input: an array (or, under
    create_graph, a Tensor) of the input's shape (broadcasting undone) and dtype."""
    if not isinstance(g, (np.ndarray, Tensor)):
        g = np.asarray(g, dtype=data.dtype)
    if tuple(g.shape) != data.shape:
        g = _unbroadcast(g, data.shape, fn)
    if not create_graph:
        if isinstance(g, Tensor):
            g = g.data
        return g if g.dtype == data.dtype else g.astype(data.dtype)
    if g.dtype != data.dtype:  # a float32 input gets a float32 gradient
        g = _ops.Cast.apply(g if isinstance(g, Tensor) else Tensor(g), dtype=data.dtype)
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


def _run_backward(
    roots: Sequence[Tensor],
    grads: Sequence[Any],
    retain_graph: bool | None,
    create_graph: bool,
    inputs: Sequence[Tensor] | None,
) -> list[Any] | None:
    """The engine. Walks the graph once; returns the gradients of ``inputs`` if given
    (``tg.grad``), else accumulates into ``.grad`` of leaves (``backward``)."""
    for r in roots:
        if not r.requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn: "
                "nothing to differentiate (did you forget requires_grad=True, or use no_grad?)"
            )
    if retain_graph is None:
        retain_graph = create_graph
    pending: dict[int, Any] = {}  # id(tensor) -> its gradient so far
    queue: list[tuple[int, Tensor]] = []  # tensors with a gradient, newest first (a heap)
    for r, g in zip(roots, grads, strict=True):
        g = _seed(r, g, create_graph)
        if id(r) in pending:
            pending[id(r)] = pending[id(r)] + g
        else:
            pending[id(r)] = g
            heapq.heappush(queue, (-r._seq, r))
    wanted = {id(t): i for i, t in enumerate(inputs)} if inputs is not None else None
    found: list[Any] = [None] * len(inputs) if inputs is not None else []
    shared: set[int] = set()  # ids of gradient arrays that another place may also hold
    tracer = _STATE.tracer
    prev_mode = _STATE.grad_enabled
    _STATE.grad_enabled = create_graph
    try:
        while queue:
            # The newest tensor still waiting: everything made from it has been visited,
            # so its gradient is complete.
            t = heapq.heappop(queue)[1]
            g = pending.pop(id(t))
            if t._hooks:
                for hook in t._hooks:
                    out = hook(g if isinstance(g, Tensor) else Tensor._make(g, None))
                    if out is not None:
                        g = out if create_graph else _value(out)
                shared.add(id(g))
            if wanted is not None and id(t) in wanted:
                found[wanted[id(t)]] = g
            ctx = t._ctx
            if wanted is None and (ctx is None or t._retains_grad):
                _accumulate(t, g, id(g) in shared)
            if ctx is None:
                if tracer is not None:
                    _report(tracer, t, None, g, ())
                continue
            if create_graph:
                ctx.out = t
            try:
                in_grads = ctx.fn.backward(ctx, g)
            finally:
                ctx.out = None
            if type(in_grads) is not tuple:
                in_grads = (in_grads,)
            if len(in_grads) != len(ctx.parents):
                raise RuntimeError(
                    f"{ctx.fn.__name__}.backward returned {len(in_grads)} gradient(s) but "
                    f"forward took {len(ctx.parents)} input(s): return one per input "
                    "(None where there is no gradient)"
                )
            if tracer is not None:
                _report(tracer, t, ctx.fn.__name__, g, in_grads)
            for p, pg, need in zip(ctx.parents, in_grads, ctx.needs_input_grad, strict=True):
                if not need or pg is None:
                    continue
                data = p.data
                if type(pg) is not np.ndarray or pg.shape != data.shape or pg.dtype != data.dtype:
                    pg = _conform(pg, data, ctx.fn, create_graph)  # rare: reshape, cast, Tensor
                if _STATE.anomaly:
                    _check_finite(pg, ctx, "backward", p)
                prev = pending.get(id(p))
                if prev is not None:
                    pending[id(p)] = prev + pg  # a new array: nobody else holds it
                    continue
                pending[id(p)] = pg
                heapq.heappush(queue, (-p._seq, p))
                if p._ctx is None and not create_graph and (  # a leaf: .grad may keep pg
                    pg is g or pg.base is not None or any(pg is s for s in ctx.saved or ())
                ):
                    shared.add(id(pg))
            if not retain_graph and ctx.saved:
                ctx.saved = None
    finally:
        _STATE.grad_enabled = prev_mode
    if inputs is None:
        return None
    return [f if f is None or isinstance(f, Tensor) else Tensor._make(f, None) for f in found]


def _report(tracer: Callable[[dict], None], t: Tensor, op: str | None, g: Any,
            in_grads: tuple) -> None:
    """Tell ``tg.trace`` about one visited node (op None for a leaf)."""
    hooks = len(t._hooks) if t._hooks else 0
    tracer({"tensor": t, "op": op, "grad": g, "input_grads": in_grads, "hooks": hooks})


def _check_finite(value: Any, ctx: Any, phase: str, inputs: Any = None) -> None:
    """Under ``detect_anomaly``: raise at the first op whose values are NaN or Inf.

    ``inputs``: in the forward, the op's input arrays (to say when a NaN came in from
    outside, e.g. a leaf); in the backward, the input whose gradient is being checked.
    """
    arr = value.data if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.kind not in "fc" or np.all(np.isfinite(arr)):
        return
    bad = "NaN" if np.isnan(arr).any() else "Inf"
    name = ctx.fn.__name__
    if phase == "backward":
        i = next((k for k, p in enumerate(ctx.parents) if p is inputs), None)
        what = f"the gradient of its input {i}" if i is not None else "a gradient"
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
    allow_unused: bool = False,
) -> tuple[Tensor | None, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` untouched).

    Like ``torch.autograd.grad``. With ``create_graph=True`` the results are part of a
    graph and can be differentiated again (Hessian-vector products, gradient penalties).

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
    for i, r in enumerate(result):
        if r is None and not allow_unused:
            raise RuntimeError(
                f"input {i} to grad() was not used to compute the outputs "
                "(pass allow_unused=True to get None for it)"
            )
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
