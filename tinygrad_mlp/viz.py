"""Study tools: look at the graph an expression recorded, and watch backward walk it.

Three ways to see inside the engine, for people learning how backpropagation works:

* :func:`print_graph` (and :func:`format_graph`): the graph behind a tensor as a text
  tree, output at the top and the leaves it came from below. A subgraph used twice is
  drawn once; later uses point back to it by its label.
* :func:`to_dot` / :func:`render`: the same graph as Graphviz source or an SVG/PNG
  picture. Tensors are boxes, ops are ellipses, leaves that require grad are blue.
* :class:`trace` (also ``tg.trace`` and ``t.backward(trace=True)``): one line per node
  as the backward pass visits it, outputs first: the op, its shapes, the norm of the
  gradient that arrived, the gradient it sent to each input, and the hooks fired.

Tensors have no names, so every tensor in a graph gets a label: the name given with
``params=`` (``model.named_parameters()``) or :func:`name`, else ``t0``, ``t1``, ... in
the order :func:`print_graph` first shows them (the same labels in all three tools).

Every walk here is iterative, so graphs thousands of ops deep print fine; ``max_nodes``
and ``max_depth`` keep large graphs legible ("… N more nodes" marks what was left out).

>>> import numpy as np, tinygrad_mlp as tg
>>> W = tg.viz.name(tg.Tensor(np.ones((2, 3)), requires_grad=True), "W")
>>> loss = tg.sigmoid(tg.Tensor(np.ones((1, 3))) @ W.T).sum()
>>> tg.viz.print_graph(loss)
graph of t0: 4 ops, 2 leaves (1 requires grad)
t0 = Sum                    ()      float64
└── t1 = Sigmoid            (1, 2)  float64
    └── t2 = MatMul         (1, 2)  float64
        ├── t3              (1, 3)  float64  leaf
        └── t4 = Transpose  (3, 2)  float64
            └── W           (2, 3)  float64  leaf, requires grad
"""

from __future__ import annotations

import os
import shutil
import subprocess
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_mlp.tensor import _STATE, Tensor, _unbroadcast, _value

__all__ = [
    "GraphvizNotFoundError",
    "TraceRecord",
    "format_graph",
    "graphviz_available",
    "name",
    "print_graph",
    "render",
    "to_dot",
    "trace",
]

# ----- names and labels ----------------------------------------------------------------------

_NAMES: dict[int, tuple[weakref.ref, str]] = {}


def name(t: Tensor, label: str) -> Tensor:
    """Give ``t`` a name that :func:`print_graph`, :func:`to_dot` and :class:`trace` show.

    The name lives as long as the tensor (nothing is stored on the tensor itself).
    Returns ``t``, so it can wrap a constructor.

    Parameters
    ----------
    t : Tensor
    label : str

    >>> import tinygrad_mlp as tg
    >>> x = tg.viz.name(tg.Tensor([1.0, 2.0]), "x")
    >>> tg.viz.print_graph(x)
    graph of x: 0 ops, 1 leaf (0 require grad)
    x  (2,)  float32  leaf
    """
    if not isinstance(t, Tensor):
        raise TypeError(f"name() expects a Tensor, got {type(t).__name__}")
    key = id(t)
    ref = weakref.ref(t, lambda _r, k=key: _NAMES.pop(k, None))
    _NAMES[key] = (ref, str(label))
    return t


def _registered_name(t: Tensor) -> str | None:
    entry = _NAMES.get(id(t))
    if entry is not None and entry[0]() is t:
        return entry[1]
    return None


Params = Mapping[str, Tensor] | Iterable[tuple[str, Tensor]] | Any


def _param_names(params: Params | None) -> dict[int, str]:
    """``{id(tensor): name}`` from a Module, a mapping name->Tensor, or (name, Tensor) pairs."""
    if params is None:
        return {}
    if hasattr(params, "named_parameters"):
        params = params.named_parameters()
    items = params.items() if isinstance(params, Mapping) else params
    out: dict[int, str] = {}
    for pair in items:
        try:
            key, t = pair
        except (TypeError, ValueError):
            raise TypeError(
                "params must be a Module, a mapping {name: Tensor} or (name, Tensor) pairs "
                "such as model.named_parameters()"
            ) from None
        if isinstance(t, Tensor):
            out.setdefault(id(t), str(key))
    return out


def _inputs(t: Tensor) -> tuple:
    """What the op that made ``t`` was applied to (Tensors and constants); () for leaves."""
    return t._ctx.parents if t._ctx is not None else ()


def _preorder(root: Tensor) -> Iterator[Tensor]:
    """Every tensor of the graph once, depth first, inputs in argument order (iterative)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        yield t
        for p in reversed(_inputs(t)):
            if isinstance(p, Tensor) and id(p) not in seen:
                stack.append(p)


class _Labels:
    """Stable labels: given names first, else ``t0, t1, ...`` in first-seen order."""

    def __init__(self, params: Params | None = None) -> None:
        self.names = _param_names(params)
        self.labels: dict[int, str] = {}
        self.keep: list[Tensor] = []  # holds the tensors so their ids stay unique
        self.count = 0

    def add_graph(self, root: Tensor) -> None:
        for t in _preorder(root):
            if id(t) not in self.labels:
                label = self.names.get(id(t)) or _registered_name(t)
                if label is None:
                    label = f"t{self.count}"
                    self.count += 1
                self.labels[id(t)] = label
                self.keep.append(t)

    def __contains__(self, t: Tensor) -> bool:
        return id(t) in self.labels

    def __getitem__(self, t: Tensor) -> str:
        if id(t) not in self.labels:
            self.add_graph(t)
        return self.labels[id(t)]


# ----- small formatting helpers --------------------------------------------------------------


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(shape))


def _norm(x: Any) -> float:
    """Euclidean (Frobenius) norm of a gradient, computed in float64."""
    arr = np.asarray(_value(x))
    arr = arr.astype(np.complex128 if arr.dtype.kind == "c" else np.float64)
    return float(np.linalg.norm(arr.reshape(-1)))


def _num(v: float) -> str:
    return f"{v:.4g}"


def _summary(x: Any, max_items: int = 6) -> str:
    """The values of a small array, or its statistics."""
    arr = np.asarray(_value(x))
    if arr.size == 0:
        return "[]"
    if arr.size <= max_items:
        flat = arr.reshape(-1)
        body = ", ".join(_num(v) if arr.dtype.kind in "fc" else str(v) for v in flat.tolist())
        return body if arr.ndim == 0 else f"[{body}]"
    if arr.dtype.kind not in "biuf":
        return f"{arr.size} values"
    a = arr.astype(np.float64)
    return f"mean {_num(a.mean())}, std {_num(a.std())}, min {_num(a.min())}, max {_num(a.max())}"


def _grad_summary(g: Any) -> str:
    """A gradient: its values when small, else its norm and largest entry."""
    arr = np.asarray(_value(g))
    if arr.size <= 6:
        return _summary(arr)
    return f"norm {_num(_norm(arr))}, max |g| {_num(float(np.abs(arr).max()))}"


def _const_text(c: Any) -> str:
    """How a non-Tensor op input (a scalar, an array, an option) is shown."""
    if isinstance(c, (bool, int, float, np.number)):
        return f"const {_num(float(c)) if isinstance(c, (float, np.floating)) else c}"
    if isinstance(c, np.ndarray):
        if c.size <= 4:
            return f"const {_summary(c)}"
        return f"const array {_shape(c.shape)} {c.dtype}"
    text = repr(c)
    return f"const {text[:40]}{'…' if len(text) > 40 else ''}"


def _count_hidden(starts: Iterable[Any], shown: set[int], counted: set[int]) -> int:
    """Tensors reachable from ``starts`` that are neither shown nor counted yet (marks them)."""
    n = 0
    stack = [s for s in starts if isinstance(s, Tensor)]
    while stack:
        t = stack.pop()
        if id(t) in shown or id(t) in counted:
            continue
        counted.add(id(t))
        n += 1
        stack.extend(p for p in _inputs(t) if isinstance(p, Tensor))
    return n


def _graph_stats(root: Tensor) -> tuple[int, int, int]:
    """(ops, leaves, leaves that require grad) in the graph behind ``root``."""
    ops = leaves = req = 0
    for t in _preorder(root):
        if t._ctx is not None:
            ops += 1
        else:
            leaves += 1
            req += bool(t.requires_grad)
    return ops, leaves, req


# ----- the text tree -------------------------------------------------------------------------


def format_graph(
    t: Tensor,
    params: Params | None = None,
    max_depth: int | None = None,
    max_nodes: int = 200,
    show_values: bool = False,
    show_grads: bool = False,
) -> str:
    """The graph behind ``t`` as a text tree (what :func:`print_graph` prints).

    Parameters
    ----------
    t : Tensor
        The output whose history is drawn (usually a loss).
    params : Module, mapping or iterable of (name, Tensor), optional
        Names for tensors, e.g. ``model.named_parameters()``; others are ``t0, t1, ...``.
    max_depth : int, optional
        Do not draw inputs more than this many ops below ``t``.
    max_nodes : int, default 200
        Stop after drawing this many tensors.
    show_values, show_grads : bool, default False
        Add each tensor's values (or their statistics) and its ``.grad``.

    Returns
    -------
    str
        One line per tensor: label (``t3 = Sigmoid`` for an op's result), shape, dtype,
        and for leaves whether they require grad. Constants that ops were applied to are
        shown as ``const``. A header counts the ops and leaves.

    >>> import tinygrad_mlp as tg
    >>> x = tg.Tensor([2.0], requires_grad=True)
    >>> print(tg.viz.format_graph((x * x + 1).sum(), params={"x": x}))
    graph of t0: 3 ops, 1 leaf (1 requires grad)
    t0 = Sum          ()    float32
    └── t1 = Add      (1,)  float32
        ├── t2 = Mul  (1,)  float32
        │   ├── x     (1,)  float32  leaf, requires grad
        │   └── x (see above)
        └── const 1
    """
    if not isinstance(t, Tensor):
        raise TypeError(f"expected a Tensor, got {type(t).__name__}")
    if max_depth is not None and max_depth < 0:
        raise ValueError(f"max_depth must be >= 0, got {max_depth}")
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be >= 1, got {max_nodes}")
    labels = _Labels(params)
    labels.add_graph(t)
    ops, leaves, req = _graph_stats(t)
    total = ops + leaves
    header = (
        f"graph of {labels[t]}: {ops} op{'s' * (ops != 1)}, {leaves} lea"
        f"{'ves' if leaves != 1 else 'f'} ({req} require{'s' * (req == 1)} grad)"
    )
    rows: list[list[str]] = []  # [left, shape, dtype, note] or [text] (free-form line)
    cut: list[tuple[int, Tensor]] = []  # (row index of a "more" marker, tensor cut below)
    shown: set[int] = set()
    stack: list[tuple[Any, str, str, int]] = [(t, "", "", 0)]
    while stack:
        item, head, body, depth = stack.pop()
        if not isinstance(item, Tensor):
            rows.append([head + _const_text(item)])
            continue
        if id(item) in shown:
            rows.append([f"{head}{labels[item]} (see above)"])
            continue
        if len(shown) >= max_nodes:
            stack.append((item, head, body, depth))
            break
        shown.add(id(item))
        left = head + labels[item] + (f" = {item._ctx.fn.__name__}" if item._ctx else "")
        note = ("leaf, requires grad" if item.requires_grad else "leaf") if not item._ctx else ""
        extra = []
        if show_values:
            extra.append(f"value {_summary(item)}")
        if show_grads and item.grad is not None:
            extra.append(f"grad {_grad_summary(item.grad)}")
        if extra:
            note = "; ".join(([note] if note else []) + extra)
        rows.append([left, _shape(item.shape), str(item.dtype), note])
        children = _inputs(item)
        if not children:
            continue
        if max_depth is not None and depth >= max_depth:
            cut.append((len(rows), item))
            rows.append([body + "└── "])
            continue
        for i in range(len(children) - 1, -1, -1):
            last = i == len(children) - 1
            stack.append((children[i], body + ("└── " if last else "├── "),
                          body + ("    " if last else "│   "), depth + 1))
    counted: set[int] = set()
    for row, item in cut:
        n = _count_hidden(_inputs(item), shown, counted)
        rows[row][0] += f"… {n} more node{'s' * (n != 1)} (max_depth={max_depth})" if n else (
            "… (inputs shown elsewhere)")
    n = total - len(shown) - len(counted)
    if stack and n > 0:
        rows.append([f"… {n} more node{'s' * (n != 1)} not shown (max_nodes={max_nodes})"])
    width = min(max((len(r[0]) for r in rows if len(r) > 1), default=0), 60)
    shape_w = max((len(r[1]) for r in rows if len(r) > 1), default=0)
    dtype_w = max((len(r[2]) for r in rows if len(r) > 1), default=0)
    lines = [header]
    for r in rows:
        if len(r) == 1:
            lines.append(r[0])
        else:
            line = f"{r[0]:<{width}}  {r[1]:<{shape_w}}  {r[2]:<{dtype_w}}  {r[3]}"
            lines.append(line.rstrip())
    return "\n".join(lines)


def print_graph(
    t: Tensor,
    params: Params | None = None,
    max_depth: int | None = None,
    max_nodes: int = 200,
    show_values: bool = False,
    show_grads: bool = False,
    file: Any = None,
) -> None:
    """Print the graph behind ``t`` as a text tree: op names, shapes, dtypes, leaves.

    Each tensor is one line; the inputs of an op are indented below it. A tensor used
    more than once is drawn the first time and later shown as ``t3 (see above)``.
    Arguments are those of :func:`format_graph`; ``file`` is passed to ``print``.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> x = tg.Tensor(np.ones((4, 3)))
    >>> W = tg.Tensor(np.ones((2, 3)), requires_grad=True)
    >>> b = tg.Tensor(np.zeros(2), requires_grad=True)
    >>> tg.viz.print_graph(tg.linear(x, W, b).sigmoid().sum(), params={"W": W, "b": b})
    graph of t0: 3 ops, 3 leaves (2 require grad)
    t0 = Sum             ()      float64
    └── t1 = Sigmoid     (4, 2)  float64
        └── t2 = Linear  (4, 2)  float64
            ├── t3       (4, 3)  float64  leaf
            ├── W        (2, 3)  float64  leaf, requires grad
            └── b        (2,)    float64  leaf, requires grad
    """
    print(format_graph(t, params, max_depth, max_nodes, show_values, show_grads), file=file)


# ----- Graphviz ------------------------------------------------------------------------------


class GraphvizNotFoundError(RuntimeError):
    """Graphviz's ``dot`` program is not installed (it is a system package, not a pip one)."""


_GRAPHVIZ_HINT = (
    "Graphviz's `dot` program was not found on PATH. It is a system package: install "
    "`graphviz` (apt-get install graphviz, brew install graphviz, conda install graphviz, "
    "or https://graphviz.org/download/). Meanwhile tg.viz.print_graph(t) prints the graph "
    "as text, and tg.viz.to_dot(t) gives DOT source any Graphviz viewer can open."
)


def graphviz_available() -> bool:
    """Whether Graphviz's ``dot`` program is on PATH (needed by :func:`render`).

    >>> import tinygrad_mlp as tg
    >>> isinstance(tg.viz.graphviz_available(), bool)
    True
    """
    return shutil.which("dot") is not None


def _q(text: str) -> str:
    """A DOT double-quoted string (newlines become centred line breaks)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _group_params(
    tensors: list[Tensor], labels: _Labels, consumers: dict[int, list[Tensor]]
) -> dict[int, str]:
    """Leaves requiring grad, merged per layer: ``{id(leaf): group key}`` (groups of 2+).

    Leaves with dotted names group by their module prefix ("0.weight", "0.bias" -> "0");
    others group when they all feed the same single op (a Linear's weight and bias).
    """
    keys: dict[int, str] = {}
    for t in tensors:
        if t._ctx is not None or not t.requires_grad:
            continue
        label = labels[t]
        if "." in label:
            keys[id(t)] = "layer " + label.rsplit(".", 1)[0]
        else:
            users = {id(u) for u in consumers.get(id(t), ())}
            if len(users) == 1:
                keys[id(t)] = f"parameters of {labels[consumers[id(t)][0]]}"
    sizes: dict[str, int] = {}
    for k in keys.values():
        sizes[k] = sizes.get(k, 0) + 1
    return {i: k for i, k in keys.items() if sizes[k] > 1}


def to_dot(
    t: Tensor,
    show_values: bool = False,
    show_grads: bool = False,
    params: Params | None = None,
    max_depth: int | None = None,
    max_nodes: int = 300,
    collapse_params: bool = True,
    compact: bool = False,
    rankdir: str = "TB",
) -> str:
    """Graphviz DOT source of the graph behind ``t`` (render it with ``dot -Tsvg``).

    Data flows along the arrows, from the leaves (top) to ``t`` (bottom): each op is an
    ellipse, each tensor a box. Leaves that require grad are filled blue, the output
    yellow, constants grey text.

    Parameters
    ----------
    t : Tensor
    show_values, show_grads : bool, default False
        Write each tensor's values (small tensors) or statistics, and its ``.grad``.
    params : Module, mapping or iterable of (name, Tensor), optional
        Names for tensors (``model.named_parameters()``).
    max_depth : int, optional
        Leave out tensors more than this many ops above ``t``.
    max_nodes : int, default 300
        Draw at most this many tensors (nearest to ``t`` first).
    collapse_params : bool, default True
        Draw the parameters of one layer (same name prefix, or the weight and bias of
        one op) as a single node.
    compact : bool, default False
        Draw an op and the tensor it produced as one ellipse (half the nodes).
    rankdir : {"TB", "LR", "BT", "RL"}, default "TB"

    Returns
    -------
    str
        A ``digraph``. Left-out parts appear as a dashed "… N more nodes" node.

    >>> import tinygrad_mlp as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> src = tg.viz.to_dot((x * 2).sum())
    >>> src.splitlines()[0], src.count("->")
    ('digraph tinygrad_mlp {', 5)
    """
    if not isinstance(t, Tensor):
        raise TypeError(f"expected a Tensor, got {type(t).__name__}")
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be TB, LR, BT or RL, got {rankdir!r}")
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be >= 1, got {max_nodes}")
    labels = _Labels(params)
    labels.add_graph(t)

    # which tensors to draw: breadth first from t, so the nearest survive the limits
    included: dict[int, int] = {id(t): 0}  # id -> node number
    order: list[Tensor] = [t]
    depth = {id(t): 0}
    queue: deque[Tensor] = deque([t])
    while queue:
        u = queue.popleft()
        for p in _inputs(u):
            if not isinstance(p, Tensor) or id(p) in included:
                continue
            if (max_depth is not None and depth[id(u)] + 1 > max_depth) or (
                len(order) >= max_nodes
            ):
                continue
            included[id(p)] = len(order)
            depth[id(p)] = depth[id(u)] + 1
            order.append(p)
            queue.append(p)

    consumers: dict[int, list[Tensor]] = {}
    for u in order:
        for p in _inputs(u):
            if isinstance(p, Tensor):
                consumers.setdefault(id(p), []).append(u)
    groups = _group_params(order, labels, consumers) if collapse_params else {}

    def tensor_text(u: Tensor) -> str:
        lines = [labels[u], f"{_shape(u.shape)} {u.dtype}"]
        if show_values:
            lines.append(f"value {_summary(u)}")
        if show_grads and u.grad is not None:
            lines.append(f"grad {_grad_summary(u.grad)}")
        return "\n".join(lines)

    out = [
        "digraph tinygrad_mlp {",
        f"  rankdir={rankdir};",
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8, color="gray40"];',
    ]
    group_ids: dict[str, str] = {}
    group_members: dict[str, list[Tensor]] = {}
    for u in order:
        if id(u) in groups:
            group_members.setdefault(groups[id(u)], []).append(u)
    for k, (key, members) in enumerate(group_members.items()):
        gid = f"g{k}"
        group_ids[key] = gid
        body = [key] + [f"{labels[m]} {_shape(m.shape)}" for m in members]
        if show_values:
            body += [f"{labels[m]}: {_summary(m)}" for m in members]
        if show_grads:
            body += [f"grad {labels[m]}: {_grad_summary(m.grad)}" for m in members
                     if m.grad is not None]
        out.append(f'  {gid} [shape=box3d, style=filled, fillcolor="lightblue", '
                   f"label={_q(chr(10).join(body))}];")

    def source(u: Tensor) -> str:
        """The DOT node whose arrow carries tensor ``u``'s value."""
        if id(u) in groups:
            return group_ids[groups[id(u)]]
        i = included[id(u)]
        return f"op{i}" if compact and u._ctx is not None else f"n{i}"

    shown = set(included)
    counted: set[int] = set()
    n_const = n_more = 0
    for u in order:
        i = included[id(u)]
        fill = "lightyellow" if u is t else ("lightblue" if u.requires_grad and not u._ctx
                                             else "white")
        if u._ctx is None:
            if id(u) not in groups:
                out.append(f'  n{i} [shape=box, style="rounded,filled", fillcolor="{fill}", '
                           f"label={_q(tensor_text(u))}];")
            continue
        op = u._ctx.fn.__name__
        if compact:
            color = fill if u is t else "gray90"
            out.append(f'  op{i} [shape=ellipse, style=filled, fillcolor="{color}", '
                       f"label={_q(op + chr(10) + tensor_text(u))}];")
        else:
            out.append(f'  op{i} [shape=ellipse, style=filled, fillcolor="gray90", '
                       f"label={_q(op)}];")
            out.append(f'  n{i} [shape=box, style="rounded,filled", fillcolor="{fill}", '
                       f"label={_q(tensor_text(u))}];")
            out.append(f"  op{i} -> n{i};")
        args = _inputs(u)
        hidden = []
        edges: dict[str, list[str]] = {}  # source node -> argument positions it feeds
        for k, p in enumerate(args):
            port = f' [label="{k}"]' if len(args) > 1 else ""
            if isinstance(p, Tensor):
                if id(p) in included:
                    edges.setdefault(source(p), []).append(str(k))
                else:
                    hidden.append(p)
            else:
                out.append(f'  c{n_const} [shape=plaintext, fontcolor="gray40", '
                           f"label={_q(_const_text(p))}];")
                out.append(f"  c{n_const} -> op{i}{port};")
                n_const += 1
        for src, ks in edges.items():
            port = f' [label="{", ".join(ks)}"]' if len(args) > 1 else ""
            out.append(f"  {src} -> op{i}{port};")
        if hidden:
            n = _count_hidden(hidden, shown, counted)
            text = f"… {n} more node{'s' * (n != 1)}" if n else "… (shown elsewhere)"
            out.append(f'  more{n_more} [shape=box, style=dashed, fontcolor="gray40", '
                       f"label={_q(text)}];")
            out.append(f"  more{n_more} -> op{i} [style=dashed];")
            n_more += 1
    out.append("}")
    return "\n".join(out) + "\n"


def render(t: Tensor, path: str | os.PathLike, format: str | None = None,
           **options: Any) -> Path:
    """Draw the graph behind ``t`` to an image file with Graphviz.

    Parameters
    ----------
    t : Tensor
    path : str or PathLike
        Where to write; the suffix (``.svg``, ``.png``, ``.pdf``, ``.dot``) picks the
        format unless ``format`` is given. ``.dot`` writes the source and needs no Graphviz.
    format : str, optional
    **options
        Passed to :func:`to_dot` (``params=``, ``show_values=``, ``max_depth=``...).

    Returns
    -------
    pathlib.Path
        The file written.

    Raises
    ------
    GraphvizNotFoundError
        When Graphviz's ``dot`` program is not installed (the message says how to get it).

    >>> import tinygrad_mlp as tg, tempfile, os
    >>> x = tg.Tensor([1.0], requires_grad=True)
    >>> path = tg.viz.render(x.exp().sum(), os.path.join(tempfile.mkdtemp(), "g.dot"))
    >>> path.read_text().startswith("digraph")
    True
    """
    path = Path(path)
    fmt = (format or path.suffix.lstrip(".")).lower()
    if fmt in ("dot", "gv"):
        path.write_text(to_dot(t, **options))
        return path
    if fmt not in ("svg", "png", "pdf"):
        raise ValueError(
            f"render: cannot tell the image format from {str(path)!r}; use a .svg, .png, "
            ".pdf or .dot file name, or pass format="
        )
    exe = shutil.which("dot")
    if exe is None:
        raise GraphvizNotFoundError(_GRAPHVIZ_HINT)
    src = to_dot(t, **options)
    proc = subprocess.run([exe, f"-T{fmt}", "-o", str(path)], input=src.encode(),
                          capture_output=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(
            f"Graphviz failed to render {path}: {proc.stderr.decode(errors='replace').strip()}"
        )
    return path


# ----- the traced backward -------------------------------------------------------------------


@dataclass
class TraceRecord:
    """One node visited by the backward pass (what :class:`trace` prints and collects).

    Attributes
    ----------
    step : int
        1 for the first node a backward pass visits (the output), then 2, 3, ...
    label : str
        The node's label (as :func:`print_graph` shows it).
    op : str or None
        The op that produced the node; None for a leaf.
    inputs : tuple of str
        Labels of the op's inputs (``"const 0.5"`` for a scalar constant, ``"const"`` for
        an array constant).
    input_shapes : tuple of tuple
        Shapes of the op's inputs.
    shape : tuple
        The node's shape (the op's output).
    grad_norm : float
        Norm of the gradient that arrived at the node (after hooks), d(output)/d(node).
    input_grad_norms : tuple of (float or None)
        Norm of the gradient the op sent to each input (None: that input needs none).
    hooks : int
        How many hooks ran on this node's gradient.
    tensor : Tensor
        The node itself.
    grad : numpy.ndarray
        A copy of the gradient that arrived.
    consts : tuple of int
        Positions of the op's inputs that are constants, not Tensors.
    """

    step: int
    label: str
    op: str | None
    inputs: tuple[str, ...]
    input_shapes: tuple[tuple[int, ...], ...]
    shape: tuple[int, ...]
    grad_norm: float
    input_grad_norms: tuple[float | None, ...]
    hooks: int
    tensor: Tensor = field(repr=False)
    grad: np.ndarray = field(repr=False)
    consts: tuple[int, ...] = field(default=(), repr=False)

    def __str__(self) -> str:
        what = f"{self.label} (leaf)" if self.op is None else f"{self.label} = {self.op}"
        grad = _num(self.grad_norm)
        if self.hooks:
            grad += f" (after {self.hooks} hook{'s' * (self.hooks != 1)})"
        if self.op is None:
            sent = "stored in .grad" if self.tensor.requires_grad else ""
        else:
            parts = []
            for k, (lbl, shape, n) in enumerate(zip(self.inputs, self.input_shapes,
                                                    self.input_grad_norms, strict=True)):
                if n is not None:
                    parts.append(f"{lbl} {_shape(shape)}: {_num(n)}")
                elif k in self.consts:
                    parts.append(f"const {_shape(shape)}" if lbl == "const" else lbl)
                else:
                    parts.append(f"{lbl} {_shape(shape)}: no grad")
            sent = "-> " + ", ".join(parts)
        line = f"{self.step:>3}. {what:<26} {_shape(self.shape):<10} |grad| {grad:<8} {sent}"
        return line.rstrip()


def _print(line: str) -> None:
    print(line)


class trace:
    """Context manager: record (and print) every node the backward pass visits, in order.

    Inside the block, each ``backward()`` (and ``tg.grad``) reports the nodes it visits:
    the output first, then each node once every node that uses it has sent its gradient
    (reverse topological order), down to the leaves. Each line shows the op and its
    inputs, the shapes in and out, the norm of the gradient that arrived (``|grad|``),
    the norm of what the op sent to each input, and the hooks that fired.
    ``t.backward(trace=True)`` is the same as ``with tg.trace(): t.backward()``.

    Parameters
    ----------
    print_fn : callable or None, default print
        Called with each line; None prints nothing.
    collect : bool, default False
        Only collect the records (no printing unless ``print_fn`` is given explicitly).
    params : Module, mapping or iterable of (name, Tensor), optional
        Names for tensors, as in :func:`print_graph`.

    Yields
    ------
    list of TraceRecord
        Filled in as backward runs (always; ``collect`` only turns printing off).

    >>> import tinygrad_mlp as tg
    >>> x = tg.Tensor([3.0, 4.0], requires_grad=True)
    >>> with tg.trace(params={"x": x}):
    ...     (x * x).sum().backward()
    backward trace from t0 (outputs first; each node after every node that uses it)
      1. t0 = Sum                   ()         |grad| 1        -> t1 (2,): 1.414
      2. t1 = Mul                   (2,)       |grad| 1.414    -> x (2,): 5, x (2,): 5
      3. x (leaf)                   (2,)       |grad| 10       stored in .grad
    >>> with tg.trace(collect=True) as records:
    ...     (x * 2).sum().backward()
    >>> [(r.label, r.op, round(r.grad_norm, 4)) for r in records]
    [('t0', 'Sum', 1.0), ('t1', 'Mul', 1.4142), ('t2', None, 2.8284)]
    """

    def __init__(
        self,
        print_fn: Callable[[str], Any] | None = _print,
        collect: bool = False,
        params: Params | None = None,
    ) -> None:
        self.print_fn = None if collect and print_fn is _print else print_fn
        self.records: list[TraceRecord] = []
        self._labels = _Labels(params)
        self._pass: set[int] = set()  # nodes visited by the current backward pass
        self._step = 0
        self._prev: Any = None

    def __enter__(self) -> list[TraceRecord]:
        self._prev = _STATE.tracer
        _STATE.tracer = self._visit
        return self.records

    def __exit__(self, *exc: object) -> None:
        _STATE.tracer = self._prev

    def _visit(self, info: dict) -> None:
        t: Tensor = info["tensor"]
        # a new pass starts at a node of a graph not seen yet, or at one this pass has
        # already visited (each pass visits a node once): its steps count from 1 again
        new_pass = t not in self._labels or id(t) in self._pass
        if new_pass:
            self._pass = set()
            self._step = 0
        self._pass.add(id(t))
        self._step += 1
        label = self._labels[t]
        g = info["grad"]
        ctx = t._ctx
        if ctx is not None:
            args = ctx.parents
            in_grads = info["input_grads"]
            norms: list[float | None] = []
            for p, pg, need in zip(args, in_grads, ctx.needs_input_grad, strict=False):
                if not need or pg is None:
                    norms.append(None)
                    continue
                pg = _value(pg)
                pg = np.asarray(pg) if not isinstance(pg, np.ndarray) else pg
                if pg.shape != p.shape:
                    try:  # the engine sums broadcast gradients back to the input's shape
                        pg = _unbroadcast(pg, p.shape, ctx.fn)
                    except ValueError:
                        pass
                norms.append(_norm(pg))
            inputs = tuple(self._labels[p] if isinstance(p, Tensor) else _const_text(p)
                           if isinstance(p, (bool, int, float, np.number)) else "const"
                           for p in args)
            consts = tuple(k for k, p in enumerate(args) if not isinstance(p, Tensor))
            shapes = tuple(tuple(np.shape(_value(p))) for p in args)
        else:
            norms, inputs, shapes, consts = [], (), (), ()
        rec = TraceRecord(
            step=self._step,
            label=label,
            op=ctx.fn.__name__ if ctx is not None else None,
            inputs=inputs,
            input_shapes=shapes,
            shape=tuple(t.shape),
            grad_norm=_norm(g),
            input_grad_norms=tuple(norms),
            hooks=int(info.get("hooks", 0)),
            tensor=t,
            grad=np.array(_value(g), copy=True),
            consts=consts,
        )
        self.records.append(rec)
        if self.print_fn is not None:
            if new_pass:
                self.print_fn(f"backward trace from {label} (outputs first; each node after "
                              "every node that uses it)")
            self.print_fn(str(rec))


# ----- notebooks: objects that draw themselves in Jupyter --------------------------------------


class Graph:
    """The graph behind a tensor, drawn by Jupyter: SVG when Graphviz is installed, the
    text tree of :func:`format_graph` otherwise (``repr`` is always the text tree).

    Made by :func:`graph`; ``options`` go to :func:`to_dot` (``params=``, ``show_values=``...).
    """

    def __init__(self, t: Tensor, **options: Any) -> None:
        self.tensor, self.options = t, options

    def __repr__(self) -> str:
        keep = ("params", "max_depth", "show_values", "show_grads")
        return format_graph(self.tensor, **{k: v for k, v in self.options.items() if k in keep})

    def dot(self) -> str:
        """The Graphviz DOT source."""
        return to_dot(self.tensor, **self.options)

    def _repr_svg_(self) -> str | None:
        exe = shutil.which("dot")
        if exe is None:
            return None  # Jupyter then shows the HTML (text) form
        proc = subprocess.run([exe, "-Tsvg"], input=self.dot().encode(), capture_output=True,
                              timeout=120)
        return proc.stdout.decode() if proc.returncode == 0 else None

    def _repr_html_(self) -> str:
        import html

        svg = self._repr_svg_()
        if svg is not None:
            return svg[svg.find("<svg"):]  # inline SVG, without the XML prologue
        return f"<pre>{html.escape(repr(self))}</pre>"


def graph(t: Tensor, **options: Any) -> Graph:
    """The graph behind ``t`` as an object Jupyter draws (SVG with Graphviz, else text).

    >>> import tinygrad_mlp as tg
    >>> x = tg.Tensor([1.0, 2.0], requires_grad=True)
    >>> g = tg.viz.graph((x * x).sum(), params={"x": x})
    >>> page = g._repr_html_()  # <pre> text tree, or an inline <svg> with Graphviz
    >>> "Sum" in repr(g), ("<pre>" in page) != ("<svg" in page)
    (True, True)
    """
    return Graph(t, **options)


class TraceTable:
    """The records of a traced backward (:class:`trace`) as a table Jupyter shows."""

    def __init__(self, records: Iterable[TraceRecord]) -> None:
        self.records = list(records)

    def __repr__(self) -> str:
        return "\n".join(str(r) for r in self.records)

    def _repr_html_(self) -> str:
        import html

        head = ("step", "node", "op", "shape", "|grad| in", "sent to inputs")
        rows = []
        for r in self.records:
            sent = ", ".join(f"{lbl}: {'—' if n is None else _num(n)}"
                             for lbl, n in zip(r.inputs, r.input_grad_norms, strict=False))
            cells = (r.step, r.label, r.op or "leaf", _shape(r.shape), _num(r.grad_norm), sent)
            rows.append("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells)
                        + "</tr>")
        header = "<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"
        return f"<table>{header}{''.join(rows)}</table>"


def trace_table(records: Iterable[TraceRecord]) -> TraceTable:
    """A traced backward's records as a table Jupyter shows (``repr``: the traced lines).

    >>> import tinygrad_mlp as tg
    >>> x = tg.Tensor([3.0, 4.0], requires_grad=True)
    >>> with tg.trace(collect=True) as records:
    ...     (x * x).sum().backward()
    >>> table = tg.viz.trace_table(records)
    >>> table._repr_html_().count("<tr>")  # a header and one row per visited node
    4
    """
    return TraceTable(records)
