"""The least Python a define-by-run autograd engine runs per step: a yardstick for overhead.

``benchmarks/overhead.py`` times it next to the numpy floor and tinygrad_mlp. It drives
tinygrad_mlp's *own* op classes (their ``forward`` and ``backward`` on numpy arrays), so
the numpy work is identical; what it leaves out is everything a library adds around
the rules:

* recording: a context and a node per op call, inputs kept on the node;
* backward: an explicit-stack search from the loss, sorted newest first, each rule
  called once, gradients summed per node in a dict, leaves' ``.grad`` accumulated,
  saved values dropped after use.

Nothing else: no grad mode, no version counters, no hooks, no checks on what a rule
returns, no modules or optimizer objects, no ``_Freed`` records. It is not usable as a
library (no error messages, no create_graph); it is the floor for a Python graph engine
that calls the same rules.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

_ORDER = itertools.count()


class Ctx:
    """What tinygrad_mlp's rules read and write: saved values, which inputs need a
    gradient, and options as attributes."""

    def save_for_backward(self, *values: Any) -> None:
        self.saved_tensors = values


class Node:
    """A value in the graph: its array, the op that made it (None for a leaf), its inputs."""

    __slots__ = ("data", "grad", "ctx", "fn", "parents", "seq", "requires_grad")

    def __init__(self, data: np.ndarray, requires_grad: bool = False) -> None:
        self.data, self.grad, self.ctx, self.fn, self.parents = data, None, None, None, ()
        self.seq, self.requires_grad = next(_ORDER), requires_grad


def apply(fn: Any, *args: Any, **options: Any) -> Node:
    """Run ``fn.forward`` on the inputs' arrays and record the call."""
    ctx = Ctx()
    ctx.needs_input_grad = tuple([type(a) is Node and a.requires_grad for a in args])
    out = Node(fn.forward(ctx, *[a.data if type(a) is Node else a for a in args], **options))
    out.ctx, out.fn, out.parents, out.requires_grad = ctx, fn, args, True
    return out


def backward(root: Node) -> None:
    """d(root)/d(leaf) into every leaf's ``.grad`` (root is a single-element node)."""
    seen = {id(root): root}
    stack = [root]
    while stack:
        t = stack.pop()
        if t.ctx is None:
            continue
        for p, need in zip(t.parents, t.ctx.needs_input_grad, strict=True):
            if need and id(p) not in seen:
                seen[id(p)] = p
                stack.append(p)
    grads = {id(root): np.ones_like(root.data)}
    for t in sorted(seen.values(), key=lambda n: n.seq, reverse=True):
        g = grads.pop(id(t), None)
        if g is None:
            continue
        if t.ctx is None:
            t.grad = g if t.grad is None else t.grad + g
            continue
        in_grads = t.fn.backward(t.ctx, g)
        if type(in_grads) is not tuple:
            in_grads = (in_grads,)
        for p, need, pg in zip(t.parents, t.ctx.needs_input_grad, in_grads, strict=True):
            if need and pg is not None:
                k = id(p)
                grads[k] = pg if k not in grads else grads[k] + pg
        t.ctx.saved_tensors = None
