"""Per-example gradients: ``tg.func.vmap`` against a Python loop and ``torch.func.vmap``.

The subject is the gradient of the cross-entropy loss of one example with respect to all
weights of a 784-128-10 MLP (sigmoid hidden layer), for every example of a batch of 128:
a (128, 128, 784) array for the first weight matrix, and so on. Three ways:

* ``tg vmap``: ``vmap(grad(loss), in_dims=(None,)*4 + (0, 0))``: the loss is traced on
  two examples and replayed once on the batch with one weight copy per example, so one
  backward pass gives all 128 gradients (see ``tinygrad_mlp/func/_vmap.py``);
* ``tg loop``: ``grad(loss)`` called 128 times in Python, results stacked;
* ``torch vmap``: ``torch.func.vmap(torch.func.grad(loss))`` (skipped without torch).

All three must agree (checked before timing). Nothing here is part of the test suite.

    python benchmarks/vmap.py                      # batch 128, float32, 5 repeats
    python benchmarks/vmap.py --batch 32 --dtype float64 --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import numpy as np

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp import func


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``run()`` over ``repeats`` calls (after one warm-up call)."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def loss(w1, b1, w2, b2, x, y):
    """Cross-entropy of one example (x: 784 pixels, y: its label) through the MLP."""
    h = F.linear(x, w1, b1).sigmoid()
    return F.cross_entropy(F.linear(h, w2, b2), y)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    dtype = np.dtype(args.dtype)
    rng = np.random.default_rng(0)
    shapes = [(args.hidden, 784), (args.hidden,), (10, args.hidden), (10,)]
    params = [(rng.standard_normal(s) * 0.05).astype(dtype) for s in shapes]
    x = rng.random((args.batch, 784)).astype(dtype)
    y = rng.integers(0, 10, args.batch)
    ps = [tg.Tensor(p) for p in params]
    per_example = func.grad(loss, argnums=(0, 1, 2, 3))
    in_dims = (None,) * 4 + (0, 0)

    def tg_vmap():
        return func.vmap(per_example, in_dims=in_dims)(*ps, x, y)

    def tg_loop():
        rows = [per_example(*ps, x[i], y[i]) for i in range(args.batch)]
        return [np.stack([r[k].data for r in rows]) for k in range(4)]

    contenders: dict[str, Callable[[], object]] = {"tg vmap": tg_vmap, "tg loop": tg_loop}
    reference = [g.data for g in tg_vmap()]
    loop = tg_loop()
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for r, lp in zip(reference, loop, strict=True):
        np.testing.assert_allclose(r, lp, rtol=tol, atol=tol)
    try:
        import torch
    except ImportError:
        torch = None
        print("torch is not installed: torch.func.vmap skipped", file=sys.stderr)
    if torch is not None:
        tps = [torch.tensor(p) for p in params]
        tx, ty = torch.tensor(x), torch.tensor(y)

        def tloss(w1, b1, w2, b2, x, y):
            h = torch.sigmoid(x @ w1.T + b1)
            return torch.nn.functional.cross_entropy((h @ w2.T + b2)[None], y[None])

        tgrad = torch.func.vmap(torch.func.grad(tloss, argnums=(0, 1, 2, 3)), in_dims=in_dims)

        def torch_vmap():
            with torch.no_grad():
                return tgrad(*tps, tx, ty)

        for r, t in zip(reference, torch_vmap(), strict=True):
            np.testing.assert_allclose(r, t.numpy(), rtol=tol * 10, atol=tol * 10)
        contenders["torch vmap"] = torch_vmap
    print(f"per-example gradients, 784-{args.hidden}-10 MLP, batch {args.batch}, {dtype}, "
          f"median of {args.repeats}")
    print(f"{'contender':<12} {'seconds':>10} {'per example (ms)':>18}")
    for name, run in contenders.items():
        s = median_seconds(run, args.repeats)
        print(f"{name:<12} {s:>10.4f} {1000 * s / args.batch:>18.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
