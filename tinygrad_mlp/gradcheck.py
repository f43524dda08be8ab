"""Check analytical gradients against central finite differences, in float64.

For a function ``f`` of tensors and a random upstream gradient ``v`` (so a transposed or
permuted gradient cannot hide behind an all-ones ``.sum()``), backward gives
``(vᵀJ)_k = ∂(v·f)/∂x_k`` for every input element ``k``; the check recomputes each one as
``(v·f(x + ε e_k) − v·f(x − ε e_k)) / 2ε`` and compares them elementwise with
``|analytical − numerical| ≤ atol + rtol·|numerical|``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tinygrad_mlp.tensor import Tensor, enable_grad, grad, no_grad


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree; the message says where and by how much."""


def _as_inputs(inputs: Any) -> list[Any]:
    """Inputs as a list; float inputs that require grad become float64 leaf copies."""
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    out = []
    for x in items:
        if isinstance(x, np.ndarray) and x.dtype.kind == "f":
            x = Tensor(x, requires_grad=True)
        if isinstance(x, Tensor) and x.requires_grad:
            x = Tensor(x.data.astype(np.float64), requires_grad=True)
        out.append(x)
    return out


def _outputs(fn: Callable[..., Any], inputs: Sequence[Any]) -> list[Tensor]:
    """fn's float outputs as a list of Tensors."""
    result = fn(*inputs)
    outs = list(result) if isinstance(result, (list, tuple)) else [result]
    for o in outs:
        if not isinstance(o, Tensor):
            raise TypeError(f"gradcheck: fn must return Tensors, got {type(o).__name__}")
    return [o for o in outs if o.dtype.kind == "f"]


def _check(name: str, analytical: np.ndarray, numerical: np.ndarray, atol: float, rtol: float):
    """Raise GradcheckError at the worst element outside tolerance."""
    excess = np.abs(analytical - numerical) - (atol + rtol * np.abs(numerical))
    excess = np.where(np.isnan(excess), np.inf, excess)  # NaN on either side is a failure
    if excess.size and excess.max() > 0:
        idx = np.unravel_index(int(np.argmax(excess)), excess.shape) if excess.ndim else ()
        raise GradcheckError(
            f"gradient mismatch for {name}, element {tuple(int(i) for i in idx)}: "
            f"analytical {float(analytical[idx]):.10g}, numerical {float(numerical[idx]):.10g} "
            f"(tolerance atol={atol} + rtol={rtol}·|numerical|; "
            f"{int((excess > 0).sum())} of {excess.size} elements disagree)"
        )


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    seed: int = 0,
) -> bool:
    """True when backward of ``fn`` matches central finite differences at ``inputs``.

    ``fn`` takes the inputs (Tensors; those with ``requires_grad`` are checked, as float64
    copies) and returns a Tensor or a tuple of Tensors. On a mismatch raises
    ``GradcheckError`` naming the input, the element index and both values, or returns
    False when ``raise_exception=False``.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> x = tg.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    >>> tg.gradcheck(lambda t: (t * t.sigmoid()).sum(), [x])
    True
    """
    xs = _as_inputs(inputs)
    checked = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input requires grad, nothing to check")
    rng = np.random.default_rng(seed)
    try:
        outs = _outputs(fn, xs)
        vs = [rng.standard_normal(o.shape) for o in outs]
        live = [(o, v) for o, v in zip(outs, vs, strict=True) if o.requires_grad]
        if live:
            grads = grad(
                [o for o, _ in live],
                [xs[i] for i in checked],
                grad_outputs=[v for _, v in live],
                allow_unused=True,
            )
        else:
            grads = (None,) * len(checked)

        def projected() -> float:
            with no_grad():
                outs = _outputs(fn, xs)
                return float(sum(np.sum(o.data * v) for o, v in zip(outs, vs, strict=True)))

        for i, g in zip(checked, grads, strict=True):
            x = xs[i]
            analytical = np.zeros_like(x.data) if g is None else np.asarray(g.data, np.float64)
            if analytical.shape != x.shape:
                raise GradcheckError(
                    f"gradient for input {i} has shape {analytical.shape}, input has {x.shape}"
                )
            numerical = np.zeros_like(x.data)
            flat = x.data.reshape(-1)  # a view: perturbing it perturbs the input
            for k in range(flat.size):
                orig = flat[k]
                flat[k] = orig + eps
                plus = projected()
                flat[k] = orig - eps
                minus = projected()
                flat[k] = orig
                numerical.reshape(-1)[k] = (plus - minus) / (2 * eps)
            _check(f"input {i} (shape {x.shape})", analytical, numerical, atol, rtol)
    except GradcheckError:
        if raise_exception:
            raise
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
) -> bool:
    """True when second derivatives of ``fn`` (through ``create_graph=True``) are right.

    Checks, with ``gradcheck``, the function ``x ↦ ∂(v·fn(x))/∂x`` for a fixed random
    ``v``: its backward is the backward of backward, i.e. Hessian-vector products.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> x = tg.Tensor(np.array([0.5, -1.0]), requires_grad=True)
    >>> tg.gradgradcheck(lambda t: (t.tanh() * t).sum(), [x])
    True
    """
    xs = _as_inputs(inputs)
    checked = [i for i, x in enumerate(xs) if isinstance(x, Tensor) and x.requires_grad]
    rng = np.random.default_rng(seed + 1)
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

    return gradcheck(first_derivatives, xs, eps, atol, rtol, raise_exception, seed)
