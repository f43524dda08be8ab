"""Check analytical gradients against central finite differences, in float64.

For ``y = f(x)`` the Jacobian entry ``J[j, k] = ∂y_j/∂x_k`` is computed two ways:

* **numerically**, column by column: ``(f(x + ε e_k) − f(x − ε e_k)) / 2ε`` gives every
  output's derivative with respect to input element ``k`` from two forward passes;
* **analytically**, row by row: backward with the one-hot upstream gradient ``e_j`` gives
  ``e_jᵀ J``, the derivatives of output element ``j`` with respect to every input element.

Entries agree when ``|analytical − numerical| ≤ atol + rtol·|numerical|``. A mismatch is
reported as the Jacobian entry a user can derive by hand: which input and element, which
output and element, and both values. Backward is run twice on the same graph and must give
the same rows (a rule that keeps state between calls, or is nondeterministic, fails).

``fast_mode=True`` compares one random projection ``vᵀ J u`` per input instead (one
backward and two forwards per input, whatever the sizes): quick, but a failure can only say
*which input* is wrong; rerun without it to see the entry.

How to read a failure, with a worked example: ``docs/gradcheck.md``.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from tinygrad_mlp.tensor import Tensor, enable_grad, grad, no_grad


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree; the message says where and by how much."""


# ----- inputs and outputs ----------------------------------------------------------------


def _as_inputs(inputs: Any) -> tuple[list[Any], list[int], str]:
    """Inputs as a list, the indices of those to check, and a note for the report.

    Float arrays and Tensors that require grad become private float64 leaves that keep the
    original memory order (C or Fortran) but own their memory, so perturbing an element
    changes exactly what ``fn`` reads, and the user's tensors are never touched. float32
    inputs are checked in float64 (finite differences in float32 are mostly rounding
    error), with a warning saying so.
    """
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    out: list[Any] = []
    checked: list[int] = []
    lowered: list[str] = []
    for i, x in enumerate(items):
        if isinstance(x, np.ndarray) and x.dtype.kind == "f":
            x = Tensor(x, requires_grad=True)
        if isinstance(x, Tensor) and x.requires_grad:
            if x.dtype != np.float64:
                lowered.append(f"input {i} ({x.dtype})")
            x = Tensor(np.array(x.data, dtype=np.float64, order="K"), requires_grad=True)
            checked.append(i)
        out.append(x)
    if not lowered:
        return out, checked, ""
    note = (f"{', '.join(lowered)} checked as float64 copies: finite differences need "
            "float64 precision (the function runs in float64 here)")
    warnings.warn(f"gradcheck: {note}", stacklevel=3)
    return out, checked, f"\nnote: {note}"


def _outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[Tensor]:
    """fn's floating-point outputs as a list of Tensors."""
    result = fn(*inputs)
    outs = list(result) if isinstance(result, (list, tuple)) else [result]
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors, got {type(o).__name__}")
    return [o for o in outs if o.dtype.kind == "f"]


def _values(fn: Callable[..., Any], xs: Sequence[Any]) -> np.ndarray:
    """All float outputs of ``fn(*xs)``, flattened and concatenated, as a float64 copy."""
    with no_grad():
        outs = _outputs(fn, xs)
    if not outs:
        return np.zeros(0)
    return np.concatenate([np.array(o.data, dtype=np.float64).reshape(-1) for o in outs])


class _Entries:
    """Names Jacobian entries: flat output row ``j`` -> (output index, element index)."""

    def __init__(self, outs: Sequence[Tensor]) -> None:
        self.shapes = [o.shape for o in outs]
        self.offsets = np.cumsum([0] + [o.size for o in outs])

    def output(self, j: int) -> tuple[int, tuple[int, ...]]:
        o = int(np.searchsorted(self.offsets, j, side="right")) - 1
        return o, _element(j - int(self.offsets[o]), self.shapes[o])


def _element(k: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(k, shape)) if shape else ()


def _perturbed(fn: Callable[..., Any], xs: list[Any], i: int, idx: tuple[int, ...] | None,
               delta: Any) -> np.ndarray:
    """``_values`` with ``delta`` added to input ``i`` (at element ``idx``, or everywhere)."""
    x = xs[i]
    where = idx if idx is not None else ...
    orig = np.copy(x.data[where])
    x.data[where] = orig + delta  # in place: the very array fn reads, whatever its layout
    x._bump_version()
    try:
        return _values(fn, xs)
    finally:
        x.data[where] = orig
        x._bump_version()


# ----- the two Jacobians --------------------------------------------------------------------


def _backward_rows(outs: Sequence[Tensor], xs: list[Any], checked: list[int],
                   seeds: Iterable[Sequence[np.ndarray]]) -> list[list[np.ndarray]]:
    """For each seed (one upstream gradient per output): the gradient of every checked
    input, flattened; zeros where backward gives none. The graph is kept for reuse."""
    live = [k for k, o in enumerate(outs) if o.requires_grad]
    rows = []
    for seed in seeds:
        if live:
            gs = grad([outs[k] for k in live], [xs[i] for i in checked],
                      grad_outputs=[seed[k] for k in live], retain_graph=True,
                      allow_unused=True)
        else:
            gs = (None,) * len(checked)
        row = []
        for i, g in zip(checked, gs, strict=True):
            if g is not None and g.shape != xs[i].shape:
                raise GradcheckError(
                    f"gradient for input {i} has shape {g.shape}, input has {xs[i].shape}"
                )
            row.append(np.zeros(xs[i].size) if g is None
                       else np.array(g.data, dtype=np.float64).reshape(-1))
        rows.append(row)
    return rows


def _one_hot_seeds(outs: Sequence[Tensor]) -> Iterator[list[np.ndarray]]:
    """One upstream gradient per output element: 1 there, 0 everywhere else."""
    for k, o in enumerate(outs):
        for j in range(o.size):
            seed = [np.zeros(p.shape, dtype=p.dtype) for p in outs]
            seed[k].reshape(-1)[j] = 1
            yield seed


def _analytical(outs: Sequence[Tensor], xs: list[Any], checked: list[int]) -> list[np.ndarray]:
    """One Jacobian per checked input, shape (output elements, input elements)."""
    rows = _backward_rows(outs, xs, checked, _one_hot_seeds(outs))
    n_out = sum(o.size for o in outs)
    return [np.array([r[c] for r in rows]).reshape(n_out, xs[i].size)
            for c, i in enumerate(checked)]


def _numerical(fn: Callable[..., Any], xs: list[Any], checked: list[int], eps: float,
               n_out: int) -> list[np.ndarray]:
    """One Jacobian per checked input by central differences, a column per input element."""
    jacobians = []
    for i in checked:
        shape = xs[i].shape
        jac = np.zeros((n_out, xs[i].size))
        for k in range(xs[i].size):
            idx = _element(k, shape)
            plus = _perturbed(fn, xs, i, idx, eps)
            minus = _perturbed(fn, xs, i, idx, -eps)
            jac[:, k] = (plus - minus) / (2 * eps)
        jacobians.append(jac)
    return jacobians


def _forward_mode(fn: Callable[..., Any], xs: list[Any], checked: list[int],
                  tangents: Sequence[Any]) -> np.ndarray:
    """Flat float outputs' tangent from ``tg.func.jvp`` along ``tangents`` (per checked input)."""
    try:
        from tinygrad_mlp import func
    except ImportError:
        func = None
    if func is None or not hasattr(func, "jvp"):
        raise NotImplementedError(
            "gradcheck(check_forward_ad=True) needs forward mode (tinygrad_mlp.func.jvp), "
            "which this installation does not have"
        )

    def of_checked(*values: Any) -> Any:
        args = list(xs)
        for i, v in zip(checked, values, strict=True):
            args[i] = v
        return fn(*args)

    primals = tuple(xs[i] for i in checked)
    out, tangent_out = func.jvp(of_checked, primals, tuple(Tensor(t) for t in tangents))
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    touts = list(tangent_out) if isinstance(tangent_out, (list, tuple)) else [tangent_out]
    flat = [np.zeros(o.size) if t is None else np.array(np.asarray(t), np.float64).reshape(-1)
            for o, t in zip(outs, touts, strict=True) if o.dtype.kind == "f"]
    return np.concatenate(flat) if flat else np.zeros(0)


# ----- reports --------------------------------------------------------------------------------


def _excess(analytical: np.ndarray, numerical: np.ndarray, atol: float, rtol: float):
    """How far each entry is outside tolerance (> 0 fails; NaN on either side fails)."""
    excess = np.abs(analytical - numerical) - (atol + rtol * np.abs(numerical))
    return np.where(np.isnan(excess), np.inf, excess)


def _kink_hint(fn: Callable[..., Any], xs: list[Any], i: int, idx: tuple[int, ...], j: int,
               eps: float, atol: float, rtol: float) -> str:
    """A hint when output ``j`` is not smooth in input ``i`` at ``idx`` (a kink within a few
    eps): one-sided differences disagree, or the central difference changes with eps."""
    def f(delta: float) -> float:
        return float(_perturbed(fn, xs, i, idx, delta)[j])

    f0 = f(0.0)
    left, right = (f0 - f(-eps)) / eps, (f(eps) - f0) / eps
    central = [(f(h) - f(-h)) / (2 * h) for h in (eps / 2, eps, 2 * eps)]

    def differ(values: list[float]) -> bool:
        return max(values) - min(values) > atol + rtol * max(abs(v) for v in values)

    if not (differ([left, right]) or differ(central)):
        return ""
    value = float(xs[i].data[idx])
    return (
        f"\nhint: the function is not smooth at input {i} element {idx} = {value:.6g}: "
        f"one-sided differences give {left:.6g} (left) and {right:.6g} (right), central "
        f"differences with eps/2, eps, 2·eps give {', '.join(f'{c:.6g}' for c in central)}. "
        "A kink (relu or abs at 0, max/min ties, clip bounds) lies within a few eps of this "
        "point, where the numerical derivative mixes both sides and the analytical one is a "
        "convention: check at a point away from it, or with a smaller eps."
    )


def _report(kind: str, analytical: list[np.ndarray], numerical: list[np.ndarray],
            xs: list[Any], checked: list[int], entries: _Entries, atol: float, rtol: float,
            names: tuple[str, str] = ("analytical", "numerical")) -> tuple[str, tuple] | None:
    """The failure message for the first input whose Jacobian disagrees (None if all agree),
    and (input index, input element, flat output row) of its worst entry."""
    failing = []
    for c, i in enumerate(checked):
        excess = _excess(analytical[c], numerical[c], atol, rtol)
        if excess.size and excess.max() > 0:
            failing.append((c, i, excess))
    if not failing:
        return None
    c, i, excess = failing[0]
    order = np.argsort(-excess, axis=None, kind="stable")
    bad = int((excess > 0).sum())

    def entry(flat: int) -> tuple[str, tuple[int, ...], int]:
        j, k = divmod(int(flat), excess.shape[1])
        o, out_el = entries.output(j)
        in_el = _element(k, xs[i].shape)
        a, n = analytical[c][j, k], numerical[c][j, k]
        text = (f"input {i} (shape {xs[i].shape}), element {in_el}, and output {o} "
                f"(shape {entries.shapes[o]}), element {out_el}: {names[0]} {a:.10g}, "
                f"{names[1]} {n:.10g}")
        return text, in_el, j

    text, in_el, j = entry(order[0])
    msg = (f"{kind} for {text} (Jacobian entries ∂output/∂input; tolerance atol={atol} + "
           f"rtol={rtol}·|{names[1]}|; {bad} of {excess.size} entries for input {i} disagree)")
    for flat in order[1:min(bad, 4)]:
        msg += f"\n  also: {entry(flat)[0]}"
    if len(failing) > 1:
        others = ", ".join(f"input {ii} ({int((e > 0).sum())} entries)" for _, ii, e in failing[1:])
        msg += f"\n  other inputs that disagree: {others}"
    return msg, (i, in_el, j)


# ----- the checks -------------------------------------------------------------------------------


def _check_reentrant(first: list, second: list, xs: list[Any], checked: list[int],
                     entries: _Entries | None, nondet_tol: float) -> None:
    """Raise when two backward passes over the same graph disagree by more than nondet_tol."""
    for c, i in enumerate(checked):
        a, b = np.asarray(first[c]), np.asarray(second[c])
        diff = np.abs(a - b)  # NaN in both passes is the same answer; in one, a difference
        diff = np.where(np.isnan(a) & np.isnan(b), 0.0, np.where(np.isnan(diff), np.inf, diff))
        if diff.size and diff.max() > nondet_tol:
            flat = int(np.argmax(diff))
            where = f"input {i} (shape {xs[i].shape})"
            if entries is not None:  # full mode: a Jacobian, rows are output elements
                j, k = divmod(flat, a.shape[1])
                o, out_el = entries.output(j)
                where += f", element {_element(k, xs[i].shape)}, and output {o}, element {out_el}"
            else:
                where += f", element {_element(flat, xs[i].shape)}"
            raise GradcheckError(
                f"backward is not reentrant: running it twice on the same graph gave different "
                f"gradients for {where}: first {a.flat[flat]:.10g}, second {b.flat[flat]:.10g} "
                f"(nondet_tol={nondet_tol}). A backward rule must not keep state between calls "
                "(on the Function class or ctx) and must be deterministic; pass nondet_tol= "
                "only for a rule that is nondeterministic by design."
            )


def _float32_note(outs: Sequence[Tensor]) -> str:
    narrow = [k for k, o in enumerate(outs) if o.dtype != np.float64]
    if not narrow:
        return ""
    return (f"\nnote: output(s) {narrow} are {outs[narrow[0]].dtype} although the inputs are "
            "float64 (fn computes in lower precision somewhere, e.g. .float() or float32 "
            "parameters), so the numerical Jacobian carries rounding error of order "
            "1e-7/eps: make fn compute in float64 to check it")


@dataclasses.dataclass(frozen=True)
class _Settings:
    """gradcheck's options, passed along together."""

    eps: float
    atol: float
    rtol: float
    nondet_tol: float
    check_forward_ad: bool
    check_backward_ad: bool


#: Beyond this many Jacobian entries (256 MiB per float64 copy) the full check refuses.
_MAX_ENTRIES = 2**25


def _full(fn: Callable[..., Any], xs: list[Any], checked: list[int], outs: list[Tensor],
          opt: _Settings) -> None:
    """Every Jacobian entry: backward rows (twice) and forward-mode columns against
    central-difference columns."""
    entries = _Entries(outs)
    n_out = int(entries.offsets[-1])
    n_entries = n_out * sum(xs[i].size for i in checked)
    if n_entries > _MAX_ENTRIES:
        raise ValueError(
            f"gradcheck: the full Jacobian has {n_entries} entries ({n_out} output x "
            f"{n_entries // max(n_out, 1)} input elements), too many to hold: check smaller "
            "inputs, or pass fast_mode=True to compare random projections"
        )
    if opt.check_backward_ad:  # before any perturbation: that bumps the inputs' versions
        analytical = _analytical(outs, xs, checked)
        _check_reentrant(analytical, _analytical(outs, xs, checked), xs, checked, entries,
                         opt.nondet_tol)
    numerical = _numerical(fn, xs, checked, opt.eps, n_out)
    failure = None
    if opt.check_backward_ad:
        failure = _report("gradient mismatch", analytical, numerical, xs, checked, entries,
                          opt.atol, opt.rtol)
    if failure is None and opt.check_forward_ad:
        forward = []
        for c, i in enumerate(checked):
            cols = []
            for k in range(xs[i].size):
                tangents = [np.zeros(xs[m].shape) for m in checked]
                tangents[c].reshape(-1)[k] = 1
                cols.append(_forward_mode(fn, xs, checked, tangents))
            forward.append(np.array(cols).T.reshape(n_out, xs[i].size))
        failure = _report("forward-mode (jvp) mismatch", forward, numerical, xs, checked,
                          entries, opt.atol, opt.rtol, names=("jvp", "numerical"))
    if failure is not None:
        msg, (i, idx, j) = failure
        msg += _kink_hint(fn, xs, i, idx, j, opt.eps, opt.atol, opt.rtol)
        raise GradcheckError(msg + _float32_note(outs))


def _fast(fn: Callable[..., Any], xs: list[Any], checked: list[int], outs: list[Tensor],
          opt: _Settings, rng: np.random.Generator) -> None:
    """One random projection vᵀ·J·u per input: backward (twice) and forward mode against
    a central difference along u."""
    vs = [rng.standard_normal(o.shape) for o in outs]
    us = [rng.standard_normal(xs[i].shape) for i in checked]
    v = np.concatenate([a.reshape(-1) for a in vs]) if vs else np.zeros(0)
    if opt.check_backward_ad:
        first, second = _backward_rows(outs, xs, checked, [vs, vs])
        _check_reentrant(first, second, xs, checked, None, opt.nondet_tol)
    for c, i in enumerate(checked):
        plus = _perturbed(fn, xs, i, None, opt.eps * us[c])
        minus = _perturbed(fn, xs, i, None, -opt.eps * us[c])
        numerical = float(v @ (plus - minus) / (2 * opt.eps))
        candidates = []
        if opt.check_backward_ad:
            candidates.append(("analytical", float(first[c] @ us[c].reshape(-1))))
        if opt.check_forward_ad:
            tangents = [us[m] if m == c else np.zeros(xs[i2].shape)
                        for m, i2 in enumerate(checked)]
            candidates.append(("jvp", float(v @ _forward_mode(fn, xs, checked, tangents))))
        for name, value in candidates:
            if _excess(np.array(value), np.array(numerical), opt.atol, opt.rtol) > 0:
                raise GradcheckError(
                    f"gradient mismatch (fast_mode) for input {i} (shape {xs[i].shape}): the "
                    f"random projection vᵀ·J·u is {name} {value:.10g}, numerical "
                    f"{numerical:.10g} (tolerance atol={opt.atol} + rtol={opt.rtol}·"
                    "|numerical|). fast_mode compares projections, not Jacobian entries: "
                    "rerun with fast_mode=False to see which entry is wrong"
                    + _float32_note(outs)
                )


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
    *,
    fast_mode: bool = False,
    nondet_tol: float = 0.0,
    check_forward_ad: bool = False,
    check_backward_ad: bool = True,
) -> bool:
    """True when backward of ``fn`` matches central finite differences at ``inputs``.

    Parameters
    ----------
    fn
        Takes the inputs and returns a Tensor or a tuple of Tensors (non-float outputs
        are ignored).
    inputs
        Tensors (or arrays); float ones that require grad are checked, as float64 copies
        with their own memory (any layout: Fortran order, transposed, strided or
        broadcast views). Others are passed to ``fn`` unchanged.
    eps, atol, rtol
        Step of the central differences; entries agree when
        ``|analytical − numerical| ≤ atol + rtol·|numerical|``.
    raise_exception
        On a mismatch raise ``GradcheckError`` (naming input and element, output and
        element, and both Jacobian entries, with a hint near a kink), or return False.
    seed
        For the random projections of ``fast_mode``.
    fast_mode
        Compare one random projection ``vᵀ·J·u`` per input instead of every entry: cost
        independent of the sizes, but a failure names only the input.
    nondet_tol
        How much two backward passes over the same graph may differ (0: not at all).
    check_forward_ad
        Also compare the forward-mode Jacobian (``tg.func.jvp``) with the numerical one.
    check_backward_ad
        Compare the backward Jacobian (default); False with ``check_forward_ad=True``
        checks forward mode alone.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> x = tg.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    >>> tg.gradcheck(lambda t: (t * t.sigmoid()).sum(), [x])
    True
    """
    xs, checked, note = _as_inputs(inputs)
    if not checked:
        raise ValueError("gradcheck: no input requires grad, nothing to check")
    if not (check_backward_ad or check_forward_ad):
        raise ValueError("gradcheck: check_backward_ad=False needs check_forward_ad=True")
    opt = _Settings(eps, atol, rtol, nondet_tol, check_forward_ad, check_backward_ad)
    try:
        with enable_grad():
            outs = _outputs(fn, xs)
        if fast_mode:
            _fast(fn, xs, checked, outs, opt, np.random.default_rng(seed))
        else:
            _full(fn, xs, checked, outs, opt)
    except GradcheckError as e:
        if raise_exception:
            raise GradcheckError(f"{e}{note}") from None
        return False
    return True


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
    *,
    fast_mode: bool = False,
    nondet_tol: float = 0.0,
) -> bool:
    """True when second derivatives of ``fn`` (through ``create_graph=True``) are right.

    Checks, with ``gradcheck``, the full Jacobian of ``x ↦ ∂(v·fn(x))/∂x`` for a fixed
    random upstream gradient ``v``: a backward of backward (rows of the Hessian of
    ``v·fn``). In a report, output ``k`` is the gradient with respect to the k-th checked
    input.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> x = tg.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    >>> tg.gradgradcheck(lambda t: (t.tanh() * t).sum(), [x])
    True
    """
    xs, checked, note = _as_inputs(inputs)
    if not checked:
        raise ValueError("gradgradcheck: no input requires grad, nothing to check")
    rng = np.random.default_rng(seed + 1)
    with enable_grad():
        vs = [rng.standard_normal(o.shape) for o in _outputs(fn, xs)]

    @enable_grad()  # gradcheck evaluates this under no_grad; it needs the graph of fn
    def first_derivatives(*args: Any) -> tuple[Tensor, ...]:
        live = [(o, v) for o, v in zip(_outputs(fn, args), vs, strict=True) if o.requires_grad]
        if not live:
            return tuple(Tensor(np.zeros_like(args[i].data)) for i in checked)
        grads = grad(
            [o for o, _ in live],
            [args[i] for i in checked],
            grad_outputs=[v for _, v in live],
            create_graph=True,
            allow_unused=True,
        )
        return tuple(
            Tensor(np.zeros_like(args[i].data)) if g is None else g
            for i, g in zip(checked, grads, strict=True)
        )

    try:
        return gradcheck(first_derivatives, xs, eps, atol, rtol, True, seed,
                         fast_mode=fast_mode, nondet_tol=nondet_tol)
    except GradcheckError as e:
        if raise_exception:
            raise GradcheckError(
                f"{e}\n(gradgradcheck: output k is the gradient of v·fn with respect to the "
                f"k-th input that requires grad, for a fixed random v){note}"
            ) from None
        return False
