"""In-place changes and views, against PyTorch as the oracle.

A change can reach a tensor's values three ways (through the tensor, through a view of it,
through another view) and can be read afterwards four ways (by an op recorded before the
change, through the tensor, through a view made before the change, through the view that
made it). For every view kind and in-place op, tinygrad_mlp must give PyTorch's gradients,
or refuse where PyTorch refuses. The class of bug this guards: a view made before its base
changed kept differentiating as if it had not (a silently wrong gradient), and the walk
back to the value an in-place op overwrote took the op's first input (for ``copy_`` and
``fill_``, the new value).
"""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_mlp as tg

torch = pytest.importorskip("torch")

VIEWS = {  # a view of a (2, 3) tensor, spelled the same in both libraries
    "slice": lambda y: y[:, 1:],
    "row": lambda y: y[1],
    "reshape": lambda y: y.reshape(3, 2),
    "T": lambda y: y.T,
    "unsqueeze": lambda y: y.unsqueeze(0),
    "view of a view": lambda y: y[:, 1:][0],
    "element": lambda y: y[1, 2],
}

CHANGES = {  # an in-place change of v, with w (v's shape, requires grad)
    "mul_": lambda v, w: v.mul_(2.0),
    "add_": lambda v, w: v.add_(w),
    "iadd": lambda v, w: v.__iadd__(w * w),
    "div_": lambda v, w: v.div_(w * w + 3.0),
    "copy_": lambda v, w: v.copy_(w * 3.0),
    "fill_": lambda v, w: v.fill_(0.25),
    "zero_": lambda v, w: v.zero_(),
    "clamp_": lambda v, w: v.clamp_(-1.0, 1.0),
    "setitem": lambda v, w: v.__setitem__(..., w.sin()),
}

ROUTES = ("through the view", "through the base", "through another view")


def _scenario(x, w, w_base, view: str, change: str, route: str):
    """Change x·1.5 in place by ``route``, then read it every way: a weighted sum of
    squares of the reads (the same code runs on tinygrad_mlp and torch tensors)."""
    y = x * 1.5
    v = VIEWS[view](y)
    u = y[0]  # another view, made before the change (overlaps every view but "row")
    before = y * 3.0  # recorded before the change; saves no array
    if route == "through the view":
        CHANGES[change](v, w)
    elif route == "through the base":
        CHANGES[change](y, w_base)
    else:
        CHANGES[change](u, w.reshape(-1)[:1])  # broadcast over the row
    reads = [before, y, v, u, VIEWS[view](y)]
    return sum(((r * r).sum() * (k + 1) for k, r in enumerate(reads)), 0.0 * x.sum())


def _inputs(new, view: str):
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-2, 2, (2, 3))
    v_shape = tuple(VIEWS[view](tg.tensor(x0)).shape)
    return new(x0), new(rng.uniform(-2, 2, v_shape)), new(rng.uniform(-2, 2, (2, 3)))


def _run(lib: str, view: str, change: str, route: str):
    """Gradients of x and w (or the error's type) after the scenario, in ``lib``."""
    if lib == "tg":
        new = lambda a: tg.tensor(a, requires_grad=True)  # noqa: E731
    else:
        new = lambda a: torch.tensor(a, dtype=torch.float64, requires_grad=True)  # noqa: E731
    x, w, w_base = _inputs(new, view)
    try:
        _scenario(x, w, w_base, view, change, route).backward()
    except RuntimeError as e:
        return type(e).__name__
    grads = []
    for t in (x, w, w_base):
        g = t.grad
        grads.append(None if g is None else (g.numpy() if lib == "tg" else g.detach().numpy()))
    return grads


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("view", sorted(VIEWS))
def test_views_and_in_place_changes_match_torch(view, change, route):
    mine = _run("tg", view, change, route)
    ref = _run("torch", view, change, route)
    if isinstance(ref, str) or isinstance(mine, str):
        assert mine == ref, (mine, ref)
        return
    for a, b in zip(mine, ref, strict=True):
        if b is None:
            assert a is None or not np.any(a)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("change", sorted(CHANGES))
@pytest.mark.parametrize("view", ["slice", "T", "view of a view"])
def test_views_and_in_place_changes_in_forward_mode(view, change, route):
    """tg.func.jvp through the same scenarios agrees with finite differences: tangents
    follow in-place changes and views as gradients do."""
    x, w, w_base = _inputs(lambda a: tg.tensor(a, requires_grad=True), view)
    f = lambda x, w, w_base: _scenario(x, w, w_base, view, change, route)  # noqa: E731
    assert tg.gradcheck(f, [x, w, w_base], check_forward_ad=True)


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_an_op_recorded_before_an_in_place_change_differentiates_the_old_value(change):
    """For every in-place op (copy_ and fill_ included), a reader recorded before the
    change gets the gradient of the value it read."""
    def run(new):
        x = new(np.array([0.5, -1.0, 2.0]))
        w = new(np.array([1.5, 0.25, -0.75]))
        y = x * 2.0
        z = y * 3.0  # saves no array: the change is allowed, and z used the old y
        CHANGES[change](y, w)
        (z.sum() + (y * y).sum()).backward()
        return x.grad, w.grad

    mine = run(lambda a: tg.tensor(a, requires_grad=True))
    ref = run(lambda a: torch.tensor(a, requires_grad=True))
    for a, b in zip(mine, ref, strict=True):
        if b is None:
            assert a is None or not np.any(a.numpy())
        else:
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)


def test_backward_from_a_view_whose_base_changed_follows_the_base():
    def run(new):
        x = new(np.array([[1.0, 2.0], [3.0, 4.0]]))
        y = x * 1.0
        v = y[1]
        y.mul_(x)  # v now reads x·x
        v.sum().backward()
        return x.grad

    mine = run(lambda a: tg.tensor(a, requires_grad=True))
    ref = run(lambda a: torch.tensor(a, requires_grad=True))
    np.testing.assert_allclose(mine.numpy(), ref.numpy(), rtol=1e-12)


def test_in_place_through_a_view_of_a_leaf_that_requires_grad_is_refused():
    x = tg.tensor(np.ones((2, 3)), requires_grad=True)
    with pytest.raises(RuntimeError, match="a view of a leaf Tensor that requires grad"):
        x[0].mul_(2.0)
    with tg.no_grad():
        x[0].mul_(2.0)  # as torch: allowed where nothing is recorded
    np.testing.assert_array_equal(x.data[0], [2.0, 2.0, 2.0])


def test_a_view_made_without_recording_cannot_be_changed_while_recording():
    x = tg.tensor(np.ones(3), requires_grad=True)
    y = x * 2.0
    with tg.no_grad():
        v = y[1:]
    with pytest.raises(RuntimeError, match="made under no_grad"):
        v.add_(1.0)
    xt = torch.ones(3, dtype=torch.float64, requires_grad=True)
    yt = xt * 2.0
    with torch.no_grad():
        vt = yt[1:]
    with pytest.raises(RuntimeError):
        vt.add_(1.0)


def test_building_a_tensor_through_views_of_a_constant():
    """zeros, then in-place additions through views: the constant becomes part of the
    graph (it requires grad afterwards), as in torch."""
    w = tg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    out = tg.zeros(4, dtype=np.float64)
    out[1:3].add_(w * w)
    out[:2].mul_(w)
    assert out.requires_grad
    (out * np.arange(1.0, 5.0)).sum().backward()
    wt = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    outt = torch.zeros(4, dtype=torch.float64)
    outt[1:3].add_(wt * wt)
    outt[:2].mul_(wt)
    (outt * torch.arange(1.0, 5.0, dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(out.data, outt.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-12)


def test_in_place_through_a_view_passes_gradcheck():
    def f(x, w):
        y = x * 1.5
        y[:, 1:].mul_(w)
        y.T[0].add_(w[0] * w[1])
        return (y * y).sum(axis=0)

    rng = np.random.default_rng(3)
    x = tg.tensor(rng.uniform(-1, 1, (2, 3)), requires_grad=True)
    w = tg.tensor(rng.uniform(-1, 1, (2, 2)), requires_grad=True)
    assert tg.gradcheck(f, [x, w])


# ----- random programs: views, in-place ops and reads in any order -----------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_UNARY = ("exp", "sin", "tanh", "sigmoid", "relu", "neg", "abs", "sqrt", "log")
_VIEW_OPS = ("rows", "cols", "T", "flat", "row", "element", "unsqueeze", "detach", "clone",
             "expand")
_IN_PLACE = ("mul_", "add_", "mul_t", "add_t", "sub_t", "div_t", "exp_", "sin_", "zero_",
             "neg_", "relu_", "copy_", "setitem", "setitem_t", "clamp_", "pow_", "fill_",
             "masked_fill_")
_OTHER = ("binary", "broadcast", "matmul", "sum0", "mean", "max1", "softmax", "cat")


def _program_view(t, kind):
    shape = tuple(t.shape)
    if kind == "rows" and len(shape) >= 1 and shape[0] > 1:
        return t[1:]
    if kind == "cols" and len(shape) >= 2 and shape[1] > 1:
        return t[:, :-1]
    if kind == "T" and len(shape) == 2:
        return t.T
    if kind == "flat" and len(shape) >= 1:
        return t.reshape(-1)
    if kind == "row" and len(shape) >= 1:
        return t[0]
    if kind == "element" and len(shape) >= 1:
        return t[(0,) * len(shape)]
    if kind == "unsqueeze":
        return t.unsqueeze(0)
    if kind == "detach":
        return t.detach()
    if kind == "clone":
        return t.clone()
    if kind == "expand" and len(shape) == 1:
        return t.expand(2, shape[0])
    return None


def _program(prog, leaves):
    """Run ``prog`` on the leaves (tinygrad_mlp or torch tensors, or plain tinygrad_mlp
    tensors under no_grad for finite differences): a pool of tensors grows by ops and views
    of its members, members change in place, and the loss reads every member."""
    lib = tg if isinstance(leaves[0], tg.Tensor) else torch
    pool = [leaves[0] * 1.0, leaves[1] * 1.0]
    for op, a, b in prog:
        t, u = pool[a % len(pool)], pool[b % len(pool)]
        same = tuple(u.shape) == tuple(t.shape) and u is not t
        if op in _UNARY:
            pool.append((t * t + 0.5).sqrt() if op == "sqrt" else (t * t + 0.5).log()
                        if op == "log" else getattr(t, op)())
        elif op in _VIEW_OPS:
            v = _program_view(t, op)
            if v is not None:
                pool.append(v)
        elif op == "binary" and same:
            pool.append(t * u + u)
        elif op == "broadcast" and t.ndim == 2 and u.ndim == 1 and u.shape[0] == t.shape[1]:
            pool.append(t * u)
        elif op == "matmul" and t.ndim == 2 and u.ndim == 2 and t.shape[1] == u.shape[1]:
            pool.append(t @ u.T)
        elif op == "sum0" and t.ndim >= 1:
            pool.append(t.sum(0))
        elif op == "mean":
            pool.append(t.mean())
        elif op == "max1" and t.ndim == 2:
            pool.append(t.max(1)[0] if lib is torch else t.max(axis=1))
        elif op == "softmax" and t.ndim >= 1:
            pool.append(t.softmax(-1))
        elif op == "cat" and same and t.ndim >= 1:
            pool.append(lib.cat([t, u]))
        elif op in ("mul_", "add_"):
            getattr(t, op)(1.5 if op == "mul_" else 0.25)
        elif op in ("mul_t", "add_t", "sub_t") and same:
            getattr(t, op[:-2] + "_")(u)
        elif op == "div_t" and same:
            t.div_(u * u + 1.0)
        elif op in ("exp_", "sin_", "zero_", "neg_", "relu_"):
            getattr(t, op)()
        elif op == "copy_" and same:
            t.copy_(u * 2.0)
        elif op == "setitem" and t.ndim >= 1:
            t[0] = 0.5
        elif (op == "setitem_t" and t.ndim >= 1 and u.ndim >= 1 and u is not t
              and tuple(u[0].shape) == tuple(t[0].shape)):
            t[0] = u[0] * 3.0
        elif op == "clamp_":
            t.clamp_(-0.5, 0.5)
        elif op == "pow_":
            t.pow_(2.0)
        elif op == "fill_":
            t.fill_(0.3)
        elif op == "masked_fill_":
            t.masked_fill_(t > 0.1, 0.1)
    return sum(((p * p).sum() * (k + 1) for k, p in enumerate(pool)), 0.0 * leaves[0].sum())


_programs = st.lists(
    st.tuples(st.sampled_from(_UNARY + _VIEW_OPS + _IN_PLACE + _OTHER),
              st.integers(0, 19), st.integers(0, 19)),
    min_size=1, max_size=10,
)


@settings(max_examples=200)  # a second each: the widest net this file casts
@given(prog=_programs, seed=st.integers(0, 2**16))
def test_random_programs_of_views_and_in_place_ops_match_torch(prog, seed):
    """Where torch differentiates, tinygrad_mlp gives the same gradients; where torch
    refuses (its ops save their in-place results, ours save copies, so we refuse less),
    our gradients must agree with central finite differences."""
    rng = np.random.default_rng(seed)
    x0 = [rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (3, 4))]

    def grads(lib):
        new = (lambda a: tg.tensor(a, requires_grad=True)) if lib == "tg" else (
            lambda a: torch.tensor(a, requires_grad=True))
        leaves = [new(a) for a in x0]
        try:
            _program(prog, leaves).backward()
        except (RuntimeError, ValueError):  # refused (a saved value changed, a read-only view)
            return None
        return [np.zeros((3, 4)) if t.grad is None else t.grad.numpy() for t in leaves]

    mine, ref = grads("tg"), grads("torch")
    if ref is not None:
        assert mine is not None, "tinygrad_mlp refused what torch differentiates"
        for a, b in zip(mine, ref, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    elif mine is not None and not any(op == "detach" for op, _, _ in prog):
        # (finite differences see through detach(), which gradients must not)
        def loss(arrays):
            with tg.no_grad():
                return _program(prog, [tg.tensor(a) for a in arrays]).item()

        if not abs(loss(x0)) < 1e6:  # exp of exp of ...: finite differences lose the digits
            return
        for k in range(2):
            numeric = np.zeros((3, 4))
            for idx in np.ndindex(3, 4):
                up, down = [a.copy() for a in x0], [a.copy() for a in x0]
                up[k][idx] += 1e-6
                down[k][idx] -= 1e-6
                numeric[idx] = (loss(up) - loss(down)) / 2e-6
            scale = max(1.0, float(np.abs(numeric).max()))
            np.testing.assert_allclose(mine[k], numeric, rtol=1e-5, atol=1e-5 * scale)


@settings(max_examples=100)
@given(prog=_programs, seed=st.integers(0, 2**16))
def test_random_programs_second_derivatives_match_torch(prog, seed):
    """The same programs, differentiated twice (create_graph=True): the gradient of the
    squared gradient norm. Wherever torch computes it, ours is the same."""
    rng = np.random.default_rng(seed)
    x0 = [rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (3, 4))]

    def second(lib):
        new = (lambda a: tg.tensor(a, requires_grad=True)) if lib == "tg" else (
            lambda a: torch.tensor(a, requires_grad=True))
        grad = tg.grad if lib == "tg" else torch.autograd.grad
        leaves = [new(a) for a in x0]
        try:
            first = grad(_program(prog, leaves), leaves, create_graph=True, allow_unused=True)
            norm = sum(((g * g).sum() for g in first if g is not None), 0.0 * leaves[0].sum())
            if not norm.requires_grad:
                return [np.zeros((3, 4))] * 2
            out = grad(norm, leaves, allow_unused=True)
        except (RuntimeError, ValueError):
            return None
        return [np.zeros((3, 4)) if g is None else np.asarray(g.detach().numpy()) for g in out]

    ref = second("torch")
    if ref is not None:
        mine = second("tg")
        assert mine is not None, "tinygrad_mlp refused what torch differentiates"
        for a, b in zip(mine, ref, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


@settings(max_examples=100)
@given(prog=_programs, seed=st.integers(0, 2**16))
def test_random_programs_forward_mode_agrees_with_reverse_mode(prog, seed):
    """tg.func.jvp of the same programs: the loss's tangent along (t0, t1) is Σ grad·t
    from backward, through every view and in-place change."""
    rng = np.random.default_rng(seed)
    x0 = [rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (3, 4))]
    tangents = [rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (3, 4))]
    leaves = [tg.tensor(a, requires_grad=True) for a in x0]
    try:
        _program(prog, leaves).backward()
    except (RuntimeError, ValueError):
        return  # refused (a saved value changed): nothing to compare
    expected = sum(float((t.grad.numpy() * d).sum()) for t, d in zip(leaves, tangents,
                                                                      strict=True)
                   if t.grad is not None)
    _, tangent = tg.func.jvp(lambda a, b: _program(prog, [a, b]),
                             tuple(tg.tensor(a) for a in x0), tuple(tg.tensor(d) for d in tangents))
    if np.isfinite(expected):  # (an overflow to inf has no tangent to compare)
        assert float(tangent.item()) == pytest.approx(expected, rel=1e-8, abs=1e-9)


_NO_IN_PLACE = _UNARY + tuple(v for v in _VIEW_OPS if v != "detach") + _OTHER


@settings(max_examples=50)
@given(prog=st.lists(st.tuples(st.sampled_from(_NO_IN_PLACE), st.integers(0, 19),
                               st.integers(0, 19)), min_size=1, max_size=10),
       seed=st.integers(0, 2**16))
def test_random_programs_jit_replays_are_bit_identical_to_eager(prog, seed):
    """tg.jit (which refuses in-place ops) traced on one batch and replayed on two more
    gives the eager losses and gradients bit for bit, whatever the program."""
    rng = np.random.default_rng(seed)
    init = [rng.uniform(-1, 1, (3, 4)), rng.uniform(-1, 1, (3, 4))]
    batches = [rng.uniform(-1, 1, (3, 4)) for _ in range(3)]

    def run(jitted):
        params = [tg.tensor(a.copy(), requires_grad=True) for a in init]
        loss_of = lambda x: _program(prog, [params[0] * x, params[1]])  # noqa: E731
        step = tg.jit(loss_of) if jitted else None
        out = []
        for x in batches:
            for p in params:
                p.grad = None
            if jitted:
                loss = step(x)
            else:
                loss = loss_of(tg.tensor(x))
                loss.backward()
            out.append([loss.numpy()] + [np.zeros(1) if p.grad is None else p.grad.numpy()
                                         for p in params])
        return out

    for a, b in zip(run(False), run(True), strict=True):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_array_equal(x, y)  # NaN where NaN, bit for bit elsewhere


def test_an_in_place_result_that_does_not_fit_the_view_is_refused():
    x = tg.tensor(np.ones((3, 4)), requires_grad=True)
    y = x * 1.0
    with pytest.raises(ValueError, match=r"shape \(2, 4\), which does not fit .*\(4,\)"):
        y[0].add_(tg.tensor(np.ones((2, 4))))
    np.testing.assert_array_equal(y.data, np.ones((3, 4)))  # nothing written
