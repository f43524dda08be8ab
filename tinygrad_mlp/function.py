"""The contract every differentiable operation follows: ``Function`` and its ``Context``.

An op is a subclass of :class:`Function` with two static methods::

    forward(ctx, *arrays, **options) -> np.ndarray     # plain numpy, runs once
    backward(ctx, grad) -> one gradient per input      # the chain rule, locally

``Function.apply`` runs ``forward`` on the raw arrays and, when gradients are wanted,
records the inputs on the context so the engine (``Tensor.backward``) can find them.

Backward rules are written with operations that numpy arrays and Tensors both support
(``*``, ``@``, ``.sum``, ``.reshape``, ...). The engine hands a rule raw arrays for an
ordinary backward (fast) and Tensors when ``create_graph=True``, in which case the rule
itself is recorded and can be differentiated again.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_mlp import tensor as _tensor
from tinygrad_mlp.tensor import _STATE, Tensor, _Parts, _to_array


class Context:
    """Scratch space shared by one call's forward and backward.

    ``save_for_backward`` keeps arrays the backward rule needs; they are released after
    backward unless ``retain_graph=True``. Small facts (shapes, axes) go on attributes.
    """

    # Defaults live on the class, so making a Context (once per op) sets a single attribute.
    parents: tuple | None = ()  # the op's positional arguments, when the call was recorded
    needs_input_grad: tuple[bool, ...] = ()  # set before forward runs, as in torch
    saved: tuple | None = ()  # None once backward has freed them
    out: Tensor | None = None  # set by the engine only while building a grad graph
    source: str | None = None  # user source line, recorded under detect_anomaly
    versions: tuple[int, ...] | None = None  # inputs' versions when read (None: all 0)
    modified: tuple[int, int] | None = None  # set when a saved output is changed in place
    inplace_from: int | None = None  # for an in-place op: the version it overwrote
    inplace_old: int = 0  # ... and which of its inputs holds that version's value
    out_array: Any = None  # ... and the array its forward returned (copied into the tensor)
    multi: tuple | None = None  # for an op with several outputs: their (shape, dtype)s
    materialize_grads = True  # unused outputs get zero gradients (else None)
    non_differentiable: tuple = ()  # ids of outputs marked non-differentiable
    _by_array: dict | None = None  # id(array) -> input Tensor, when inputs shared an array

    def __init__(self, fn: type[Function]) -> None:
        self.fn = fn

    def save_for_backward(self, *values: Any) -> None:
        """Keep ``values`` (arrays or scalars) for the backward rule."""
        self.saved = values

    def mark_non_differentiable(self, *outputs: Any) -> None:
        """Outputs of forward (the arrays it returns) that get no gradient (indices, masks)."""
        self.non_differentiable = self.non_differentiable + tuple(id(o) for o in outputs)

    def set_materialize_grads(self, value: bool) -> None:
        """With False, backward gets None (not zeros) for outputs that received no gradient."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self) -> tuple:
        """What forward saved: raw arrays, or Tensors wired into the graph under create_graph.

        Under ``create_graph=True`` a saved array that *is* an input's or the output's
        value is replaced by that Tensor, so the gradient of the rule flows back to it.
        """
        if self.saved is None:
            raise RuntimeError(f"{self.fn.__name__}: {_tensor._FREED}")
        if self.out is None:
            return self.saved
        known = self._by_array
        if known is None:
            known = {id(p.data): p for p in self.parents if isinstance(p, Tensor)}
        known = {**known, id(self.out.data): self.out}
        if self.out_array is not None:  # an in-place op: its output is the changed tensor
            known[id(self.out_array)] = self.out
        return tuple(_as_graph_value(s, known) for s in self.saved)


def _as_graph_value(value: Any, known: dict[int, Tensor]) -> Any:
    """The Tensor whose data is ``value``; else a constant Tensor (arrays) or ``value``."""
    if id(value) in known:
        return known[id(value)]
    return Tensor._make(value, None) if isinstance(value, np.ndarray) else value


def _shares_an_array(arrays: list) -> bool:
    """Is one array object passed twice (cheap checks for the usual two or three inputs)?"""
    if len(arrays) == 2:
        return arrays[0] is arrays[1]
    if len(arrays) == 3:
        a, b, c = arrays
        return a is b or a is c or b is c
    return len(set(map(id, arrays))) < len(arrays)


def _unalias(ctx: Context, args: tuple, arrays: list) -> list:
    """Give each distinct input its own array object when several share one (``x`` and
    ``x.detach()``, or ``x`` and the constant ``x.data``): saved values are matched to
    inputs by identity under create_graph, so a shared array would be ambiguous."""
    owner: dict[int, Any] = {}
    out = []
    for a, d in zip(args, arrays, strict=True):
        if owner.setdefault(id(d), a) is not a:  # not just the same Tensor twice (x * x)
            d = d.view()
        out.append(d)
    if any(d is not d0 for d, d0 in zip(out, arrays, strict=True)):
        ctx._by_array = {id(d): a for a, d in zip(args, out, strict=True) if isinstance(a, Tensor)}
    return out


class Function:
    """Base class of differentiable operations (built-in and user-defined).

    >>> import numpy as np, tinygrad_mlp as tg
    >>> class Cube(tg.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, grad):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * grad
    >>> t = tg.Tensor([2.0], requires_grad=True)
    >>> Cube.apply(t).backward(np.ones(1, np.float32)); t.grad.numpy()
    array([12.], dtype=float32)
    """

    #: integer and bool inputs are promoted to float32 before forward (True), kept (False:
    #: shape ops, exact reductions), or kept unless another input is a float ("mixed":
    #: + - * @ abs neg, which numpy computes exactly on integers)
    promote_int: bool | str = True

    #: PyTorch 2's style: ``forward(*inputs)`` without ctx, then
    #: ``setup_context(ctx, inputs, output)`` saves what backward needs. A subclass that
    #: defines it gets a forward that calls the two (see ``__init_subclass__``).
    setup_context: Any = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        setup = cls.setup_context
        if setup is not None and "forward" in cls.__dict__:
            user_forward = cls.__dict__["forward"]
            user_forward = getattr(user_forward, "__func__", user_forward)

            def forward(ctx: Context, *args: Any, **options: Any) -> Any:
                out = user_forward(*args, **options)
                setup(ctx, args, out)
                return out

            forward.__doc__ = user_forward.__doc__
            cls.forward = staticmethod(forward)

    @staticmethod
    def forward(ctx: Context, *args: Any, **kwargs: Any) -> np.ndarray:
        raise NotImplementedError

    @staticmethod
    def backward(ctx: Context, grad: Any) -> Any:
        raise NotImplementedError

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Tensor:
        """Run forward on the inputs' arrays; record the call when a gradient is wanted.

        Positional arguments that are Tensors are the op's differentiable inputs; other
        positional arguments (scalars, arrays, lists) are constants. Keyword arguments
        are options passed to forward unchanged.
        """
        ctx = Context(cls)
        arrays = []
        needs = []
        versions = None  # the inputs' versions as read, once any input has a counter
        record = mixed = False
        for a in args:
            if isinstance(a, Tensor):
                d = a.data
                if a.requires_grad:  # always floating point
                    record = True
                elif cls.promote_int and d.dtype.kind in "biu":
                    if cls.promote_int is True:
                        d = d.astype(np.float32)
                    else:
                        mixed = True
                if a._vc is not None:  # changed in place before: remember what we read
                    if a._view is not None and a._vc[0] != a._view.version and (
                        a._ctx is not None or _STATE.forward_ad  # its base changed since
                    ):
                        return cls.apply(*[_tensor._current_view(b) if isinstance(b, Tensor)
                                           else b for b in args], **kwargs)
                    if versions is None:
                        versions = [0] * len(args)
                    versions[len(arrays)] = a._vc[0]
                needs.append(a.requires_grad)
                arrays.append(d)
            else:
                arrays.append(a if isinstance(a, (int, float, np.ndarray)) else _to_array(a))
                needs.append(False)
        if mixed:
            arrays = _promote_if_mixed(arrays)
        ctx.needs_input_grad = tuple(needs)  # as torch: set even when nothing is recorded
        if record and _STATE.grad_enabled:
            if len(arrays) > 1 and _shares_an_array(arrays):
                arrays = _unalias(ctx, args, arrays)
        else:
            record = False
        out = cls.forward(ctx, *arrays, **kwargs)
        if type(out) is tuple:
            return _apply_multi(cls, ctx, args, arrays, kwargs, out, record, versions)
        special = _STATE.special
        if special and _STATE.anomaly:
            _check_forward(ctx, (out,), arrays)
        if record:
            ctx.parents = args
            if versions is not None:
                ctx.versions = tuple(versions)
            if ctx.non_differentiable and id(out) in ctx.non_differentiable:
                record = False
        result = Tensor._make(out, ctx if record else None)
        if type(out) is np.ndarray and out.base is not None:  # a view: share the version
            _share_version(cls, args, arrays, kwargs, out, result)
        if special:
            _observe(cls, ctx, args, arrays, kwargs, out, result)
        return result


def _check_forward(ctx: Context, outs: tuple, arrays: list) -> None:
    """Under ``detect_anomaly``: remember the user's line and check the op's outputs."""
    ctx.source = _tensor._user_source_line()
    for o in outs:
        _tensor._check_finite(o, ctx, "forward", arrays)


def _observe(cls: type[Function], ctx: Context, args: tuple, arrays: list, kwargs: dict,
             out: Any, result: Any) -> None:
    """What the special modes see of one op call: tg.jit's tape, and forward mode's
    tangents (inside tg.func.jvp)."""
    if _STATE.tape is not None:
        _STATE.tape.append((cls, args, kwargs, result))
    if _STATE.forward_ad:
        from tinygrad_mlp.func import _push_tangents

        _push_tangents(cls, ctx, args, arrays, kwargs, out, result)


def _promote_if_mixed(values: list) -> list:
    """Integer and bool arrays as float32 when another value is a float (as torch's
    ``int_tensor * 0.5``), else unchanged (numpy's exact integer arithmetic)."""
    if not any((isinstance(v, np.ndarray) and v.dtype.kind in "fc") or
               isinstance(v, (float, complex, np.floating, np.complexfloating)) for v in values):
        return values
    return [v.astype(np.float32) if isinstance(v, np.ndarray) and v.dtype.kind in "biu" else v
            for v in values]


def _share_version(cls: type[Function], args: tuple, arrays: list, kwargs: dict,
                   out: np.ndarray, result: Tensor) -> None:
    """An output that is a view of an input's values (reshape, transpose, slicing) shares
    that input's version counter, so an in-place change through either is seen by both,
    and remembers how it was made (``Tensor._view``), so that an in-place change through
    the view is recorded on the viewed tensor."""
    for a, d in zip(args, arrays, strict=True):
        if isinstance(a, Tensor) and type(d) is np.ndarray and np.may_share_memory(out, d):
            result._vc = a._shared_vc()
            result._view = _tensor._View(a, cls, args, kwargs)
            return


class _Select(Function):
    """Output ``n`` of an op with several outputs;  d(op) gets g in place n of its tuple."""

    @staticmethod
    def backward(ctx, g):
        parts: list[Any] = [None] * ctx.count
        parts[ctx.n] = g
        return _Parts(parts)


def _apply_multi(cls: type[Function], ctx: Context, args: tuple, arrays: list, kwargs: dict,
                 outs: tuple, record: bool, versions: list | None) -> tuple[Tensor, ...]:
    """Wrap the outputs of a forward that returned a tuple.

    The op's context sits on one hidden tensor (the hub); each differentiable output is a
    ``_Select`` of it, so the engine hands the op one gradient per output, as torch does.
    """
    outs = tuple(o if type(o) is np.ndarray else np.asarray(o) for o in outs)
    if _STATE.anomaly:
        _check_forward(ctx, outs, arrays)
    if not record:
        results = tuple(Tensor._make(o, None) for o in outs)
    else:
        ctx.parents = args
        if versions is not None:
            ctx.versions = tuple(versions)
        ctx.multi = tuple((o.shape, o.dtype) for o in outs)
        hub = Tensor._make(np.empty(0), ctx)
        results = []
        for n, o in enumerate(outs):
            if id(o) in ctx.non_differentiable or o.dtype.kind not in "fc":
                results.append(Tensor._make(o, None))
                continue
            sel = Context(_Select)
            sel.n, sel.count = n, len(outs)
            sel.parents, sel.needs_input_grad = (hub,), (True,)
            results.append(Tensor._make(o, sel))
        results = tuple(results)
    if _STATE.special:  # (tg.jit refuses several outputs when it builds its tape)
        _observe(cls, ctx, args, arrays, kwargs, outs, results)
    return results
