"""Study tools: print_graph, to_dot/render, the traced backward, detect_anomaly."""

from __future__ import annotations

import inspect
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import viz
from tinygrad_mlp.tensor import _STATE

HAS_DOT = shutil.which("dot") is not None


def _lineno() -> int:
    """Line number of the caller's statement."""
    return inspect.currentframe().f_back.f_lineno


def _mlp(seed: int = 0, dtype=np.float64):
    """A 4-3-2 sigmoid MLP made of plain Tensors, its input and its loss."""
    rng = np.random.default_rng(seed)
    x = tg.Tensor(rng.standard_normal((5, 4)).astype(dtype))
    w1 = tg.Tensor(rng.standard_normal((3, 4)).astype(dtype), requires_grad=True)
    b1 = tg.Tensor(rng.standard_normal(3).astype(dtype), requires_grad=True)
    w2 = tg.Tensor(rng.standard_normal((2, 3)).astype(dtype), requires_grad=True)
    b2 = tg.Tensor(rng.standard_normal(2).astype(dtype), requires_grad=True)
    h = tg.linear(x, w1, b1).sigmoid()
    out = tg.linear(h, w2, b2).sigmoid()
    loss = ((out - 1.0) ** 2).sum() * 0.5
    params = {"x": x, "0.weight": w1, "0.bias": b1, "2.weight": w2, "2.bias": b2}
    return loss, params


def _all_tensors(root: tg.Tensor) -> list[tg.Tensor]:
    return list(viz._preorder(root))


# ----- print_graph ----------------------------------------------------------------------------


def test_print_graph_shows_ops_shapes_dtypes_and_leaves(capsys):
    loss, params = _mlp()
    viz.print_graph(loss, params=params)
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0] == "graph of t0: 8 ops, 5 leaves (4 require grad)"
    assert re.match(r"t0 = Mul\s+\(\)\s+float64$", lines[1])
    assert any(re.search(r"Linear\s+\(5, 2\)\s+float64", ln) for ln in lines)
    assert any(re.search(r"Sigmoid\s+\(5, 3\)\s+float64", ln) for ln in lines)
    assert re.search(r"0\.weight\s+\(3, 4\)\s+float64\s+leaf, requires grad", out)
    assert re.search(r"2\.bias\s+\(2,\)\s+float64\s+leaf, requires grad", out)
    assert re.search(r"── x\s+\(5, 4\)\s+float64\s+leaf$", out, re.M)  # input: no grad
    assert "const 0.5" in out and "const 1" in out and "const 2" in out
    # every tensor of the graph is drawn exactly once
    assert len([ln for ln in lines[1:] if "float64" in ln]) == len(_all_tensors(loss))


def test_shared_subgraph_is_drawn_once_and_referenced_by_label():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    a = (x * 3).exp()  # used twice below
    y = (a + a * a).sum()
    text = viz.format_graph(y, params={"x": x})
    labels = re.findall(r"(t\d+) = Exp", text)
    assert len(labels) == 1  # the Exp subgraph is expanded once
    assert text.count(f"{labels[0]} (see above)") == 2  # and referenced twice
    assert text.count("x ") == 1  # x sits below the Exp, so it is drawn once too
    # references come after the definition
    assert text.index(f"{labels[0]} = Exp") < text.index(f"{labels[0]} (see above)")


def test_labels_are_stable_first_seen_order():
    loss, params = _mlp()
    a = viz.format_graph(loss)
    b = viz.format_graph(loss)
    assert a == b
    found = re.findall(r"\bt(\d+)\b", a.split("\n", 1)[1])
    first_seen = list(dict.fromkeys(int(n) for n in found))
    assert first_seen == list(range(len(first_seen)))


def test_parameter_names_from_a_module_and_from_name():
    nn = pytest.importorskip("tinygrad_mlp.nn")
    model = nn.Sequential(nn.Linear(4, 3), nn.Sigmoid(), nn.Linear(3, 2))
    x = viz.name(tg.Tensor(np.ones((2, 4), np.float32)), "batch")
    loss = model(x).sum()
    for params in (model, model.named_parameters(), dict(model.named_parameters())):
        text = viz.format_graph(loss, params=params)
        for key in ("0.weight", "0.bias", "2.weight", "2.bias", "batch"):
            assert re.search(rf"── {re.escape(key)}\s", text), (key, text)
    with pytest.raises(TypeError, match="named_parameters"):
        viz.format_graph(loss, params=[1, 2])


def test_name_returns_the_tensor_and_is_forgotten_with_it():
    import gc

    t = viz.name(tg.Tensor([1.0]), "hello")
    assert viz.format_graph(t).splitlines()[1].startswith("hello")
    key = id(t)
    del t
    gc.collect()
    assert key not in viz._NAMES
    with pytest.raises(TypeError):
        viz.name([1.0], "nope")


def test_deep_graph_prints_iteratively_with_a_node_limit():
    x = tg.Tensor([0.5], requires_grad=True)
    y = x
    for _ in range(20_000):  # far beyond Python's recursion limit
        y = y * 1.0
    text = viz.format_graph(y, max_nodes=50)
    lines = text.splitlines()
    assert lines[0] == "graph of t0: 20000 ops, 1 leaf (1 requires grad)"
    assert lines[-1] == "… 19951 more nodes not shown (max_nodes=50)"
    assert sum("= Mul" in ln for ln in lines) == 50
    dot = viz.to_dot(y, max_nodes=40)
    assert dot.count("[shape=ellipse") == 40
    assert "… 19961 more nodes" in dot


def test_max_depth_cuts_with_an_exact_count():
    x = tg.Tensor([2.0], requires_grad=True)
    y = x
    for _ in range(10):
        y = y.exp() if _ % 2 else y.sqrt()
    text = viz.format_graph(y, max_depth=3)
    assert sum(" = " in ln for ln in text.splitlines()) == 4  # depths 0..3
    assert "… 7 more nodes (max_depth=3)" in text  # 6 ops and the leaf x
    assert "leaf" not in text.split("\n", 1)[1]
    with pytest.raises(ValueError):
        viz.format_graph(y, max_depth=-1)


def test_show_values_and_grads():
    x = tg.Tensor([3.0, 4.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    text = viz.format_graph(y, params={"x": x}, show_values=True, show_grads=True)
    assert "value [3, 4]" in text and "grad [6, 8]" in text and "value 25" in text
    big = tg.Tensor(np.arange(100.0), requires_grad=True)
    (big * 2).sum().backward()
    text = viz.format_graph(big, show_values=True, show_grads=True)
    assert "mean 49.5" in text and "max 99" in text and "norm 20" in text


def test_graph_survives_backward_freeing_saved_values():
    loss, params = _mlp()
    before = viz.format_graph(loss, params=params)
    loss.backward()
    assert viz.format_graph(loss, params=params) == before


def test_print_graph_rejects_non_tensors():
    with pytest.raises(TypeError):
        viz.print_graph(np.ones(3))
    with pytest.raises(TypeError):
        viz.to_dot([1.0])


# ----- DOT ------------------------------------------------------------------------------------


def _parse_dot(src: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Structural check of DOT source: braces balance (outside strings), every edge joins
    declared nodes. Returns ({node: attributes}, [(tail, head)])."""
    depth = 0
    in_str = escaped = False
    for ch in src:
        if in_str:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            assert depth >= 0, "unbalanced braces"
    assert depth == 0 and not in_str, "unbalanced braces or quotes"
    assert src.startswith("digraph ") and src.rstrip().endswith("}")
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str]] = []
    for line in src.splitlines()[1:-1]:
        line = line.strip()
        if m := re.fullmatch(r"(\w+) -> (\w+)( \[.*\])?;", line):
            edges.append((m[1], m[2]))
        elif m := re.fullmatch(r"(\w+) \[(.*)\];", line):
            if m[1] not in ("node", "edge", "graph"):
                assert m[1] not in nodes, f"node {m[1]} declared twice"
                nodes[m[1]] = m[2]
        else:
            assert re.fullmatch(r"\w+=\w+;", line), f"unexpected DOT line {line!r}"
    for a, b in edges:
        assert a in nodes and b in nodes, f"edge {a} -> {b} uses an undeclared node"
    return nodes, edges


def _dot_ok(src: str) -> None:
    if HAS_DOT:
        proc = subprocess.run(["dot", "-Tsvg"], input=src, text=True, capture_output=True)
        assert proc.returncode == 0, proc.stderr
        assert "<svg" in proc.stdout and "Warning" not in proc.stderr


def test_to_dot_is_valid_with_distinct_shapes_for_tensors_and_ops():
    loss, params = _mlp()
    src = viz.to_dot(loss, params=params, collapse_params=False)
    nodes, edges = _parse_dot(src)
    _dot_ok(src)
    ops = [n for n, a in nodes.items() if "shape=ellipse" in a]
    tensors = [n for n, a in nodes.items() if "shape=box," in a]
    consts = [n for n, a in nodes.items() if "shape=plaintext" in a]
    assert len(ops) == 8 and len(tensors) == 8 + 5 and len(consts) == 3  # - 1, ** 2, * 0.5
    assert len(nodes) == len(ops) + len(tensors) + len(consts)
    # each op has one output arrow, to the box of the tensor it made
    for op in ops:
        outs = [b for a, b in edges if a == op]
        assert len(outs) == 1 and outs[0] in tensors
    # leaves that require grad are blue, the output yellow, the input white
    for key in ("0.weight", "0.bias", "2.weight", "2.bias"):
        (attrs,) = [a for a in nodes.values() if f'label="{key}\\n' in a]
        assert "lightblue" in attrs
    (root,) = [a for a in nodes.values() if 'label="t0\\n' in a]
    assert "lightyellow" in root
    (xattrs,) = [a for a in nodes.values() if 'label="x\\n(5, 4) float64' in a]
    assert "white" in xattrs


def test_to_dot_collapses_each_layers_parameters_into_one_node():
    loss, params = _mlp()
    nodes, edges = _parse_dot(viz.to_dot(loss, params=params))
    groups = {n: a for n, a in nodes.items() if "box3d" in a}
    assert len(groups) == 2
    assert any("layer 0\\n0.weight (3, 4)\\n0.bias (3,)" in a for a in groups.values())
    assert len(nodes) == 8 + 8 + 1 + 2 + 3  # ops, op outputs, x, two layers, constants
    # unnamed parameters feeding the same op are grouped too
    loss2, _ = _mlp()
    nodes2, _ = _parse_dot(viz.to_dot(loss2))
    assert sum("box3d" in a for a in nodes2.values()) == 2
    assert sum("parameters of" in a for a in nodes2.values()) == 2


def test_to_dot_values_grads_compact_and_limits():
    loss, params = _mlp()
    loss.backward()
    src = viz.to_dot(loss, params=params, show_values=True, show_grads=True,
                     collapse_params=False)
    _parse_dot(src)
    _dot_ok(src)
    w = params["0.weight"]
    assert f"grad norm {viz._num(np.linalg.norm(w.grad.data))}" in src
    assert f"value {viz._num(loss.item())}" in src
    compact = viz.to_dot(loss, params=params, compact=True)
    nodes, _ = _parse_dot(compact)
    assert sum("shape=ellipse" in a for a in nodes.values()) == 8
    assert sum("shape=box," in a for a in nodes.values()) == 1  # only x: op outputs merged
    _dot_ok(compact)
    cut = viz.to_dot(loss, params=params, max_depth=2)
    nodes, _ = _parse_dot(cut)
    more = [a for a in nodes.values() if "more node" in a]
    hidden = sum(int(re.search(r"… (\d+) more", a)[1]) for a in more)
    shown = sum("shape=box," in a and "more node" not in a for a in nodes.values())
    assert len(more) == 1 and shown == 3 and hidden == len(_all_tensors(loss)) - shown
    _dot_ok(cut)
    for bad in ({"max_nodes": 0}, {"rankdir": "UP"}):
        with pytest.raises(ValueError):
            viz.to_dot(loss, **bad)


def test_to_dot_escapes_names():
    x = viz.name(tg.Tensor([1.0], requires_grad=True), 'odd "name" \\ {x}')
    src = viz.to_dot((x * 2).sum())
    _parse_dot(src)
    _dot_ok(src)


def test_render_svg_and_png(tmp_path):
    loss, params = _mlp()
    if not HAS_DOT:
        pytest.skip("Graphviz's dot is not installed")
    svg = viz.render(loss, tmp_path / "g.svg", params=params)
    assert "<svg" in svg.read_text()
    png = viz.render(loss, tmp_path / "g.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    viz.render(loss, tmp_path / "g", format="svg")
    assert (tmp_path / "g").read_text().lstrip().startswith("<?xml")


def test_render_without_graphviz_names_the_system_package(tmp_path, monkeypatch):
    loss, _ = _mlp()
    monkeypatch.setattr(viz.shutil, "which", lambda name: None)
    assert not viz.graphviz_available()
    with pytest.raises(viz.GraphvizNotFoundError, match="graphviz") as err:
        viz.render(loss, tmp_path / "g.svg")
    assert "apt-get install graphviz" in str(err.value) and "print_graph" in str(err.value)
    assert isinstance(err.value, RuntimeError)
    # DOT source needs no Graphviz
    path = viz.render(loss, tmp_path / "g.dot")
    _parse_dot(path.read_text())
    with pytest.raises(ValueError, match="format"):
        viz.render(loss, tmp_path / "g.jpeg2000")


# ----- the traced backward --------------------------------------------------------------------


def _assert_reverse_topological(records) -> None:
    position = {id(r.tensor): i for i, r in enumerate(records)}
    assert len(position) == len(records), "a node was visited twice"
    for i, r in enumerate(records):
        for p in viz._inputs(r.tensor):
            if isinstance(p, tg.Tensor) and p.requires_grad:
                assert position[id(p)] > i, f"{r.label} visited after its input"


def test_trace_order_is_reverse_topological_and_norms_match_real_gradients():
    loss, params = _mlp()
    inner = [t for t in _all_tensors(loss) if t._ctx is not None]
    for t in inner:
        t.retain_grad()
    with tg.trace(collect=True, params=params) as records:
        loss.backward(retain_graph=True)  # keep inputs to check order
    _assert_reverse_topological(records)
    visited = {id(r.tensor) for r in records}
    assert visited == {id(t) for t in _all_tensors(loss) if t.requires_grad}
    assert records[0].tensor is loss and records[0].grad_norm == 1.0
    for r in records:
        real = r.tensor.grad.data
        assert r.grad_norm == pytest.approx(np.linalg.norm(real), rel=1e-12)
        np.testing.assert_array_equal(r.grad, real)
        assert r.shape == r.tensor.shape
        if r.op is not None:
            assert r.op == r.tensor._ctx.fn.__name__
            assert r.input_shapes == tuple(np.shape(getattr(p, "data", p))
                                           for p in r.tensor._ctx.parents)
    # an input with one consumer receives exactly what that consumer sent
    by_id = {id(r.tensor): r for r in records}
    for r in records:
        for p, sent in zip(r.tensor._ctx.parents if r.op else (), r.input_grad_norms,
                           strict=True):
            if isinstance(p, tg.Tensor) and sent is not None:
                consumers = [q for q in records if any(a is p for a in viz._inputs(q.tensor))]
                if len(consumers) == 1 and sum(a is p for a in viz._inputs(r.tensor)) == 1:
                    assert by_id[id(p)].grad_norm == pytest.approx(sent, rel=1e-12)
    leaves = [r for r in records if r.op is None]
    assert {r.label for r in leaves} == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_trace_of_a_diamond_and_broadcasting():
    x = tg.Tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    b = tg.Tensor([0.5], requires_grad=True)  # broadcast: its gradient is summed back
    a = x + b
    y = (a * a + a.exp()).sum()
    with tg.trace(collect=True, params={"x": x, "b": b}) as records:
        y.backward(retain_graph=True)  # keep inputs to check order
    _assert_reverse_topological(records)
    (add,) = [r for r in records if r.op == "Add" and r.tensor is a]
    assert add.input_grad_norms[1] == pytest.approx(abs(b.grad.item()))
    assert add.input_grad_norms[0] == pytest.approx(np.linalg.norm(x.grad.data))
    # both leaves visited once, after every op (their relative order is unspecified)
    assert sorted(r.label for r in records if r.op is None) == ["b", "x"]
    assert all(r.op is None for r in records[-2:])


def test_trace_labels_match_print_graph():
    loss, params = _mlp()
    text = viz.format_graph(loss, params=params)
    with tg.trace(collect=True, params=params) as records:
        loss.backward()
    for r in records:
        head = f"{r.label} = {r.op}" if r.op else r.label
        assert re.search(rf"(^|── ){re.escape(head)}\s", text, re.M), head


def test_trace_counts_hooks_and_reports_the_gradient_after_them():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = x * 3
    h.register_hook(lambda g: g * 10)
    h.register_hook(lambda g: None)
    x.register_hook(lambda g: None)
    with tg.trace(collect=True) as records:
        h.sum().backward()
    rec = {r.op: r for r in records}
    assert rec["Mul"].hooks == 2 and rec["Sum"].hooks == 0 and rec[None].hooks == 1
    assert rec["Mul"].grad_norm == pytest.approx(10 * np.sqrt(2))
    assert "(after 2 hooks)" in str(rec["Mul"]) and "(after 1 hook)" in str(rec[None])


def test_backward_trace_true_prints_each_step(capsys):
    x = tg.Tensor([3.0, 4.0], requires_grad=True)
    (x * x).sum().backward(trace=True)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("backward trace from t0")
    assert re.match(r"\s+1\. t0 = Sum\s+\(\)\s+\|grad\| 1\s+-> t1 \(2,\): 1\.414$", lines[1])
    assert re.match(r"\s+2\. t1 = Mul\s+\(2,\)\s+\|grad\| 1\.414\s+-> t2 \(2,\): 5, t2 \(2,\): 5$",
                    lines[2])
    assert re.match(r"\s+3\. t2 \(leaf\)\s+\(2,\)\s+\|grad\| 10\s+stored in .grad$", lines[3])
    assert len(lines) == 4
    assert _STATE.tracer is None
    np.testing.assert_allclose(x.grad.data, [6.0, 8.0])


def test_trace_print_fn_collect_nesting_and_restore():
    x = tg.Tensor([1.0], requires_grad=True)
    lines: list[str] = []
    with tg.trace(print_fn=lines.append) as outer:
        (x * 2).sum().backward()
        with tg.trace(collect=True) as inner:
            (x * 3).sum().backward()
        assert _STATE.tracer is not None
        (x * 4).sum().backward()
    assert _STATE.tracer is None
    assert len(inner) == 3 and len(outer) == 6
    assert len(lines) == 6 + 2  # two headers: two graphs were traced
    assert [r.step for r in outer] == [1, 2, 3, 1, 2, 3]  # counted per backward pass
    with pytest.raises(ValueError):
        with tg.trace(collect=True):
            tg.Tensor([1.0, 2.0], requires_grad=True).sum().sum().backward(np.ones(2))
    assert _STATE.tracer is None
    assert tg.trace is viz.trace


def test_trace_marks_each_backward_pass_over_a_retained_graph():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    lines: list[str] = []
    with tg.trace(print_fn=lines.append) as records:
        y.backward(retain_graph=True)
        y.backward()
    assert [r.step for r in records] == [1, 2, 3, 1, 2, 3]
    assert [r.label for r in records] == ["t0", "t1", "t2"] * 2
    assert sum(ln.startswith("backward trace from t0") for ln in lines) == 2
    assert records[2].grad_norm == pytest.approx(np.sqrt(20))  # each pass: 2x = (2, 4)


def test_trace_with_create_graph_and_tg_grad():
    x = tg.Tensor(2.0, requires_grad=True)
    with tg.trace(collect=True) as records:
        (g,) = tg.grad(x ** 3, x, create_graph=True)
    assert records[0].grad_norm == 1.0 and records[-1].grad_norm == pytest.approx(12.0)
    with tg.trace(collect=True) as records:
        g.backward(retain_graph=True)  # keep inputs to check order
    _assert_reverse_topological(records)
    assert x.grad.item() == pytest.approx(12.0)


def test_tracer_hook_costs_nothing_when_off():
    src = inspect.getsource(sys.modules["tinygrad_mlp.tensor"]._execute)
    assert src.count("if tracer is not None") == 2


# ----- detect_anomaly -------------------------------------------------------------------------


def test_anomaly_forward_names_the_op_and_the_users_line():
    x = tg.Tensor([-1.0, 2.0], requires_grad=True)
    a = x * 2  # fine
    with pytest.raises(FloatingPointError) as err:
        with tg.detect_anomaly(), np.errstate(invalid="ignore"):
            line = _lineno() + 1
            b = a.log()  # log of a negative number: NaN
            b * 3  # never reached
    msg = str(err.value)
    assert "Log produced NaN in its forward" in msg
    assert f"{__file__}:{line}: b = a.log()" in msg
    assert not _STATE.anomaly


def test_anomaly_forward_inf_from_division():
    x = tg.Tensor([0.0, 1.0])
    with pytest.raises(FloatingPointError, match=r"Div produced Inf") as err:
        with tg.detect_anomaly(), np.errstate(divide="ignore"):
            line = _lineno() + 1
            1.0 / x
    assert f"test_viz.py:{line}:" in str(err.value)


def test_anomaly_backward_names_the_op_and_the_line_that_created_it():
    x = tg.Tensor([0.0, 4.0], requires_grad=True)
    with pytest.raises(FloatingPointError) as err:
        with tg.detect_anomaly(), np.errstate(divide="ignore"):
            line = _lineno() + 1
            y = x.sqrt()  # fine forward; d sqrt/dx at 0 is infinite
            loss = (y * 2).sum()
            loss.backward()
    msg = str(err.value)
    assert "Sqrt.backward produced Inf in the gradient of its input 0" in msg
    assert f"{__file__}:{line}: y = x.sqrt()" in msg
    assert x.grad is None  # raised before the leaf was reached


def test_anomaly_backward_of_an_op_made_outside_the_block_says_so():
    x = tg.Tensor([0.0], requires_grad=True)
    y = x.sqrt().sum()
    with pytest.raises(FloatingPointError, match="created outside detect_anomaly"):
        with tg.detect_anomaly(), np.errstate(divide="ignore"):
            y.backward()


def test_anomaly_points_at_the_users_line_through_nn_layers():
    nn = pytest.importorskip("tinygrad_mlp.nn")
    model = nn.Sequential(nn.Linear(2, 2), nn.Sigmoid())
    bad = tg.Tensor(np.array([[np.nan, 1.0]], np.float32))
    with pytest.raises(FloatingPointError) as err:
        with tg.detect_anomaly():
            line = _lineno() + 1
            model(bad)
    msg = str(err.value)
    assert "Linear produced NaN in its forward" in msg and "an input already held NaN" in msg
    assert f"{__file__}:{line}: model(bad)" in msg
    assert "tinygrad_mlp/nn" not in msg


def test_anomaly_mode_is_silent_on_finite_values_and_restored():
    loss, _ = _mlp()
    with tg.detect_anomaly():
        assert _STATE.anomaly
        loss2, _ = _mlp()
        loss2.backward()
    assert not _STATE.anomaly
    loss.backward()
