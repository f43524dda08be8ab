"""``vmap``: run a per-example function on a whole batch at once.

How it vectorises, in three steps:

1. **Trace** the function on example 0 and on example 1 (plain calls, per-example
   shapes), recording every op on a tape (the same tape ``tg.jit`` records).
2. **Check** the two tapes do the same thing: same ops, same options, same constants. A
   constant that differs (a label turned into an index array, a mask computed in numpy)
   must be traceable to a batched input, else the function depends on its data in ways
   ops do not show, and vmap falls back to a loop.
3. **Replay** the tape once on the batch: each op runs on arrays with a leading batch
   dimension, its options shifted by one axis by a small *batching rule* (``sum(axis=0)``
   of an example is ``sum(axis=1)`` of the batch; ``x @ W`` broadcasts already; a fused
   loss computes one loss per example). The replay uses ordinary ops, so it is recorded
   and differentiable, and its first two rows are compared with the traced examples.

Per-example gradients (``vmap(grad(loss), in_dims=(None, 0, 0))``) are the important
case. Tracing through a backward pass would meet numpy constants built from the labels,
so instead the *loss* is replayed with every differentiated parameter broadcast to one
copy per example (``W → W_b[i]``: the batched-parameter formulation). Example i's loss
depends only on ``W_b[i]``, so one backward pass of the summed losses gives every
per-example gradient at once.

Anything without a batching rule, or data-dependent in a way the tape cannot show, runs
example by example with a warning saying why.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_mlp.tensor import _STATE, InPlaceWhileTracing, Tensor
from tinygrad_mlp.tensor import grad as _autograd


class _Unbatchable(Exception):
    """The function cannot be replayed on the batch; the message says why."""


# ----- batching rules: one per op, run on (B, *per-example shape) Tensors -------------------

_ELEMENTWISE = {
    "Add", "Sub", "Mul", "Div", "Pow", "Neg", "Exp", "Log", "Sqrt", "Abs", "Sigmoid", "Tanh",
    "ReLU", "Clip", "Maximum", "Where", "Cast", "_Identity", "Clone", "Sin", "Cos", "Tan",
    "Log2", "Log1p", "Exp2", "Expm1", "Rsqrt", "Reciprocal", "Square", "Rounding", "Erf",
    "Hardtanh", "Hardswish", "ELU", "Softplus", "LogSigmoid",
}
_REDUCTIONS = {"Sum", "Max", "Prod", "Norm"}  # options axis= (None: all) and keepdims=


def _ops():
    from tinygrad_mlp import ops

    return ops


def _lift(t: Tensor, rank: int, n: int) -> Tensor:
    """A batched Tensor of per-example rank ``rank`` viewed with per-example rank ``n``
    (size-1 axes inserted after the batch axis, so it broadcasts as the example did)."""
    if rank >= n:
        return t
    return t.reshape((t.shape[0],) + (1,) * (n - rank) + tuple(t.shape[1:]))


def _axes_plus_one(axis: Any, rank: int) -> tuple[int, ...]:
    """Per-example reduction axes (None: all) as axes of the batched array."""
    if rank == 0:
        return ()
    if axis is None:
        return tuple(range(1, rank + 1))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return tuple(sorted(int(a) % rank + 1 for a in axes))


def _batch_index(index: Any) -> tuple:
    """A per-example index with a leading ``:`` for the batch axis; refuses indices whose
    integer arrays numpy would move to the front (separated by slices)."""
    parts = index if isinstance(index, tuple) else (index,)
    if any(isinstance(p, _BatchedConst) for p in parts):
        raise _Unbatchable("an index computed from a batched input")
    adv = [i for i, p in enumerate(parts)
           if isinstance(p, (list, np.ndarray)) and np.asarray(p).ndim > 0]
    if adv and adv != list(range(adv[0], adv[-1] + 1)):
        raise _Unbatchable("an index whose integer arrays are separated by slices")
    return (slice(None),) + parts


def _apply_batched(cls: type, args: list, batched: list[bool], ranks: list[int], kwargs: dict,
                   out_shape: tuple[int, ...], B: int) -> Tensor:
    """The op ``cls`` on batched arguments: a Tensor of shape ``(B, *out_shape)``."""
    ops = _ops()
    name = cls.__name__
    n = len(out_shape)

    def full(i: int) -> Tensor:  # argument i as a batched Tensor, however it came in
        a = args[i]
        if batched[i]:
            return a
        a = a if isinstance(a, Tensor) else Tensor._make(np.asarray(a), None)
        return ops.Expand.apply(a, shape=(B,) + tuple(a.shape))

    if name in _ELEMENTWISE:
        new = [_lift(a, r, n) if b else a for a, b, r in zip(args, batched, ranks, strict=True)]
        if name == "Where" and isinstance(kwargs.get("cond"), _BatchedConst):
            c = kwargs["cond"]
            kwargs = {**kwargs, "cond": c.value.reshape((B,) + (1,) * (n - c.rank)
                                                        + c.value.shape[1:])}
        return cls.apply(*new, **kwargs)
    (r0,) = ranks[:1] or (0,)
    if name in _REDUCTIONS:
        return cls.apply(args[0], **{**kwargs, "axis": _axes_plus_one(kwargs.get("axis"), r0)})
    if name in ("CumSum", "CumProd") and kwargs.get("axis", 0) is not None and r0:
        return cls.apply(args[0], axis=int(kwargs.get("axis", 0)) % r0 + 1)
    if name in ("Softmax", "LogSoftmax"):
        return cls.apply(args[0], axis=int(kwargs.get("axis", -1)) % max(r0, 1) + 1)
    if name == "Reshape":
        return cls.apply(args[0], shape=(B,) + out_shape)
    if name == "Transpose":
        axes = kwargs.get("axes")
        axes = tuple(reversed(range(r0))) if axes is None else tuple(int(a) % r0 for a in axes)
        return cls.apply(args[0], axes=(0,) + tuple(a + 1 for a in axes))
    if name == "Expand":
        return cls.apply(_lift(args[0], r0, n), shape=(B,) + out_shape)
    if name == "GetItem":
        return cls.apply(args[0], index=_batch_index(kwargs["index"]))
    if name == "ScatterAdd":
        return cls.apply(args[0], shape=(B,) + out_shape, index=_batch_index(kwargs["index"]))
    if name in ("Cat", "Stack"):
        axis = int(kwargs.get("axis", 0)) % max(n, 1) + 1
        return cls.apply(*[full(i) for i in range(len(args))], axis=axis)
    if name == "MatMul":
        return _matmul(args, batched, ranks, out_shape, B)
    if name == "Linear":
        return _linear(args, batched, ranks, out_shape, B, full)
    if name == "SoftmaxCrossEntropy":
        return _cross_entropy(cls, args, batched, kwargs, out_shape, B, full)
    if name == "BinaryCrossEntropy":
        losses = cls.apply(full(0), full(1), reduction="none")
        return _reduce_losses(losses, kwargs.get("reduction", "mean"), ranks[0], out_shape, B)
    if name == "SquaredError":
        r = max(ranks)
        d = ops.Sub.apply(*[_lift(a, rk, r) if b else a
                            for a, b, rk in zip(args, batched, ranks, strict=True)])
        return (d * d).sum(axis=tuple(range(1, r + 1))) * kwargs["scale"]
    raise _Unbatchable(f"no batching rule for {name}")


def _matmul(args: list, batched: list[bool], ranks: list[int], out_shape: tuple[int, ...],
            B: int) -> Tensor:
    """a @ b per example: 1-D operands made matrices, then numpy's batched matmul."""
    ops = _ops()
    (a, b), (ra, rb) = args, list(ranks)
    if ra == 1:
        a, ra = a.reshape(tuple(a.shape[:-1]) + (1, a.shape[-1])), 2
    if rb == 1:
        b, rb = b.reshape(tuple(b.shape) + (1,)), 2
    n = max(ra, rb)
    a = _lift(a, ra, n) if batched[0] else a
    b = _lift(b, rb, n) if batched[1] else b
    return ops.MatMul.apply(a, b).reshape((B,) + out_shape)


def _linear(args: list, batched: list[bool], ranks: list[int], out_shape: tuple[int, ...],
            B: int, full: Callable[[int], Tensor]) -> Tensor:
    """x @ Wᵀ + b per example; a batched weight (one per example) becomes a batched matmul."""
    ops = _ops()
    if not any(batched[1:]):  # shared weights: Linear broadcasts over leading axes already
        return ops.Linear.apply(*args)
    x = full(0)
    n_in = x.shape[-1]
    x3 = x.reshape((B, -1, n_in))
    w = full(1)
    y = x3 @ w.transpose((0, 2, 1))
    if len(args) == 3:
        bias = full(2)
        y = y + bias.reshape((B, 1, bias.shape[-1]))
    return y.reshape((B,) + out_shape)


def _reduce_losses(losses: Tensor, reduction: str, rank: int, out_shape: tuple[int, ...],
                   B: int) -> Tensor:
    """Per-element losses (B, ...) reduced per example as the loss's ``reduction`` says."""
    if reduction == "none":
        return losses.reshape((B,) + out_shape)
    total = losses.sum(axis=tuple(range(1, rank + 1))) if rank else losses
    if reduction == "mean":
        count = int(np.prod(losses.shape[1:]))
        total = total * (1.0 / count) if count else total * float("nan")
    return total


def _cross_entropy(cls: type, args: list, batched: list[bool], kwargs: dict,
                   out_shape: tuple[int, ...], B: int, full: Callable[[int], Tensor]) -> Tensor:
    """Softmax cross-entropy per example: the examples' rows stacked into one (B·N, C) call."""
    x = full(0)
    _, N, C = x.shape
    flat = x.reshape((B * N, C))
    idx = kwargs.get("indices")
    if isinstance(idx, _BatchedConst):
        idx = idx.value.reshape(B * N)
    elif idx is not None:
        idx = np.tile(np.asarray(idx).reshape(-1), B)
    rest = [full(1).reshape((B * N, C))] if len(args) > 1 else []
    losses = cls.apply(flat, *rest, indices=idx, reduction="none").reshape((B, N))
    return _reduce_losses(losses, kwargs.get("reduction", "mean"), 1, out_shape, B)


# ----- tracing and replay ------------------------------------------------------------------------


class _BatchedConst:
    """A numpy constant of the tape that is (a view of) a batched input's values: replayed
    with the batch's values (class labels turned into an index array, say)."""

    def __init__(self, value: np.ndarray, rank: int) -> None:
        self.value, self.rank = value, rank


def _trace(fn: Callable[..., Any], args: Sequence[Any]) -> tuple[list, Any]:
    """Run ``fn(*args)`` recording every op; (tape, output)."""
    from tinygrad_mlp.func import _LEVELS

    prev, _STATE.tape = _STATE.tape, []
    _LEVELS.tracing += 1
    try:
        out = fn(*args)
        return _STATE.tape, out
    except InPlaceWhileTracing:
        raise _Unbatchable("an in-place operation (a replay could not repeat it)") from None
    finally:
        _LEVELS.tracing -= 1
        _STATE.tape = prev


def _symbols(tape: list, inputs: Sequence[Any]) -> dict[int, tuple]:
    """id of every Tensor the tape made or got as an input, and of its array (a Tensor
    made around the same array, like a transform's fresh leaf, is an alias) -> a name
    valid in any trace."""
    names: dict[int, tuple] = {}
    for j, x in enumerate(inputs):
        if isinstance(x, Tensor):
            names[id(x)] = names[id(x.data)] = ("in", j)
    for k, (_, _, _, res) in enumerate(tape):
        for m, r in enumerate(res if isinstance(res, tuple) else (res,)):
            names[id(r)] = ("op", k, m)
            names.setdefault(id(r.data), ("op", k, m))
    return names


def _symbol(x: Any, names: dict[int, tuple]) -> tuple | None:
    if not isinstance(x, Tensor):
        return None
    return names.get(id(x)) or names.get(id(x.data))


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and bool(np.array_equal(a, b, equal_nan=True)))
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, slice) and isinstance(b, slice):
        return (a.start, a.stop, a.step) == (b.start, b.stop, b.step)
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return a is b


class _Replay:
    """Runs a traced tape on the batch (see the module docstring)."""

    def __init__(self, B: int, traced_inputs: Sequence[Any], batched_inputs: Sequence[Any],
                 is_batched: Sequence[bool]) -> None:
        self.B = B
        self.value: dict[int, tuple[Tensor, bool, int]] = {}  # id(traced) -> (t, batched, rank)
        self.arrays: dict[int, tuple[Tensor, int]] = {}  # id(traced .data) -> batched source
        for x, bx, b in zip(traced_inputs, batched_inputs, is_batched, strict=True):
            if isinstance(x, Tensor):
                self._bind(x, bx, b)

    def _bind(self, traced: Tensor, t: Tensor, batched: bool) -> None:
        self.value[id(traced)] = (t, batched, traced.ndim)
        if batched:
            self.arrays[id(traced.data)] = (t, traced.ndim)

    def _const(self, v: Any) -> Any:
        """A tape constant: the batch's values when it is (a view of) a batched value."""
        if not isinstance(v, np.ndarray):
            if isinstance(v, tuple):
                return tuple(self._const(p) for p in v)
            return v
        src = self.arrays.get(id(v))
        if src is None and v.base is not None:
            src = self.arrays.get(id(v.base))
            if src is not None and np.asarray(src[0].data[0]).size != v.size:
                raise _Unbatchable("a constant made from part of a batched input")
        if src is None:
            return v
        return _BatchedConst(src[0].data.reshape((self.B,) + v.shape), v.ndim)

    def run(self, tape: list) -> None:
        for cls, args, kwargs, res in tape:
            if isinstance(res, tuple):
                raise _Unbatchable(f"{cls.__name__} has several outputs")
            vals, batched, ranks = [], [], []
            for a in args:
                if isinstance(a, Tensor) and id(a) in self.value:
                    t, b, r = self.value[id(a)]
                elif isinstance(a, Tensor) and id(a.data) in self.arrays:  # an alias
                    t, b, r = self.arrays[id(a.data)][0], True, a.ndim
                else:
                    t, b, r = (a, False, np.ndim(a.data if isinstance(a, Tensor) else a))
                    if isinstance(self._const(getattr(a, "data", a)), _BatchedConst):
                        raise _Unbatchable(f"{cls.__name__} reads a batched value as a constant")
                vals.append(t)
                batched.append(b)
                ranks.append(r)
            kw = {k: self._const(v) for k, v in kwargs.items()}
            has_const = any(isinstance(v, _BatchedConst) for v in kw.values())
            if not any(batched) and not has_const:
                self._bind(res, res, False)  # the same for every example: reuse the trace's
                continue
            out = _apply_batched(cls, vals, batched, ranks, kw, tuple(res.shape), self.B)
            if tuple(out.shape) != (self.B,) + tuple(res.shape):
                raise _Unbatchable(f"the batching rule of {cls.__name__} gave shape "
                                   f"{tuple(out.shape)}, expected {(self.B,) + res.shape}")
            self._bind(res, out, True)

    def output(self, traced: Any) -> Tensor:
        """The batched value of a traced output (broadcast when it does not vary)."""
        if not isinstance(traced, Tensor):
            raise _Unbatchable(f"fn returned {type(traced).__name__}, not a Tensor")
        t, batched, _ = self.value.get(id(traced), (traced, False, traced.ndim))
        if batched:
            return t
        return _ops().Expand.apply(t, shape=(self.B,) + tuple(t.shape))


def _check_tapes(t0: list, t1: list, n0: dict, n1: dict, replay: _Replay) -> None:
    """The two examples' tapes must do the same ops with the same constants."""
    if len(t0) != len(t1):
        raise _Unbatchable("fn runs different ops for different examples")
    for (c0, a0, k0, _), (c1, a1, k1, _) in zip(t0, t1, strict=True):
        if c0 is not c1 or len(a0) != len(a1) or k0.keys() != k1.keys():
            raise _Unbatchable("fn runs different ops for different examples")
        for x, y in zip(a0, a1, strict=True):
            if _symbol(x, n0) is not None:
                if _symbol(y, n1) != _symbol(x, n0):
                    raise _Unbatchable("fn wires its ops differently for different examples")
            elif not _same(getattr(x, "data", x), getattr(y, "data", y)):
                raise _Unbatchable(
                    f"{c0.__name__} reads a constant that differs between examples "
                    "(computed from the data outside tinygrad ops)")
        for k in k0:
            v0, v1 = k0[k], k1[k]
            if isinstance(replay._const(v0), _BatchedConst):
                continue
            if not _same(v0, v1):
                raise _Unbatchable(f"the option {k}= of {c0.__name__} differs between examples")


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    tol = 1e-4 if np.result_type(a, b) != np.float64 else 1e-9
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=tol, atol=tol, equal_nan=True))


# ----- vmap ---------------------------------------------------------------------------------


def _as_batch_args(args: Sequence[Any], dims: Sequence[int | None]) -> tuple[list, int]:
    """Batched arguments moved to axis 0 (by ops, so gradients flow); and the batch size."""
    moved, size = [], None
    for i, (a, d) in enumerate(zip(args, dims, strict=True)):
        if d is None:
            moved.append(a)
            continue
        t = a if isinstance(a, Tensor) else Tensor(np.asarray(a))
        if t.ndim == 0:
            raise ValueError(f"vmap: argument {i} is 0-d, it has no axis {d} to map over")
        if not -t.ndim <= d < t.ndim:
            raise ValueError(f"vmap: in_dims {d} is out of range for argument {i} of shape "
                             f"{t.shape}")
        d = d % t.ndim
        if d:
            t = t.transpose((d,) + tuple(k for k in range(t.ndim) if k != d))
        if size is None:
            size = t.shape[0]
        elif t.shape[0] != size:
            raise ValueError(f"vmap: argument {i} has batch size {t.shape[0]} along its mapped "
                             f"axis, an earlier argument has {size}")
        moved.append(t)
    if size is None:
        raise ValueError("vmap: at least one argument must be mapped (in_dims all None)")
    return moved, size


def _example(moved: Sequence[Any], dims: Sequence[int | None], i: int) -> list:
    """Example ``i`` as fresh arrays (no graph): what the function is traced on."""
    return [a if d is None else Tensor._make(np.array(a.data[i]), None)
            for a, d in zip(moved, dims, strict=True)]


def _leaves(values: list, nums: Sequence[int]) -> list:
    out = list(values)
    for i in nums:
        t = Tensor._make(out[i].data, None)
        t.requires_grad = True
        out[i] = t
    return out


def _vectorised(fn: Callable[..., Any], moved: list, dims: list, B: int) -> Any:
    """fn on the whole batch by trace and replay; raises _Unbatchable when it cannot."""
    if B < 2:
        raise _Unbatchable("a batch of one")
    spec = getattr(fn, "_tg_grad", None)
    if spec is not None:
        return _vectorised_grad(spec, moved, dims, B)
    ex0, ex1 = _example(moved, dims, 0), _example(moved, dims, 1)
    tape0, out0 = _trace(fn, ex0)
    tape1, out1 = _trace(fn, ex1)
    many = isinstance(out0, tuple)
    outs0 = list(out0) if many else [out0]
    outs1 = list(out1) if many else [out1]
    replay = _Replay(B, ex0, moved, [d is not None for d in dims])
    _check_tapes(tape0, tape1, _symbols(tape0, ex0), _symbols(tape1, ex1), replay)
    replay.run(tape0)
    results = [replay.output(o) for o in outs0]
    for r, o0, o1 in zip(results, outs0, outs1, strict=True):
        if not (_close(r.data[0], o0.data) and _close(r.data[1], o1.data)):
            raise _Unbatchable("the batched result differs from the per-example result")
    return tuple(results) if many else results[0]


def _vectorised_grad(spec: tuple, moved: list, dims: list, B: int) -> Any:
    """Per-example gradients: the loss replayed with one parameter copy per example."""
    from tinygrad_mlp.func import _argnums, _outer_graph

    f, argnums, has_aux = spec
    nums = _argnums(argnums, len(moved), "grad")
    ex0 = _leaves(_example(moved, dims, 0), nums)
    ex1 = _leaves(_example(moved, dims, 1), nums)
    tape0, res0 = _trace(f, ex0)
    tape1, res1 = _trace(f, ex1)
    loss0, aux0 = res0 if has_aux else (res0, None)
    loss1 = res1[0] if has_aux else res1
    if not isinstance(loss0, Tensor) or loss0.size != 1:
        raise _Unbatchable("the loss is not a single-element Tensor")
    batch_args = list(moved)
    for i in nums:  # the batched-parameter formulation: W -> one copy per example
        a = moved[i]
        if dims[i] is None:
            a = _ops().Expand.apply(a if a.requires_grad else _leaves([a], [0])[0],
                                    shape=(B,) + tuple(a.shape))
        elif not a.requires_grad:
            a = _leaves([a], [0])[0]
        batch_args[i] = a
    replay = _Replay(B, ex0, batch_args, [d is not None or i in nums
                                          for i, d in enumerate(dims)])
    _check_tapes(tape0, tape1, _symbols(tape0, ex0), _symbols(tape1, ex1), replay)
    replay.run(tape0)
    losses = replay.output(loss0)
    if not (_close(losses.data[0], loss0.data) and _close(losses.data[1], loss1.data)):
        raise _Unbatchable("the batched loss differs from the per-example loss")
    grads = _autograd(losses.sum(), [batch_args[i] for i in nums],
                      create_graph=_outer_graph(moved), allow_unused=True)
    grads = tuple(Tensor._make(np.zeros((B,) + batch_args[i].shape[1:],
                                        batch_args[i].dtype), None) if g is None else g
                  for i, g in zip(nums, grads, strict=True))
    g_out = grads if not isinstance(argnums, (int, np.integer)) else grads[0]
    if not has_aux:
        return g_out
    aux = [replay.output(a) for a in (aux0 if isinstance(aux0, tuple) else (aux0,))]
    return g_out, (tuple(aux) if isinstance(aux0, tuple) else aux[0])


def _loop(fn: Callable[..., Any], moved: list, dims: list, B: int) -> Any:
    """fn example by example, results stacked (by ops, so gradients flow)."""
    from tinygrad_mlp.ops import Stack

    results = []
    for i in range(B):
        results.append(fn(*[a if d is None else a[i] for a, d in zip(moved, dims, strict=True)]))
    return _stack_tree(results, Stack)


def _stack_tree(results: list, stack: type) -> Any:
    first = results[0]
    if isinstance(first, (tuple, list)):
        return tuple(_stack_tree([r[k] for r in results], stack) for k in range(len(first)))
    return stack.apply(*[r if isinstance(r, Tensor) else Tensor(np.asarray(r))
                         for r in results], axis=0)


def _move_out(result: Any, out_dims: Any) -> Any:
    if isinstance(result, tuple):
        dims = out_dims if isinstance(out_dims, (tuple, list)) else (out_dims,) * len(result)
        return tuple(_move_out(r, d) for r, d in zip(result, dims, strict=True))
    if out_dims in (0, None):
        return result
    d = int(out_dims) % result.ndim
    perm = list(range(1, result.ndim))
    perm.insert(d, 0)
    return result.transpose(tuple(perm))


def vmap(fn: Callable[..., Any], in_dims: int | None | Sequence[int | None] = 0,
         out_dims: int | Sequence[int] = 0) -> Callable[..., Any]:
    """Map ``fn`` over a batch axis of its arguments, vectorised (``torch.func.vmap``).

    Parameters
    ----------
    fn : callable
        A function of per-example Tensors (or arrays), returning a Tensor or a tuple.
    in_dims : int, None, or a tuple of them (one per argument)
        The batch axis of each argument; None: shared by all examples (not mapped).
    out_dims : int or tuple
        Where the batch axis goes in each output.

    The batch runs in one pass of batched ops (see the module docstring); per-example
    gradients (``vmap(grad(loss), in_dims=(None, 0, 0))``) use one backward pass. A
    function that cannot be batched runs example by example, with a warning saying why.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> w = tg.Tensor(np.array([1.0, 2.0]))
    >>> per_example = tg.func.vmap(tg.func.grad(lambda w, x: ((w * x).sum()) ** 2),
    ...                            in_dims=(None, 0))
    >>> per_example(w, np.array([[1.0, 0.0], [0.0, 1.0]]))  # 2(w·x)x for each row x
    Tensor([[2., 0.],
            [0., 4.]], dtype=float64)
    """

    def wrapper(*args: Any) -> Any:
        dims = list(in_dims) if isinstance(in_dims, (tuple, list)) else [in_dims] * len(args)
        if len(dims) != len(args):
            raise ValueError(f"vmap: in_dims has {len(dims)} entries for {len(args)} arguments")
        moved, B = _as_batch_args(args, dims)
        try:
            result = _vectorised(fn, moved, dims, B)
        except _Unbatchable as why:
            if B >= 2:
                warnings.warn(
                    f"vmap: {getattr(fn, '__name__', 'fn')} runs example by example ({why})",
                    RuntimeWarning, stacklevel=2)
            result = _loop(fn, moved, dims, B)
        return _move_out(result, out_dims)

    wrapper.__name__ = f"vmap({getattr(fn, '__name__', 'fn')})"
    return wrapper
