"""Function transforms, as ``torch.func``: vjp, jvp (true forward mode), grad, jacobians,
Hessians and vmap.

Reverse mode (``Tensor.backward``) pulls a cotangent from the output back to every input:
one pass gives a whole *row* of the Jacobian, which is why it wins for a scalar loss.
Forward mode pushes a tangent from the inputs to the output alongside the values: one
pass gives a whole *column*, which wins when there are few inputs. Here forward mode is
real: every op has a ``jvp`` rule beside ``forward`` and ``backward`` and, inside
:func:`jvp`, :meth:`Function.apply` calls it right after ``forward``::

    x ──Exp──> y           forward:  y  = eˣ
    ẋ ──jvp──> ẏ           tangent:  ẏ  = ẋ·y      (Exp.jvp, same pass, no graph walk)

A tangent lives on the Tensor it belongs to (``t._tangent``, an array of t's shape, None
meaning zero) and only while :func:`jvp` runs.

Transforms compose the way ``torch.func``'s do: ``hessian(f)`` is ``jacfwd(jacrev(f))``
(forward over reverse: the tangents flow through backward rules run under
``create_graph=True``, because those rules call ops too), ``grad(grad(f))`` works, and a
``jvp`` nested in another transform switches to the double-vjp construction, which
composes with anything.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_mlp.function import Context, Function
from tinygrad_mlp.tensor import _STATE, Tensor, enable_grad
from tinygrad_mlp.tensor import grad as _autograd

__all__ = [
    "grad",
    "grad_and_value",
    "hessian",
    "hvp",
    "jacfwd",
    "jacrev",
    "jvp",
    "vjp",
    "vmap",
]


# ----- the forward-mode hook (called by Function.apply inside jvp) ---------------------------


def _push_tangents(
    cls: type[Function], ctx: Context, args: tuple, arrays: list, kwargs: dict, out: Any,
    result: Any,
) -> None:
    """Give ``result`` its tangent: ``cls.jvp`` applied to the inputs' tangents.

    The rule sees ``ctx.primals`` (the arrays forward received), ``ctx.result`` (what it
    returned) and ``ctx.options`` (forward's keyword options). Inputs without a tangent
    pass None (zero); when no input has one the output has none either.
    """
    tangents = [a._tangent if isinstance(a, Tensor) else None for a in args]
    if all(t is None for t in tangents):
        return
    rule = getattr(cls, "jvp", None)
    if rule is None:
        raise NotImplementedError(
            f"{cls.__name__} has no forward-mode rule: define "
            f"`@staticmethod def jvp(ctx, *tangents)` on {cls.__name__}, or use "
            "tg.func.jvp(..., via='reverse') (two reverse passes instead of forward mode)"
        )
    ctx.primals, ctx.result, ctx.options = tuple(arrays), out, kwargs
    try:
        t_out = rule(ctx, *tangents)
    finally:
        ctx.primals = ctx.result = None  # the graph need not keep them alive
    pairs = zip(result, t_out, strict=True) if isinstance(result, tuple) else [(result, t_out)]
    for r, t in pairs:
        if t is None or r.dtype.kind not in "fc":
            continue
        t = np.asarray(t.data if isinstance(t, Tensor) else t)
        if t.dtype != r.dtype:
            t = t.astype(r.dtype)
        if t.shape != r.shape:
            t = np.broadcast_to(t, r.shape)  # a rule may return a broadcastable tangent
        r._tangent = t


class _Identity(Function):
    """y = x, a new node: an input seen by an inner transform, still wired to the outer one."""

    @staticmethod
    def forward(ctx, x):
        return x

    @staticmethod
    def backward(ctx, g):
        return g

    @staticmethod
    def jvp(ctx, t):
        """Forward mode: dy = t."""
        return t


# ----- small helpers ---------------------------------------------------------------------------


def _as_tensor(x: Any, what: str) -> Tensor:
    """``x`` as a Tensor: Tensors pass, arrays and numbers are converted (arrays keep dtype)."""
    if isinstance(x, Tensor):
        return x
    try:
        return Tensor(np.asarray(x))
    except TypeError as e:
        raise TypeError(f"{what}: expected a Tensor or an array, got {type(x).__name__}") from e


class _Levels(threading.local):
    reverse = 0  # how many reverse-mode transforms (grad, vjp, jacrev) are running fn
    tracing = 0  # > 0 while vmap traces fn: transforms inside must record their ops


_LEVELS = _Levels()


@contextlib.contextmanager
def _reverse_level():
    """Mark fn's evaluation as inside a reverse-mode transform (for jvp's nesting test)."""
    _LEVELS.reverse += 1
    try:
        with enable_grad():
            yield
    finally:
        _LEVELS.reverse -= 1


def _outer_graph(xs: Sequence[Any]) -> bool:
    """Is an enclosing transform differentiating through ``xs`` (reverse or forward), or
    is vmap tracing (so every step must be an op it can see)?"""
    if _STATE.forward_ad or _LEVELS.tracing:
        return True
    return _STATE.grad_enabled and any(isinstance(x, Tensor) and x.requires_grad for x in xs)


def _nested(xs: Sequence[Any]) -> bool:
    """Is jvp called inside another transform that differentiates through ``xs``?"""
    if _STATE.forward_ad or _LEVELS.tracing:
        return True
    return _LEVELS.reverse > 0 and _outer_graph(xs)


def _lift(x: Any, what: str) -> Tensor:
    """A fresh differentiable input with ``x``'s values for an inner transform.

    Outside any transform it is a new leaf. Inside one it stays wired to ``x``: through
    an identity node when an outer reverse pass differentiates ``x`` (so the outer
    derivative sees the inner computation), and with ``x``'s tangent when an outer
    forward pass runs. A new node (not ``x`` itself) keeps the two levels apart.
    """
    x = _as_tensor(x, what)
    if x.dtype.kind not in "fc":
        raise TypeError(
            f"{what}: can only differentiate with respect to floating-point inputs, got dtype "
            f"{x.dtype} (cast it, e.g. x.double())"
        )
    if x.requires_grad and _STATE.grad_enabled:
        return _Identity.apply(x)
    y = Tensor._make(x.data, None)
    y.requires_grad = True
    if _STATE.forward_ad:
        y._tangent = x._tangent
    return y


def _argnums(argnums: int | Sequence[int], nargs: int, what: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, (int, np.integer)) else tuple(argnums)
    if not nums:
        raise ValueError(f"{what}: argnums must name at least one argument")
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(f"{what}: argnums {a} is out of range for {nargs} argument(s)")
    return tuple(int(a) % nargs for a in nums)


def _split_aux(res: Any, has_aux: bool, what: str) -> tuple[Any, Any]:
    if not has_aux:
        return res, None
    if not (isinstance(res, tuple) and len(res) == 2):
        raise TypeError(f"{what}: with has_aux=True, fn must return a pair (output, aux)")
    return res


def _single_output(out: Any, what: str) -> Tensor:
    """fn's one output as a Tensor (Jacobians here are of single-output functions)."""
    if isinstance(out, (tuple, list)):
        raise TypeError(f"{what}: fn returned {len(out)} outputs; a Jacobian needs a single "
                        "Tensor output (take one Jacobian per output)")
    return _as_tensor(out, what)


def _flat_outputs(out: Any, what: str) -> tuple[list[Tensor], bool]:
    """fn's output(s) as a list of Tensors, and whether it was a tuple."""
    many = isinstance(out, (tuple, list))
    outs = [_as_tensor(o, what) for o in (out if many else [out])]
    return outs, many


def _zeros(x: Tensor) -> Tensor:
    return Tensor._make(np.zeros_like(x.data), None)


# ----- reverse mode: vjp and grad ---------------------------------------------------------------


def vjp(fn: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple:
    """Evaluate ``fn(*primals)`` and return it with a function that pulls cotangents back.

    ``vjp_fn(v)`` returns ``vᵀJ`` for every primal (a tuple, one entry per primal); ``v``
    has the output's shape (a tuple of them for a tuple output).

    Returns
    -------
    (output, vjp_fn), or (output, vjp_fn, aux) with ``has_aux=True``.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> out, vjp_fn = tg.func.vjp(lambda x: x * x, tg.Tensor(np.array([1.0, 2.0])))
    >>> vjp_fn(np.array([1.0, 10.0]))[0]
    Tensor([ 2., 40.], dtype=float64)
    """
    xs = [_lift(p, f"vjp: primal {i}") for i, p in enumerate(primals)]
    create = _outer_graph(primals)
    with _reverse_level():
        out, aux = _split_aux(fn(*xs), has_aux, "vjp")
    outs, many = _flat_outputs(out, "vjp: output")

    def vjp_fn(*cotangents: Any, create_graph: bool = False) -> tuple[Tensor, ...]:
        cts = cotangents[0] if len(cotangents) == 1 and many else cotangents
        if len(cts) != len(outs):
            raise ValueError(f"vjp_fn: expected {len(outs)} cotangent(s), got {len(cts)}")
        live = []
        for i, (o, v) in enumerate(zip(outs, cts, strict=True)):
            if tuple(np.shape(v)) != o.shape:
                raise ValueError(
                    f"vjp_fn: cotangent {i} has shape {tuple(np.shape(v))}, "
                    f"the output has shape {o.shape}"
                )
            if o.requires_grad:
                live.append((o, v if isinstance(v, Tensor) else np.asarray(v, o.dtype)))
        if not live:
            return tuple(_zeros(x) for x in xs)
        with enable_grad():
            gs = _autograd([o for o, _ in live], xs, grad_outputs=[v for _, v in live],
                           retain_graph=True, create_graph=create or create_graph,
                           allow_unused=True)
        return tuple(_zeros(x) if g is None else g for x, g in zip(xs, gs, strict=True))

    return (out, vjp_fn) if not has_aux else (out, vjp_fn, aux)


def grad_and_value(
    fn: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """Like :func:`grad`, but the function returns ``(gradient, value)``
    (``((gradient, (value, aux))`` with ``has_aux=True``, as torch.func).

    >>> import numpy as np, tinygrad_mlp as tg
    >>> g, v = tg.func.grad_and_value(lambda x: (x ** 3).sum())(tg.Tensor(np.array(2.0)))
    >>> float(g), float(v)
    (12.0, 8.0)
    """

    def wrapper(*args: Any) -> tuple:
        nums = _argnums(argnums, len(args), "grad")
        create = _outer_graph(args)
        xs = list(args)
        for i in nums:
            xs[i] = _lift(args[i], f"grad: argument {i}")
        with _reverse_level():
            out, aux = _split_aux(fn(*xs), has_aux, "grad")
        out = _as_tensor(out, "grad: output")
        if out.size != 1:
            raise ValueError(
                f"grad: fn must return a single-element Tensor (a scalar loss), got shape "
                f"{out.shape}; use jacrev/jacfwd for a Jacobian"
            )
        if out.requires_grad:
            with enable_grad():
                gs = _autograd(out, [xs[i] for i in nums], create_graph=create,
                               allow_unused=True)
        else:
            gs = (None,) * len(nums)
        gs = tuple(_zeros(xs[i]) if g is None else g for i, g in zip(nums, gs, strict=True))
        g_out = gs if not isinstance(argnums, (int, np.integer)) else gs[0]
        return (g_out, (out, aux)) if has_aux else (g_out, out)

    wrapper.__name__ = f"grad_and_value({getattr(fn, '__name__', 'fn')})"
    return wrapper


def grad(
    fn: Callable[..., Any], argnums: int | Sequence[int] = 0, has_aux: bool = False
) -> Callable[..., Any]:
    """The gradient of a scalar function, as a function (``torch.func.grad``).

    Parameters
    ----------
    fn : callable
        Takes Tensors (or arrays) and returns a single-element Tensor (and ``aux`` when
        ``has_aux``).
    argnums : int or tuple of int
        Which arguments to differentiate; a tuple gives a tuple of gradients.
    has_aux : bool
        ``fn`` returns ``(loss, aux)``; the result is then ``(gradient, aux)``.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> d2 = tg.func.grad(tg.func.grad(lambda x: (x ** 3).sum()))
    >>> float(d2(tg.Tensor(np.array(2.0))))  # 6x
    12.0
    """
    gv = grad_and_value(fn, argnums, has_aux)

    def wrapper(*args: Any) -> Any:
        g, value = gv(*args)
        return (g, value[1]) if has_aux else g

    wrapper.__name__ = f"grad({getattr(fn, '__name__', 'fn')})"
    wrapper._tg_grad = (fn, argnums, has_aux)  # type: ignore[attr-defined]  (read by vmap)
    return wrapper


# ----- forward mode: jvp ------------------------------------------------------------------------


def _check_tangents(primals: Sequence[Tensor], tangents: Sequence[Any]) -> list[Any]:
    if len(tangents) != len(primals):
        raise ValueError(
            f"jvp: expected one tangent per primal ({len(primals)}), got {len(tangents)}"
        )
    out = []
    for i, (p, t) in enumerate(zip(primals, tangents, strict=True)):
        if t is None:
            out.append(None)
            continue
        t = np.asarray(t.data if isinstance(t, Tensor) else t)
        if t.shape != p.shape:
            raise ValueError(
                f"jvp: tangent {i} has shape {t.shape}, its primal has shape {p.shape}"
            )
        if p.dtype.kind not in "fc":
            raise TypeError(f"jvp: primal {i} has dtype {p.dtype}: only floats have tangents")
        out.append(t.astype(p.dtype, copy=False))
    return out


def jvp(
    fn: Callable[..., Any],
    primals: Any,
    tangents: Any,
    *,
    via: str = "forward",
    has_aux: bool = False,
) -> tuple:
    """``fn(*primals)`` and its directional derivative ``J·tangents``, in one forward pass.

    Each op's ``jvp`` rule carries the tangent along with the value (dual numbers): the
    cost is about one extra forward pass, with no graph and no reverse pass.

    Parameters
    ----------
    fn : callable
        Takes the primals (Tensors or arrays) and returns a Tensor or a tuple of them.
    primals, tangents : tuple
        Points and directions, one tangent per primal, each of its primal's shape
        (None: zero).
    via : {"forward", "reverse"}
        ``"reverse"`` computes the same numbers with two reverse passes (the double-vjp
        trick: ``J·v = d/du (uᵀJ)·v``), for comparison or for Functions without a jvp
        rule. Inside another transform (a jvp of a jvp, or reverse mode through a jvp)
        the reverse construction is used, because it composes.
    has_aux : bool
        ``fn`` returns ``(output, aux)``; the result is then ``(output, jvp_out, aux)``.

    Returns
    -------
    (output, jvp_out)
        Tensors (tuples of them for a tuple output).

    >>> import numpy as np, tinygrad_mlp as tg
    >>> x = np.array([0.0, 1.0])
    >>> out, dout = tg.func.jvp(lambda t: t.exp() * 2, (x,), (np.array([1.0, 1.0]),))
    >>> dout
    Tensor([2.        , 5.43656366], dtype=float64)
    """
    primals = tuple(primals) if isinstance(primals, (tuple, list)) else (primals,)
    tangents = tuple(tangents) if isinstance(tangents, (tuple, list)) else (tangents,)
    if via not in ("forward", "reverse"):
        raise ValueError(f"jvp: via must be 'forward' or 'reverse', got {via!r}")
    ps = [_as_tensor(p, f"jvp: primal {i}") for i, p in enumerate(primals)]
    ts = _check_tangents(ps, tangents)
    if via == "reverse" or _nested(ps):
        return _jvp_by_double_vjp(fn, ps, ts, has_aux)
    xs = []
    for p, t in zip(ps, ts, strict=True):
        # a primal that requires grad keeps its graph (the value stays differentiable; the
        # tangent is a constant: reverse mode through it needs the nested form above)
        x = _Identity.apply(p) if p.requires_grad and _STATE.grad_enabled else (
            Tensor._make(p.data, None))
        x._tangent = t
        xs.append(x)
    _STATE.forward_ad += 1
    try:
        res = fn(*xs)
    finally:
        _STATE.forward_ad -= 1
    out, aux = _split_aux(res, has_aux, "jvp")
    outs, many = _flat_outputs(out, "jvp: output")
    douts = []
    for o in outs:
        t = o._tangent
        douts.append(Tensor._make(np.zeros_like(o.data) if t is None else np.array(t), None))
    for t in [*outs, *xs]:
        t._tangent = None  # tangents live only while jvp runs
    result = (tuple(outs), tuple(douts)) if many else (outs[0], douts[0])
    return result + (aux,) if has_aux else result


def _jvp_by_double_vjp(fn: Callable[..., Any], ps: list[Tensor], ts: list[Any],
                       has_aux: bool) -> tuple:
    """J·v as d/du (uᵀJ)·v: vᵀJ is linear in u, so its reverse-mode derivative along v is Jv."""
    create = _outer_graph(ps)
    res = vjp(fn, *ps, has_aux=has_aux)
    out, vjp_fn = res[0], res[1]
    outs, many = _flat_outputs(out, "jvp: output")
    us = [Tensor(np.zeros_like(o.data), requires_grad=True) for o in outs]
    gs = vjp_fn(*us, create_graph=True)
    live = [(g, t) for g, t in zip(gs, ts, strict=True) if t is not None and g.requires_grad]
    if live:
        with enable_grad():
            douts = _autograd([g for g, _ in live], us, grad_outputs=[t for _, t in live],
                              create_graph=create, allow_unused=True)
    else:
        douts = (None,) * len(us)
    douts = tuple(_zeros(o) if d is None else d for o, d in zip(outs, douts, strict=True))
    result = (tuple(outs), douts) if many else (outs[0], douts[0])
    return result + (res[2],) if has_aux else result


# ----- Jacobians and Hessians ---------------------------------------------------------------


def _stack_rows(rows: list[Tensor], shape: tuple[int, ...]) -> Tensor:
    """Rows (Tensors, possibly part of a graph or carrying tangents) stacked to ``shape``."""
    from tinygrad_mlp.ops import Stack

    if not rows:
        return Tensor._make(np.zeros(shape), None)
    return Stack.apply(*rows, axis=0).reshape(shape)


def jacrev(fn: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian by reverse mode: one backward pass per output element.

    The result has shape ``output.shape + input.shape`` (a tuple of them for a tuple
    ``argnums``). Cheap when the output is small (a loss: one pass).

    >>> import numpy as np, tinygrad_mlp as tg
    >>> tg.func.jacrev(lambda x: x * x)(tg.Tensor(np.array([1.0, 3.0])))
    Tensor([[2., 0.],
            [0., 6.]], dtype=float64)
    """

    def wrapper(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacrev")
        create = _outer_graph(args)
        xs = list(args)
        for i in nums:
            xs[i] = _lift(args[i], f"jacrev: argument {i}")
        with _reverse_level():
            out = _single_output(fn(*xs), "jacrev")
        rows: list[list[Tensor]] = [[] for _ in nums]
        for k in range(out.size):
            if not out.requires_grad:
                for r, i in zip(rows, nums, strict=True):
                    r.append(_zeros(xs[i]))
                continue
            seed = np.zeros(out.size, dtype=out.dtype)
            seed[k] = 1
            with enable_grad():
                gs = _autograd(out, [xs[i] for i in nums], grad_outputs=seed.reshape(out.shape),
                               retain_graph=True, create_graph=create, allow_unused=True)
            for r, i, g in zip(rows, nums, gs, strict=True):
                r.append(_zeros(xs[i]) if g is None else g)
        jacs = tuple(_stack_rows(r, out.shape + xs[i].shape)
                     for r, i in zip(rows, nums, strict=True))
        return jacs if not isinstance(argnums, (int, np.integer)) else jacs[0]

    wrapper.__name__ = f"jacrev({getattr(fn, '__name__', 'fn')})"
    return wrapper


def jacfwd(fn: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Jacobian by forward mode: one :func:`jvp` per input element.

    The result has shape ``output.shape + input.shape``. Cheap when the input is small.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> tg.func.jacfwd(lambda x: x.sum() * x)(tg.Tensor(np.array([1.0, 2.0])))
    Tensor([[4., 1.],
            [2., 5.]], dtype=float64)
    """

    def wrapper(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacfwd")
        ps = [_as_tensor(a, f"jacfwd: argument {i}") for i, a in enumerate(args)]
        jacs = []
        out_shape: tuple[int, ...] = ()
        for i in nums:
            if ps[i].dtype.kind not in "fc":
                raise TypeError(f"jacfwd: argument {i} has dtype {ps[i].dtype}: not a float")
            cols = []
            for k in range(ps[i].size):
                e = np.zeros(ps[i].size, dtype=ps[i].dtype)
                e[k] = 1
                ts: list[Any] = [None] * len(ps)
                ts[i] = e.reshape(ps[i].shape)
                out, col = jvp(fn, ps, ts)
                out_shape = _single_output(out, "jacfwd").shape
                cols.append(col)
            if not cols:  # an empty input: still learn the output's shape
                out_shape = _single_output(fn(*ps), "jacfwd").shape
            jac = _stack_rows(cols, ps[i].shape + out_shape)  # input dims first, then move
            n_in = ps[i].ndim
            perm = tuple(range(n_in, n_in + len(out_shape))) + tuple(range(n_in))
            jacs.append(jac.transpose(perm) if perm else jac)
        return tuple(jacs) if not isinstance(argnums, (int, np.integer)) else jacs[0]

    wrapper.__name__ = f"jacfwd({getattr(fn, '__name__', 'fn')})"
    return wrapper


def hessian(fn: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The Hessian of a scalar function: ``jacfwd(jacrev(fn))``, forward over reverse.

    The reverse pass runs with ``create_graph=True``, so its backward rules are ops and
    carry the forward pass's tangents: each forward pass gives one column.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> tg.func.hessian(lambda x: (x ** 3).sum())(tg.Tensor(np.array([1.0, 2.0])))
    Tensor([[ 6.,  0.],
            [ 0., 12.]], dtype=float64)
    """
    return jacfwd(jacrev(fn, argnums), argnums)


def hvp(fn: Callable[..., Any], primals: Any, tangents: Any) -> tuple[Tensor, Any]:
    """``fn(*primals)`` and the Hessian-vector product ``H·tangents`` (forward over reverse).

    Like ``torch.autograd.functional.hvp``: returns ``(output, hvp)``, the products in the
    primals' structure (a tuple for a tuple of primals). Costs one forward pass with
    tangents through the gradient computation, never the full Hessian.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> x = tg.Tensor(np.array([1.0, 2.0]))
    >>> out, hv = tg.func.hvp(lambda t: (t ** 3).sum(), (x,), (np.array([1.0, 0.0]),))
    >>> float(out), hv[0]
    (9.0, Tensor([6., 0.], dtype=float64))
    """
    single = not isinstance(primals, (tuple, list))
    ps = (primals,) if single else tuple(primals)
    ts = (tangents,) if single else tuple(tangents)
    gv = grad_and_value(fn, argnums=tuple(range(len(ps))))

    def gradient(*xs: Any) -> tuple:
        gs, value = gv(*xs)
        return gs, value.detach()

    _, hv, value = jvp(gradient, ps, ts, has_aux=True)
    return value, (hv[0] if single else hv)


from tinygrad_mlp.func._vmap import vmap  # noqa: E402  (uses the helpers above)
