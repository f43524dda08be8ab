"""Issue 9: one engine (jit replays the same execution), graphs released after backward,
per-thread modes, in-place ops with version counters, construction copies, the Function
features (several outputs, needs_input_grad before forward), and a clean module graph."""

from __future__ import annotations

import ast
import gc
import threading
import weakref
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp import nn, optim
from tinygrad_mlp.tensor import _execute, _plan

PACKAGE = Path(tg.__file__).parent


def leaf(values, dtype=np.float64):
    return tg.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ----- one engine: jit and eager are the same execution ----------------------------------------


def test_jit_holds_no_copy_of_the_walk():
    """The replay calls the engine's plan and execution; it re-implements neither."""
    src = (PACKAGE / "jit.py").read_text()
    assert "_execute(" in src and "_plan(" in src
    for private in ("_accumulate", "_conform", "heapq", "shared.add", "pending"):
        assert private not in src, private


def _model(sizes, act, seed):
    tg.manual_seed(seed)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=False)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append({"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}[act]())
    return nn.Sequential(*layers)


def _outcome(fn):
    """(value, None) or (None, (type, message)) of calling fn."""
    try:
        return fn(), None
    except Exception as e:  # noqa: BLE001  (the error itself is what is compared)
        return None, (type(e), str(e))


@given(
    sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4),
    act=st.sampled_from(["sigmoid", "relu", "tanh"]),
    loss=st.sampled_from(["cross_entropy", "mse", "quadratic"]),
    batch=st.integers(1, 5),
    bad_label=st.sampled_from([None, -1, "C"]),
    seed=st.integers(0, 2**16),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_jit_and_eager_are_bit_identical(sizes, act, loss, batch, bad_label, seed, dtype):
    rng = np.random.default_rng(seed)
    n_out = sizes[-1]
    fns = {
        "cross_entropy": lambda out, y: F.cross_entropy(out, y),
        "mse": lambda out, y: F.mse_loss(out, y),
        "quadratic": lambda out, y: F.quadratic_loss(out, y),
    }
    batches = []
    for step in range(3):
        x = rng.standard_normal((batch, sizes[0])).astype(dtype)
        if loss == "cross_entropy":
            y = rng.integers(0, n_out, batch)
            if step == 2 and bad_label is not None:
                y[0] = -1 if bad_label == -1 else n_out
        else:
            y = rng.standard_normal((batch, n_out)).astype(dtype)
        batches.append((x, y))
    results = []
    for use_jit in (False, True):
        model = _model(sizes, act, seed)
        if dtype == np.float64:
            for p in model.parameters():
                p.data = p.data.astype(np.float64)
        fn = fns[loss]
        step_fn = tg.jit(lambda x, y, fn=fn, model=model: fn(model(x), y))
        run = []
        for x, y in batches:
            model.zero_grad()
            if use_jit:
                value, err = _outcome(lambda x=x, y=y, f=step_fn: f(x, y).data.copy())
            else:
                value, err = _outcome(
                    lambda x=x, y=y, fn=fn, model=model: _eager(model, fn, x, y))
            grads = [None if p.grad is None else p.grad.data.copy() for p in model.parameters()]
            run.append((value, err, grads))
        results.append(run)
    for (v1, e1, g1), (v2, e2, g2) in zip(*results, strict=True):
        assert e1 == e2
        if e1 is None:
            assert v1.tobytes() == v2.tobytes()
            for a, b in zip(g1, g2, strict=True):
                assert a is not None and b is not None and a.tobytes() == b.tobytes()


def _eager(model, fn, x, y):
    loss = fn(model(tg.Tensor(x)), y)
    loss.backward()
    return loss.data.copy()


def test_bad_label_in_a_jit_replay_is_the_eager_error():
    model = _model([4, 3, 2], "sigmoid", 0)
    step = tg.jit(lambda x, y: F.cross_entropy(model(x), y))
    x = np.ones((5, 4), np.float32)
    step(x, np.array([0, 1, 0, 1, 1]))  # traced
    with pytest.raises(F.TargetIndexError, match="target -1 at position 3"):
        step(x, np.array([0, 1, 0, -1, 1]))  # replayed


def test_plan_is_reverse_topological_and_iterative():
    x = leaf([1.0, 2.0])
    y = x
    for _ in range(50_000):  # deeper than any recursion limit
        y = y * 1.0
    root = y.sum()
    plan = _plan([root])
    pos = {key: i for i, (_seq, key, _t, _ctx, _targets) in enumerate(plan.steps)}
    for i, (_seq, _key, _t, _ctx, targets) in enumerate(plan.steps):
        assert all(pos[j] > i for _, j, *_ in targets)  # every input comes later
    assert pos[id(x)] == len(plan.steps) - 1 and plan.steps[-1][2] is x
    grads = _execute(plan, [(id(root), np.array(1.0))], False, False, {id(x)})
    np.testing.assert_array_equal(grads[id(x)], [1.0, 1.0])


# ----- the graph is released after backward --------------------------------------------------


def test_intermediates_are_freed_after_backward():
    x = leaf(np.ones(3))
    h = x * 2
    ref = weakref.ref(h)
    saved = weakref.ref((h * h)._ctx.saved[0])  # an array the Mul saved
    loss = (h * h).sum()
    del h
    loss.backward()
    gc.collect()
    assert ref() is None and saved() is None
    assert loss.item() == 12.0 and loss.grad_fn == "Sum"  # the loss keeps its value
    np.testing.assert_allclose(x.grad.data, [8.0, 8.0, 8.0])


def test_second_backward_is_a_clear_error_unless_retained():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Mul: trying to backward through the graph a "
                                           "second time.*retain_graph=True"):
        y.backward()
    x.grad = None
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.data, [4.0, 8.0])


def test_ops_that_save_no_array_can_be_walked_again_as_in_torch():
    v = leaf([1.0, 2.0])
    y = (v * 3).sum()
    assert y._ctx.parents[0]._ctx.saved == (None, 3)  # v * 3 keeps the scalar, not v
    (g1,) = tg.grad(y, v)
    (g2,) = tg.grad(y, v)
    np.testing.assert_array_equal(g1.data, [3.0, 3.0])
    np.testing.assert_array_equal(g2.data, [3.0, 3.0])


def test_a_retained_graphs_saved_values_die_with_its_output():
    x = leaf(np.ones(4))
    y = x.exp()
    saved = weakref.ref(y._ctx.saved[0])
    y.sum().backward(retain_graph=True)
    assert saved() is not None
    del y
    gc.collect()
    assert saved() is None


def test_released_graph_still_prints():
    x = leaf(np.ones((2, 3)))
    w = leaf(np.ones((4, 3)))
    loss = tg.linear(x, w).sigmoid().sum()
    before = tg.viz.format_graph(loss, params={"x": x, "w": w})
    loss.backward()
    assert tg.viz.format_graph(loss, params={"x": x, "w": w}) == before


def test_training_loop_holds_one_graph():
    """The step's activations are gone once backward returns (weakrefs to every
    intermediate array die), so a loop never holds two graphs."""
    model = _model([20, 16, 4], "sigmoid", 0)
    opt = optim.SGD(model.parameters(), lr=0.1)
    refs = []
    for _ in range(3):
        opt.zero_grad()
        out = model(tg.Tensor(np.ones((8, 20), np.float32)))
        refs.append(weakref.ref(out.data))
        loss = F.cross_entropy(out, np.zeros(8, np.int64))
        del out
        loss.backward()
        opt.step()
        gc.collect()
        assert all(r() is None for r in refs)


# ----- per-thread modes ----------------------------------------------------------------------


def test_no_grad_in_one_thread_does_not_stop_another_threads_training():
    inside, done = threading.Event(), threading.Event()

    def idle():
        with tg.no_grad():
            inside.set()
            done.wait(10)

    t = threading.Thread(target=idle)
    t.start()
    inside.wait(10)
    try:
        model = _model([5, 4, 3], "tanh", 1)
        failures = 0
        for _ in range(300):
            loss = F.cross_entropy(model(tg.Tensor(np.ones((2, 5)))), np.array([0, 2]))
            if not loss.requires_grad:
                failures += 1
                continue
            loss.backward()
        assert failures == 0 and tg.is_grad_enabled()
    finally:
        done.set()
        t.join()


def test_overlapping_no_grad_blocks_in_eight_threads_restore_every_mode():
    barrier = threading.Barrier(8)
    seen: list[tuple[bool, bool]] = []
    lock = threading.Lock()

    def worker(i):
        barrier.wait()
        for _ in range(200):
            with tg.no_grad():
                inner = tg.is_grad_enabled()
                if i % 2:
                    with tg.enable_grad():
                        assert tg.is_grad_enabled()
            with lock:
                seen.append((inner, tg.is_grad_enabled()))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == 1600 and all(s == (False, True) for s in seen)
    assert tg.is_grad_enabled()
    assert (leaf([1.0]) * 2).requires_grad


def test_anomaly_mode_and_tracing_are_per_thread():
    from tinygrad_mlp.tensor import _STATE

    flags = []
    with tg.detect_anomaly(), tg.trace(print_fn=None):
        t = threading.Thread(target=lambda: flags.append((_STATE.anomaly, _STATE.tracer)))
        t.start()
        t.join()
        assert _STATE.anomaly and _STATE.tracer is not None
    assert flags == [(False, None)]


def test_grad_mode_decorators_work_on_generators():
    x = leaf([1.0])

    @tg.no_grad()
    def gen():
        for _ in range(2):
            yield (x * 2).requires_grad, tg.is_grad_enabled()

    @tg.enable_grad()
    def gen2():
        yield (x * 2).requires_grad

    it = gen()
    assert next(it) == (False, False)
    assert tg.is_grad_enabled()  # between resumptions the caller's mode holds
    assert next(it) == (False, False)
    with tg.no_grad():
        assert list(gen2()) == [True]

    @tg.set_grad_enabled(False)
    def plain():
        return tg.is_grad_enabled()

    assert tg.is_grad_enabled() and plain() is False and tg.is_grad_enabled()
    tg.set_grad_enabled(False)
    try:
        assert not tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)
    with tg.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert tg.is_grad_enabled()


# ----- in-place operations and version counters ----------------------------------------------


def test_the_pytorch_tutorial_update_loop_keeps_identity_and_learns():
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((32, 3))
    ys = xs @ np.array([1.0, -2.0, 0.5])
    w = tg.Tensor(np.zeros(3), requires_grad=True)
    data = w.data
    first = None
    for _ in range(50):
        loss = ((tg.Tensor(xs) @ w - tg.Tensor(ys)) ** 2).mean()
        first = loss.item() if first is None else first
        loss.backward()
        with tg.no_grad():
            w -= 0.1 * w.grad
        w.grad = None
    assert w.data is data and w.requires_grad and w.is_leaf
    assert w._version == 50
    assert loss.item() < 0.5 * first


def test_in_place_on_a_leaf_that_requires_grad_is_an_error():
    w = leaf([1.0, 2.0])
    for op in (lambda: w.add_(1), lambda: w.__iadd__(1), lambda: w.mul_(2), lambda: w.zero_(),
               lambda: w.__setitem__(0, 5.0), lambda: w.clamp_(0, 1), lambda: w.fill_(3)):
        with pytest.raises(RuntimeError, match="leaf Tensor that requires grad"):
            op()
    np.testing.assert_array_equal(w.data, [1.0, 2.0])  # nothing changed
    assert w._version == 0


def test_no_grad_in_place_ops_change_the_array_and_bump_the_version():
    a = np.arange(4.0)
    t = tg.from_numpy(a)
    t += 1
    t -= 0.5
    t *= 2
    t /= 4
    t.add_(1, alpha=2).sub_(1).mul_(3).div_(3)
    assert t._version == 8 and t.data is a
    np.testing.assert_allclose(a, (np.arange(4.0) + 0.5) * 2 / 4 + 1)
    t.clamp_(1.5, 2.0)
    np.testing.assert_allclose(a, [1.5, 1.75, 2.0, 2.0])
    t[1:3] = 7.0
    t.fill_(3).zero_()
    t.copy_(tg.Tensor(np.array([1.0, 2.0, 3.0, 4.0])))
    np.testing.assert_array_equal(a, [1.0, 2.0, 3.0, 4.0])
    assert t._version == 13
    i = tg.Tensor(np.array([1, 2], np.int64))
    i += 1
    assert i.dtype == np.int64 and i.tolist() == [2, 3]
    with pytest.raises(TypeError, match="in-place"):
        i /= 2  # an integer tensor cannot hold 1.5 (torch refuses too)


def test_modifying_a_saved_value_in_place_is_a_clear_error_naming_the_op():
    x = leaf([0.5, -1.0])
    a = x.sigmoid()
    a.mul_(2)  # Sigmoid saved its output
    with pytest.raises(RuntimeError, match="modified by an in-place operation: Sigmoid saved "
                                           "its output at version 0.*version 1"):
        a.sum().backward()
    w = leaf(np.ones((2, 3)))
    loss = tg.linear(tg.Tensor(np.ones((4, 3))), w).sum()
    with tg.no_grad():
        w -= 0.1  # an optimizer step between forward and backward
    with pytest.raises(RuntimeError, match="Linear saved its input 1"):
        loss.backward()


def test_in_place_on_an_input_that_was_not_saved_routes_to_the_old_version():
    x = leaf([0.5, 1.0])
    t = x * 1.0
    b = t + 1  # Add saved nothing: it needs the old version only for its gradient's route
    t.mul_(3)
    (b.sum() + t.sum()).backward()
    np.testing.assert_array_equal(x.grad.data, [4.0, 4.0])
    torch = pytest.importorskip("torch")
    xt = torch.tensor([0.5, 1.0], dtype=torch.float64, requires_grad=True)
    tt = xt * 1.0
    bt = tt + 1
    tt.mul_(3)
    (bt.sum() + tt.sum()).backward()
    np.testing.assert_array_equal(x.grad.data, xt.grad.numpy())


def _recorded_in_place(op_name):
    """f(x, v): a non-leaf made from x, changed in place by op_name with v."""
    def f(x, v):
        t = x * 1.5
        if op_name == "setitem":
            t[1:3] = v[:2] * 2
        elif op_name == "setitem_adv":
            t[np.array([0, 2])] = v[:2]
        elif op_name == "add_":
            t.add_(v, alpha=0.5)
        elif op_name == "iadd":
            t += v
        elif op_name == "isub":
            t -= v
        elif op_name == "imul":
            t *= v
        elif op_name == "idiv":
            t /= v + 3.0
        elif op_name == "clamp_":
            (t.add_(v)).clamp_(-0.5, 0.5)
        elif op_name == "copy_":
            t.copy_(v * v)
        elif op_name == "fill_":
            t.fill_(2.0)
            t = t * v
        elif op_name == "zero_":
            t.zero_()
            t = t + v
        return t.sin()
    return f


@pytest.mark.parametrize("op_name", ["setitem", "setitem_adv", "add_", "iadd", "isub", "imul",
                                     "idiv", "clamp_", "copy_", "fill_", "zero_"])
def test_recorded_in_place_ops_have_right_gradients(op_name):
    rng = np.random.default_rng(0)
    x = leaf(rng.uniform(-1, 1, 4))
    v = leaf(rng.uniform(-1, 1, 4))
    assert tg.gradcheck(_recorded_in_place(op_name), [x, v])


def test_setitem_matches_torch():
    torch = pytest.importorskip("torch")
    x, v = leaf(np.arange(6.0).reshape(2, 3)), leaf([10.0, 20.0, 30.0])
    y = x * 2
    y[1] = v
    up = np.arange(6.0).reshape(2, 3) + 1
    (y * tg.Tensor(up)).sum().backward()
    xt = torch.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    vt = torch.tensor([10.0, 20.0, 30.0], dtype=torch.float64, requires_grad=True)
    yt = xt * 2
    yt[1] = vt
    (yt * torch.tensor(up)).sum().backward()
    np.testing.assert_array_equal(y.data, yt.detach().numpy())
    np.testing.assert_array_equal(x.grad.data, xt.grad.numpy())
    np.testing.assert_array_equal(v.grad.data, vt.grad.numpy())


def test_optimizers_update_in_place_and_bump_versions():
    model = _model([3, 2], "tanh", 0)
    datas = [p.data for p in model.parameters()]
    for opt in (optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
                optim.Adam(model.parameters(), lr=0.1)):
        opt.zero_grad()
        F.mse_loss(model(tg.Tensor(np.ones((2, 3)))), np.zeros((2, 2))).backward()
        before = [p._version for p in model.parameters()]
        opt.step()
        assert all(p._version > b for p, b in zip(model.parameters(), before, strict=True))
    assert all(p.data is d for p, d in zip(model.parameters(), datas, strict=True))
    loss = F.mse_loss(model(tg.Tensor(np.ones((2, 3)))), np.zeros((2, 2)))
    opt.step()  # a step between forward and backward changes values the graph saved
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()


# ----- construction copies; from_numpy / as_tensor share -------------------------------------


def test_construction_copies_the_users_array():
    a = np.array([1.0, 2.0])
    t = tg.Tensor(a, requires_grad=True)
    u = tg.tensor(a)
    y = (t * t).sum()
    a[:] = 100.0  # changing the user's array between forward and backward
    y.backward()
    np.testing.assert_array_equal(t.data, [1.0, 2.0])
    np.testing.assert_array_equal(u.data, [1.0, 2.0])
    np.testing.assert_array_equal(t.grad.data, [2.0, 4.0])


def test_from_numpy_and_as_tensor_share_memory():
    a = np.array([1.0, 2.0])
    for make in (tg.from_numpy, tg.as_tensor):
        t = make(a)
        assert t.data is a or np.shares_memory(t.data, a)
        a[0] += 1
        assert t.data[0] == a[0]


# ----- Function features ---------------------------------------------------------------------


def test_needs_input_grad_is_set_before_forward():
    seen = []

    class Probe(tg.Function):
        @staticmethod
        def forward(ctx, a, b):
            seen.append(ctx.needs_input_grad)
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, g

    Probe.apply(leaf([1.0]), tg.Tensor(np.array([2.0])))
    Probe.apply(tg.Tensor(np.array([1.0])), leaf([2.0]))
    with tg.no_grad():
        Probe.apply(leaf([1.0]), leaf([2.0]))
    assert seen == [(True, False), (False, True), (True, True)]  # as torch, also in no_grad


class _SinCos(tg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.sin(x), np.cos(x)

    @staticmethod
    def backward(ctx, gs, gc_):
        (x,) = ctx.saved_tensors
        cos = x.cos() if isinstance(x, tg.Tensor) else np.cos(x)
        sin = x.sin() if isinstance(x, tg.Tensor) else np.sin(x)
        return gs * cos - gc_ * sin


def test_a_function_with_two_outputs():
    x = leaf([0.3, 1.2])
    s, c = _SinCos.apply(x)
    np.testing.assert_allclose(s.data, np.sin([0.3, 1.2]))
    (s.sum() * 2).backward()  # c unused: its gradient is zeros
    np.testing.assert_allclose(x.grad.data, 2 * np.cos([0.3, 1.2]))
    assert tg.gradcheck(lambda t: _SinCos.apply(t)[0] * _SinCos.apply(t)[1], [x])
    assert tg.gradcheck(lambda t: _SinCos.apply(t), [x])


def test_mark_non_differentiable_and_set_materialize_grads():
    got = []

    class SortWithIndex(tg.Function):
        @staticmethod
        def forward(ctx, x):
            idx = np.argsort(x)
            ctx.mark_non_differentiable(idx)
            ctx.set_materialize_grads(False)
            ctx.idx = idx
            return x[idx], idx

        @staticmethod
        def backward(ctx, g, g_idx):
            got.append(g_idx)
            out = np.zeros_like(g)
            out[ctx.idx] = g
            return out

    x = leaf([3.0, 1.0, 2.0])
    y, idx = SortWithIndex.apply(x)
    assert not idx.requires_grad and y.requires_grad
    (y * tg.Tensor(np.array([1.0, 2.0, 3.0]))).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 1.0, 2.0])
    assert got == [None]


# ----- module graph --------------------------------------------------------------------------


def _top_level_imports(path: Path, modules: set[str]) -> set[str]:
    """Modules of the package that ``path`` imports at module level (imports inside
    functions are lazy and do not count); ``from pkg import sub`` counts as ``pkg.sub``."""
    names = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tinygrad_mlp"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                names.add(sub if sub in modules else node.module)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("tinygrad_mlp"))
    return names


def test_no_import_cycle_beyond_tensor_ops_function():
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    graph = {m: {n for n in _top_level_imports(p, set(modules)) if n in modules and n != m}
             for m, p in modules.items()}
    core = {"tinygrad_mlp.tensor", "tinygrad_mlp.function", "tinygrad_mlp.ops"}
    core |= {m for m in modules if m.startswith("tinygrad_mlp.ops.")}

    def reaches(a, b):
        seen, stack = set(), [a]
        while stack:
            m = stack.pop()
            for n in graph.get(m, ()):
                if n == b:
                    return True
                if n not in seen:
                    seen.add(n)
                    stack.append(n)
        return False

    cyclic = sorted(m for m in modules if m not in core and m != "tinygrad_mlp"
                    and reaches(m, m))
    assert not cyclic, f"modules in an import cycle: {cyclic}"
    assert "tinygrad_mlp.viz" not in graph["tinygrad_mlp.tensor"]
    assert not any(n.startswith("tinygrad_mlp.nn") for n in graph["tinygrad_mlp.viz"])


def test_in_place_through_a_view_or_a_detached_alias_is_seen_by_backward():
    x = leaf([0.5, 1.0])
    a = x.sigmoid()
    a.detach().mul_(2)  # detach() shares values and the version counter, as in torch
    with pytest.raises(RuntimeError, match="Sigmoid saved its output"):
        a.sum().backward()
    x = leaf([[0.5, 1.0]])
    a = x.exp()
    with tg.no_grad():
        a.reshape(-1).mul_(2)  # a reshape is a view: it shares the version counter
    with pytest.raises(RuntimeError, match="Exp saved its output"):
        a.sum().backward()
    x = leaf([[1.0, 2.0]])
    b = x * 2
    y = b.reshape(-1)
    y += 1  # recorded in place through a view: the change is recorded on b, as in torch
    (b * b).sum().backward()  # d/dx Σ(2x + 1)² = 4(2x + 1)
    np.testing.assert_array_equal(x.grad.data, [[12.0, 20.0]])
    x = leaf([[1.0, 2.0]])
    z = (x * 2).reshape(-1).clone()  # a clone is no view: in place on it is recorded
    z += 1
    (z * z).sum().backward()  # d/dx Σ(2x + 1)² = 4(2x + 1)
    np.testing.assert_array_equal(x.grad.data, [[12.0, 20.0]])


@pytest.mark.parametrize("inplace", [lambda x: x.__iadd__(1.0), lambda x: x.mul_(2.0),
                                     lambda x: x.__setitem__(0, 0.0)])
def test_jit_refuses_in_place_ops_it_could_not_replay(inplace):
    model = _model([3, 2], "tanh", 0)

    def loss(x, y):
        x = x * 1.0
        inplace(x)
        return F.mse_loss(model(x), y)

    step = tg.jit(loss)
    with pytest.raises(RuntimeError, match="tg.jit cannot replay in-place operations"):
        step(np.ones((2, 3)), np.zeros((2, 2)))


def test_jit_inside_forward_mode_is_refused():
    model = _model([3, 2], "tanh", 0)
    step = tg.jit(lambda x, y: F.mse_loss(model(x), y))
    w = model[0].weight
    with pytest.raises(tg.JitError, match="tangents"):
        tg.func.jvp(lambda _: step(np.ones((2, 3)), np.zeros((2, 2))), (w,),
                    (tg.Tensor(np.ones(w.shape, w.dtype)),))


def test_backward_takes_torchs_gradient_and_inputs_keywords():
    torch = pytest.importorskip("torch")

    def run(lib):
        new = (lambda a: tg.tensor(a, requires_grad=True)) if lib == "tg" else (
            lambda a: torch.tensor(a, requires_grad=True))
        x, w = new(np.array([1.0, -2.0])), new(np.array([3.0]))
        h = x * w
        h.retain_grad()
        y = h * h
        y.backward(gradient=(tg.tensor if lib == "tg" else torch.tensor)(np.array([1.0, 0.5])),
                   inputs=[w, h], retain_graph=True)
        first = [None if t.grad is None else t.grad.numpy().copy() for t in (x, w, h)]
        (tg.autograd if lib == "tg" else torch.autograd).backward(
            [y.sum()], inputs=[x])  # accumulates into x only
        return first, [t.grad.numpy() for t in (x, w, h)]

    (first, second), (tfirst, tsecond) = run("tg"), run("torch")
    assert first[0] is None and tfirst[0] is None  # x was not among the inputs
    for a, b in zip(first[1:] + second, tfirst[1:] + tsecond, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (x * 2).sum().backward(inputs=[])
    with pytest.raises(RuntimeError, match="input 0 does not require grad"):
        (x * 2).sum().backward(inputs=[tg.tensor([1.0])])
    with pytest.raises(TypeError, match="both grad and gradient"):
        (x * 2).backward(np.ones(1), gradient=np.ones(1))


def test_retain_grad_tensors_get_their_gradient_whatever_the_walk_is_for():
    """As torch: a retain_grad() tensor on the path gets .grad in tg.grad and in
    backward(inputs=...) too (once, also when it is itself one of the inputs)."""
    torch = pytest.importorskip("torch")

    def run(lib):
        new = (lambda a: tg.tensor(a, requires_grad=True)) if lib == "tg" else (
            lambda a: torch.tensor(a, requires_grad=True))
        x = new(np.array([1.0, -2.0]))
        h = x * 3.0
        h.retain_grad()
        y = (h * h).sum()
        (gx,) = (tg.grad if lib == "tg" else torch.autograd.grad)(y, x, retain_graph=True)
        after_grad = h.grad.numpy().copy()
        y.backward(inputs=[h], retain_graph=True)
        y.backward(inputs=[x])
        return gx.numpy(), after_grad, h.grad.numpy(), x.grad.numpy()

    for a, b in zip(run("tg"), run("torch"), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12)


def test_inference_mode_records_nothing_as_no_grad():
    x = leaf([1.0, 2.0])
    with tg.inference_mode():
        assert not (x * 2).requires_grad and not tg.is_grad_enabled()
    with tg.inference_mode(False):
        assert (x * 2).requires_grad
    assert tg.is_grad_enabled()

    @tg.inference_mode()
    def predict(t):
        return t * 3

    assert not predict(x).requires_grad and tg.is_grad_enabled()


def test_grad_materialize_grads_gives_zeros_for_unused_inputs_as_torch():
    x, unused = leaf([1.0, 2.0]), leaf([[3.0]])
    gx, gu = tg.grad((x * x).sum(), [x, unused], materialize_grads=True)
    np.testing.assert_array_equal(gx.numpy(), [2.0, 4.0])
    assert gu.shape == (1, 1) and not gu.numpy().any()
    with pytest.raises(RuntimeError, match="was not used"):
        tg.grad((x * x).sum(), [x, unused])
    assert tg.grad((x * x).sum(), [x, unused], allow_unused=True)[1] is None
