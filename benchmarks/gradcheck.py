"""How long gradcheck takes: the full Jacobian (default) against fast_mode.

The subject is one linear layer ``y = x @ W.T + b`` (784 inputs, 32 outputs, as the first
layer of a small MNIST MLP), checked with respect to x, W and b at once:

* full mode: one central-difference column per input element (2 forward passes each:
  784·B + 784·32 + 32 columns) and one backward row per output element (32·B rows, run
  twice for the reentrancy check);
* fast mode: one random projection per input (2 forward passes each) and two backward
  passes, whatever the sizes.

With PyTorch installed, ``torch.autograd.gradcheck`` on the same layer is timed too, for
scale. Nothing here is part of the test suite's pass/fail.

    python benchmarks/gradcheck.py                 # batch 1, 3 repeats, median seconds
    python benchmarks/gradcheck.py --batch 4 --repeats 5
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

import tinygrad_mlp as tg


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=1, help="rows of x (default 1)")
    parser.add_argument("--in-features", type=int, default=784)
    parser.add_argument("--out-features", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-torch", action="store_true", help="skip the PyTorch row")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(0)
    shapes = [(args.batch, args.in_features), (args.out_features, args.in_features),
              (args.out_features,)]
    values = [rng.standard_normal(s) * 0.1 for s in shapes]
    inputs = [tg.Tensor(v, requires_grad=True) for v in values]
    n_in = sum(v.size for v in values)
    n_out = args.batch * args.out_features
    print(f"linear layer {args.in_features}x{args.out_features}, batch {args.batch}: "
          f"{n_in} input elements, {n_out} output elements, Jacobian {n_out}x{n_in}")

    rows = []
    for name, fast in (("tinygrad_mlp fast_mode=True", True), ("tinygrad_mlp full", False)):
        assert tg.gradcheck(tg.linear, inputs, fast_mode=fast)
        rows.append((name, median_seconds(
            lambda fast=fast: tg.gradcheck(tg.linear, inputs, fast_mode=fast), args.repeats)))
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            print("torch not installed: skipping the PyTorch rows")
        else:
            ts = [torch.tensor(v, requires_grad=True) for v in values]
            linear = torch.nn.functional.linear
            for name, fast in (("torch fast_mode=True", True), ("torch full", False)):
                rows.append((name, median_seconds(
                    lambda fast=fast: torch.autograd.gradcheck(linear, ts, fast_mode=fast),
                    args.repeats)))

    print("\n| gradcheck | median seconds |\n|---|---|")
    for name, seconds in rows:
        print(f"| {name} | {seconds:.4f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
