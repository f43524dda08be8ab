"""Record one forward pass as a tape, then replay forward and backward from the tape.

At batch 10 a training step of a small MLP costs more in Python bookkeeping (building
Tensors and Contexts, calling modules, walking the graph) than in arithmetic. ``jit``
traces the loss function once, keeps the list of ops it ran (the tape), and on later
calls runs each op's ``forward`` and ``backward`` straight from that list: the same
numpy work in the same order, without rebuilding the graph.

Replaying a tape is only right when the function does the same ops every call and all
that varies between calls flows in through its Tensor arguments. ``jit`` checks what it
can: an array or Tensor that appears in the tape but was made during tracing (a
dropout mask, targets built from the inputs with numpy, ``np.arange`` indices) is
refused with an explanation, since replaying it would freeze it. Plain Python numbers
computed from the inputs' values cannot be seen and would be frozen: keep such
arithmetic in tinygrad ops. The tape holds the parameter Tensors it saw: new values
(optimizer steps, ``load_state_dict``, assigning ``p.data``) are picked up, but after
swapping in new layers or parameter objects make a new ``jit``.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter
from typing import Any

import numpy as np

from tinygrad_mlp import tensor as _tensor
from tinygrad_mlp.function import Context, _promote_if_mixed
from tinygrad_mlp.tensor import _STATE, Tensor

_CONST, _SLOT = 0, 1  # an option of an op: a fixed value, or an input array (slots[i])


class JitError(ValueError):
    """The function cannot be replayed from a tape; the message says why."""


class _Tape:
    """One traced call: its ops with each argument resolved to a slot or a constant, and
    the backward plan of the graph it built, from the one engine (``tensor._plan``).

    Slots number every value a replay handles: first the plan's tensors, in the plan's
    order (the replay's plan is the same steps keyed by these numbers, so the execution
    keeps gradients by slot), then inputs, leaves and outputs outside it. Constants sit
    in the template from the start.
    """

    def __init__(self, entries: list, inputs: list[Tensor], loss: Tensor) -> None:
        plan = _tensor._plan([loss]) if loss.requires_grad else _tensor._Plan([])
        plan_slot = {}
        for _seq, key, t, ctx, _ in plan.steps:
            if t._hooks or (ctx is not None and t._retains_grad):
                raise JitError("a tensor with hooks or retain_grad(): jit does not run them")
            plan_slot[key] = len(plan_slot)
        template: list[Any] = [None] * len(plan_slot)
        # the replay's plan: the same steps keyed by slot; only leaves (parameters) keep
        # their tensor
        self.plan = _tensor._Plan([
            (seq, plan_slot[key], t if ctx is None else None, ctx,
             tuple([(k, plan_slot[j], *rest) for k, j, *rest in targets]))
            for seq, key, t, ctx, targets in plan.steps
        ])

        def slot_for(t: Any) -> int:
            if id(t) in plan_slot:
                return plan_slot[id(t)]
            template.append(None if isinstance(t, Tensor) else t)
            return len(template) - 1

        tensor_slot: dict[int, int] = {id(t): slot_for(t) for t in inputs}
        self.input_slots = [tensor_slot[id(t)] for t in inputs]
        slot_of = {id(t.data): tensor_slot[id(t)] for t in inputs}
        self.leaves: list[tuple[int, Tensor]] = []  # from outside (parameters): read each call
        start = min(t._seq for t in inputs) if inputs else loss._seq

        def arg(a: Any, where: str) -> int:
            if isinstance(a, Tensor):
                if id(a) in tensor_slot:
                    return tensor_slot[id(a)]
                if a._seq > start or a._ctx is not None:
                    raise JitError(f"{where}: a Tensor made during tracing outside tinygrad "
                                   "ops; pass it as an argument instead")
                if a._hooks:
                    raise JitError(f"{where}: a tensor with hooks; jit does not run hooks")
                tensor_slot[id(a)] = slot_for(a)
                self.leaves.append((tensor_slot[id(a)], a))
                return tensor_slot[id(a)]
            kind, value = _kwarg(a, slot_of, where)
            return value if kind == _SLOT else slot_for(value)

        self.ops: list[tuple] = []  # (forward, ctx, get args, one arg?, kwargs, output slot,
        #                             None or (kwargs from slots, promote))
        for cls, args, kwargs, out in entries:
            where = f"{cls.__name__} (op {len(self.ops) + 1} of the trace)"
            if type(out) is tuple:
                raise JitError(f"{where}: an op with several outputs; jit replays single-output "
                               "ops only")
            specs = tuple(arg(a, where) for a in args)
            kw = {k: _kwarg(v, slot_of, where) for k, v in kwargs.items()}
            promote = cls.promote_int and any(
                isinstance(a, Tensor) and a.dtype.kind in "biu" for a in args
            )
            out_slot = tensor_slot[id(out)] = slot_for(out)
            ctx = out._ctx  # the plan's steps hold it: every replay's forward refills it
            if ctx is None:
                ctx = Context(cls)
                ctx.needs_input_grad = (False,) * len(args)
            fixed = {k: v for k, (kind, v) in kw.items() if kind == _CONST}
            from_slots = tuple((k, v) for k, (kind, v) in kw.items() if kind == _SLOT)
            get = itemgetter(*specs) if specs else (lambda slots: ())
            self.ops.append((cls.forward, ctx, get, len(specs) == 1, fixed, out_slot,
                             (from_slots, promote) if from_slots or promote else None))
        if id(loss) not in tensor_slot or tensor_slot[id(loss)] in self.input_slots:
            raise JitError("the function must return a Tensor computed by tinygrad ops")
        self.loss_slot = tensor_slot[id(loss)]
        self.saving = [ctx for _, _, _, ctx, _ in plan.steps if ctx is not None]
        self.seeds = [(self.loss_slot, np.ones_like(loss.data))] if loss.requires_grad else []
        self.template = template

    def run(self, arrays: list[np.ndarray]) -> np.ndarray:
        """Forward and backward for new input arrays; gradients go into the leaves' .grad."""
        slots = self.template.copy()
        for i, a in zip(self.input_slots, arrays, strict=True):
            slots[i] = a
        for i, leaf in self.leaves:
            slots[i] = leaf.data
        for forward, ctx, get, one, kwargs, out, extra in self.ops:
            args = (get(slots),) if one else get(slots)
            if extra is not None:  # options read from the inputs, or integer inputs
                from_slots, promote = extra
                kwargs = {**kwargs, **{k: slots[i] for k, i in from_slots}}
                if promote is True:  # as Function.apply: integer inputs to math ops -> float32
                    args = [a.astype(np.float32) if isinstance(a, np.ndarray) and a.dtype.kind
                            in "biu" else a for a in args]
                elif promote:  # "mixed": only next to a float
                    args = _promote_if_mixed(list(args))
            y = forward(ctx, *args, **kwargs)
            slots[out] = y if type(y) is np.ndarray else np.asarray(y)
        if self.seeds:  # the one engine's execution, on the cached plan
            _tensor._execute(self.plan, self.seeds, retain_graph=True, create_graph=False)
            for ctx in self.saving:  # release what the rules read (the next call refills it)
                ctx.saved = None
        return slots[self.loss_slot]


def _kwarg(value: Any, slot_of: dict[int, int], where: str) -> tuple[int, Any]:
    """(_SLOT, i) for an array that is input i's data, else (_CONST, value)."""
    if isinstance(value, np.ndarray):
        if id(value) in slot_of:
            return _SLOT, slot_of[id(value)]
        raise JitError(f"{where}: an array made during tracing (e.g. a dropout mask, targets "
                       "or indices built with numpy); it would be frozen. Pass it as an "
                       "argument, or compute it with tinygrad ops")
    if isinstance(value, (tuple, list)) and any(isinstance(v, np.ndarray) for v in value):
        raise JitError(f"{where}: an index or option holding arrays made during tracing; "
                       "it would be frozen")
    return _CONST, value


class jit:  # noqa: N801  (used like a function: tg.jit(loss_fn))
    """Compile ``loss_fn(*tensors) -> scalar Tensor`` into a step that returns the loss
    and accumulates gradients into every parameter's ``.grad`` (as ``loss.backward()``).

    The first call for each combination of input shapes and dtypes traces ``loss_fn``
    normally; later calls replay the recorded tape. See the module docstring for what
    may vary between calls.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn
    >>> import tinygrad_mlp.nn.functional as F
    >>> model = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 2))
    >>> step = tg.jit(lambda x, y: F.cross_entropy(model(x), y))
    >>> loss = step(np.ones((5, 4), np.float32), np.array([0, 1, 0, 1, 1]))
    >>> model[0].weight.grad.shape
    (3, 4)
    """

    def __init__(self, loss_fn: Callable[..., Tensor]) -> None:
        self.loss_fn = loss_fn
        self.tapes: dict[tuple, _Tape] = {}

    def __call__(self, *inputs: Any) -> Tensor:
        arrays = []
        for i, x in enumerate(inputs):
            if isinstance(x, Tensor):
                if x.requires_grad:
                    raise JitError(f"input {i} requires grad: jit differentiates with respect "
                                   "to the parameters the function uses, not its inputs")
                x = x.data
            arrays.append(x if type(x) is np.ndarray else np.asarray(x))
        if _STATE.special or _STATE.tracer is not None or not _STATE.grad_enabled:
            if _STATE.forward_ad:
                raise JitError("a jitted step inside tg.func.jvp would drop the tangents: call "
                               "the loss function itself there")
            return self._trace(arrays, keep=False)  # debugging tools see the real graph
        key = tuple([(a.shape, a.dtype) for a in arrays])
        tape = self.tapes.get(key)
        if tape is None:
            return self._trace(arrays, keep=True)
        return Tensor._make(tape.run(arrays), None)

    def _trace(self, arrays: list[np.ndarray], keep: bool) -> Tensor:
        """Run ``loss_fn`` eagerly (recording the tape when ``keep``), then backward."""
        inputs = [Tensor._make(a, None) for a in arrays]
        entries: list = []
        prev, _STATE.tape = _STATE.tape, (entries if keep else None)
        try:
            loss = self.loss_fn(*inputs)
        finally:
            _STATE.tape = prev
        if not isinstance(loss, Tensor) or loss.size != 1:
            raise JitError("the function must return a single-element Tensor (the loss)")
        if keep:
            tape = _Tape(entries, inputs, loss)
        if loss.requires_grad:
            loss.backward()
        if keep:
            self.tapes[tuple([(a.shape, a.dtype) for a in arrays])] = tape
        return loss.detach()
