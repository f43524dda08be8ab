"""Write your own differentiable op, then prove its gradients right.

An op is a ``tg.Function``: ``forward`` computes on numpy arrays, ``backward`` applies the
chain rule. Here the op is softplus(x) = ln(1 + eˣ), with a forward that never overflows
and the derivative softplus'(x) = σ(x). The script checks it three ways:

1. ``tg.gradcheck``: the backward rule against central finite differences (float64);
2. ``tg.gradgradcheck``: the second derivative, by differentiating the backward rule
   itself (``create_graph=True``), so the rule must be written with operations that
   Tensors support too;
3. ``check_gradients`` inside a hypothesis property test, on many random inputs (only
   when hypothesis is installed).

Then it plants two bugs and shows the checks catching them, report printed:

* ``BuggySoftplus`` uses σ(-x) for the derivative: gradcheck fails.
* ``FrozenSoftplus`` computes the right σ(x), but from a constant copy of x, so the rule
  has no derivative of its own: gradcheck passes, gradgradcheck fails.
* ``OnceSoftplus`` is right on its first backward only (it keeps state on the class):
  gradcheck runs backward twice on the same graph and fails.

How to read the reports: docs/gradcheck.md.

    python examples/custom_op_gradcheck.py           # exit 0 when every check behaved
    python examples/custom_op_gradcheck.py --buggy   # check BuggySoftplus as your op: exit 1
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

import tinygrad_mlp as tg
from tinygrad_mlp import Tensor


def sigmoid(x):
    """σ(x) of an array (ordinary backward) or a Tensor (backward under create_graph)."""
    if isinstance(x, Tensor):
        return x.sigmoid()
    return np.exp(-np.logaddexp(0.0, -x))  # σ(x) = e^(-softplus(-x)): no overflow, and
    # full relative precision in the tail (1 / (1 + e⁻ˣ) and tanh forms lose one or both)


class Softplus(tg.Function):
    """y = ln(1 + eˣ);  dx = g·σ(x)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return np.logaddexp(0.0, x)  # ln(e⁰ + eˣ) without computing eˣ for large x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors  # an array, or under create_graph the input Tensor
        return grad * sigmoid(x)


class BuggySoftplus(Softplus):
    """Planted bug: the wrong sign inside σ."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * sigmoid(-x)


class FrozenSoftplus(Softplus):
    """Planted bug: the right value, computed from a constant copy of x."""

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        x = x.numpy() if isinstance(x, Tensor) else x  # cuts the rule off from x
        return grad * sigmoid(x)


class OnceSoftplus(Softplus):
    """Planted bug: state kept between calls; every backward after the first is wrong."""

    calls = 0

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        OnceSoftplus.calls += 1
        return grad * sigmoid(x) * (1 if OnceSoftplus.calls == 1 else 0.5)


def softplus(x: Tensor) -> Tensor:
    return Softplus.apply(x)


def run_check(title: str, check, op: type[tg.Function], x: Tensor) -> bool:
    """Run ``check`` on ``op``; print PASS, or FAIL with the gradcheck report."""
    try:
        check(op.apply, [x])
    except tg.GradcheckError as e:
        print(f"  FAIL  {title}\n        {e}")
        return False
    print(f"  PASS  {title}")
    return True


def property_test(examples: int) -> bool | None:
    """check_gradients on random shapes and values; None when hypothesis is missing."""
    try:
        from hypothesis import given, settings
    except ImportError:
        print("  SKIP  property test (pip install hypothesis)")
        return None
    from tinygrad_mlp.testing import check_gradients, strategies

    @settings(max_examples=examples, deadline=None, database=None)
    @given(strategies.arrays(strategies.shapes(max_dims=2, max_side=4), min_value=-30,
                             max_value=30))
    def test_softplus_gradients(x):
        check_gradients(softplus, x, second_order=True)

    try:
        test_softplus_gradients()
    except AssertionError as e:
        print(f"  FAIL  property test\n        {e}")
        return False
    print(f"  PASS  property test: check_gradients on {examples} random inputs")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buggy", action="store_true",
                        help="check BuggySoftplus as if it were your op (exits 1)")
    parser.add_argument("--examples", type=int, default=25,
                        help="hypothesis examples for the property test (default 25)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    x = Tensor(np.random.default_rng(args.seed).uniform(-4, 4, (3, 4)), requires_grad=True)

    if args.buggy:
        print("BuggySoftplus, checked as your op:")
        return 0 if run_check("gradcheck", tg.gradcheck, BuggySoftplus, x) else 1

    print("Softplus: a stable forward")
    y = softplus(Tensor(np.array([-1000.0, 0.0, 1000.0])))
    print(f"  softplus([-1000, 0, 1000]) = {y.numpy()}")
    stable = bool(np.allclose(y.data, [0.0, np.log(2.0), 1000.0]))

    print("Softplus: the checks")
    good = [
        run_check("gradcheck (first derivatives)", tg.gradcheck, Softplus, x),
        run_check("gradgradcheck (second derivatives)", tg.gradgradcheck, Softplus, x),
    ]
    prop = property_test(args.examples)

    print("Planted bugs: each must be caught")
    caught_sign = not run_check("BuggySoftplus, gradcheck", tg.gradcheck, BuggySoftplus, x)
    frozen_first = run_check("FrozenSoftplus, gradcheck (fooled: the value is right)",
                             tg.gradcheck, FrozenSoftplus, x)
    caught_frozen = not run_check("FrozenSoftplus, gradgradcheck", tg.gradgradcheck,
                                  FrozenSoftplus, x)
    OnceSoftplus.calls = 0
    caught_once = not run_check("OnceSoftplus, gradcheck (backward run twice)", tg.gradcheck,
                                OnceSoftplus, x)

    ok = stable and all(good) and prop is not False and caught_sign and frozen_first
    ok = ok and caught_frozen and caught_once
    print("demo behaved as expected" if ok else "UNEXPECTED: see above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
