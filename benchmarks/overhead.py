"""Where tinygrad_mlp's eager training step spends its time over the numpy floor.

    python benchmarks/overhead.py [--configs A,B,C] [--quick] [--threads N] [--out-dir DIR]

One process, ``mlp.py``'s method (same weights, same batches, losses checked, interleaved
rounds, median ms per step), with contenders that add the library's layers one at a
time, so each row's increment over the one above is what that layer costs:

  numpy (floor)         hand-written forward, backward and update (numpy_mlp.py)
  op rules alone        tinygrad_mlp's op rules (forward, backward) called in a fixed
                        order by hand: their numpy work, with no graph at all
  minimal engine        the same rules driven by the least Python a graph engine needs
                        (minimal_engine.py): the floor for any engine using them
  engine core           Function.apply and Tensor.backward(retain_graph=True): grad mode,
                        checks, the plan and its execution; update written on .data
  + graph release       backward() frees saved values and intermediate inputs
  + optimizer           optim.SGD: zero_grad(), step() in place, version counters bumped
  tinygrad_mlp          the public API as a user writes it (mlp.py's contender):
                        nn.Sequential, nn.functional losses, tg.from_numpy

The ops, losses and options are the same in every tinygrad row (F.quadratic_loss is
SquaredError with scale 1/2N; F.cross_entropy is SoftmaxCrossEntropy on the class
indices). See benchmarks/README.md.
"""

from __future__ import annotations  # noqa: I001  (mlp first: see below)

import os
import sys
import time
from typing import Any

import mlp  # first: it sets the BLAS thread count before numpy is loaded
import minimal_engine as me
import numpy as np

ORDER = ("numpy", "rules", "minimal", "core", "release", "optim", "tinygrad_mlp")
LABELS = {"numpy": "numpy (floor)", "rules": "op rules alone", "minimal": "minimal engine",
          "core": "engine core",
          "release": "+ graph release", "optim": "+ optimizer", "tinygrad_mlp": "tinygrad_mlp"}


def _rules(spec: mlp.Spec) -> tuple[Any, Any, Any]:
    """tinygrad_mlp's op classes for this config: (activation, loss op, loss options)."""
    import tinygrad_mlp.nn.functional as F
    from tinygrad_mlp import ops

    act = ops.Sigmoid if spec.activation == "sigmoid" else ops.ReLU
    if spec.loss == "quadratic":
        return act, F.SquaredError, lambda x, y, onehot: ((onehot,), {"scale": 0.5 / len(x)})
    return act, F.SoftmaxCrossEntropy, lambda x, y, onehot: ((), {"indices": y})


def _forward(apply: Any, spec: mlp.Spec, params: list, x: Any, y: Any, onehot: Any) -> Any:
    """The network's forward pass and loss through ``apply`` (the minimal engine's or
    ``Function.apply``)."""
    from tinygrad_mlp import ops

    act, loss_op, loss_args = _rules(spec)
    h = x
    last = len(params) // 2 - 1
    for i in range(last + 1):
        h = apply(ops.Linear, h, params[2 * i], params[2 * i + 1])
        if i < last or spec.loss == "quadratic":
            h = apply(act, h)
    extra, options = loss_args(x if isinstance(x, np.ndarray) else x.data, y, onehot)
    return apply(loss_op, h, *extra, **options)


def make_rules(spec: mlp.Spec, weights) -> tuple[Any, Any]:
    """The op rules called in a hand-written order: forward layer by layer, then each
    rule's backward in reverse, then the update. No graph, nothing recorded."""
    from tinygrad_mlp import ops

    act, loss_op, loss_args = _rules(spec)
    params = [a.copy() for wb in weights for a in wb]
    layers = len(weights)

    def step(x, y, onehot):
        calls = []  # (op, ctx) in forward order
        h = x
        for i in range(layers):
            ctx = me.Ctx()
            ctx.needs_input_grad = (i > 0, True, True)
            h = ops.Linear.forward(ctx, h, params[2 * i], params[2 * i + 1])
            calls.append((ops.Linear, ctx))
            if i < layers - 1 or spec.loss == "quadratic":
                ctx = me.Ctx()
                ctx.needs_input_grad = (True,)
                h = act.forward(ctx, h)
                calls.append((act, ctx))
        extra, options = loss_args(x, y, onehot)
        ctx = me.Ctx()
        ctx.needs_input_grad = (True,) + (False,) * len(extra)
        loss = loss_op.forward(ctx, h, *extra, **options)
        g = loss_op.backward(ctx, np.ones_like(loss))
        g = g[0] if type(g) is tuple else g
        grads = []
        for fn, ctx in reversed(calls):
            out = fn.backward(ctx, g)
            if fn is ops.Linear:
                g, gw, gb = out
                grads += [gb, gw]
            else:
                g = out
        for p, gp in zip(params, reversed(grads), strict=True):
            p -= spec.lr * gp
        return loss

    return step, float


def make_minimal(spec: mlp.Spec, weights) -> tuple[Any, Any]:
    params = [me.Node(a.copy(), requires_grad=True) for wb in weights for a in wb]

    def step(x, y, onehot):
        for p in params:
            p.grad = None
        loss = _forward(me.apply, spec, params, x, y, onehot)
        me.backward(loss)
        for p in params:
            p.data -= spec.lr * p.grad
        return loss

    return step, lambda loss: float(loss.data)


def make_core(spec: mlp.Spec, weights, release: bool = False,
              optimizer: bool = False) -> tuple[Any, Any]:
    """Function.apply and Tensor.backward, without nn modules or nn.functional."""
    import tinygrad_mlp as tg
    from tinygrad_mlp import optim

    if spec.optimizer != "sgd":
        raise SystemExit("overhead.py measures the SGD configs (A, B, C)")
    params = [tg.tensor(a, requires_grad=True) for wb in weights for a in wb]
    opt = optim.SGD(params, lr=spec.lr) if optimizer else None

    def apply(fn: Any, *args: Any, **options: Any) -> Any:
        return fn.apply(*args, **options)

    def step(x, y, onehot):
        if opt is not None:
            opt.zero_grad()
        else:
            for p in params:
                p.grad = None
        loss = _forward(apply, spec, params, tg.from_numpy(x), y, onehot)
        loss.backward(retain_graph=not release)
        if opt is not None:
            opt.step()
        else:
            for p in params:  # on .data: no version counter, no optimizer object
                p.data -= spec.lr * p.grad.data
        return loss

    return step, lambda loss: float(loss.item())


FACTORIES = {
    "numpy": mlp.make_numpy,
    "rules": make_rules,
    "minimal": make_minimal,
    "core": make_core,
    "release": lambda spec, w: make_core(spec, w, release=True),
    "optim": lambda spec, w: make_core(spec, w, release=True, optimizer=True),
    "tinygrad_mlp": mlp.make_tinygrad,
}


def table(results: dict[str, dict[str, Any]]) -> list[str]:
    """One row per config and contender: median, × floor, increment over the row above."""
    rows = ["| config | contender | µs/step (median) | vs numpy | added by this row (µs) |",
            "|---|---|---:|---:|---:|"]
    for name, res in results.items():
        floor = res["numpy"]["median_ms"]
        prev = None
        for k in ORDER:
            if k not in res:
                continue
            us = res[k]["median_ms"] * 1e3
            added = "" if prev is None else f"{us - prev:+.1f}"
            rows.append(f"| {name} | {LABELS[k]} | {us:.1f} | {us / (floor * 1e3):.2f}× | "
                        f"{added} |")
            prev = us
    return rows


def main(argv: list[str] | None = None) -> int:
    p = mlp.build_parser()  # mlp.py's options (rounds, block size, threads, seed, ...)
    p.prog, p.description = "benchmarks/overhead.py", __doc__.split("\n\n")[0]
    p.set_defaults(configs=["A", "B"])
    args = p.parse_args(argv)
    configs = [c for c in args.configs if c in ("A", "B", "C")]
    if configs != args.configs:
        p.error("overhead.py measures the SGD training configs A, B and C")
    s = mlp.settings_for(args)
    threads = args.threads or mlp.machine_cores()
    limiter, pinning = mlp.pin_threads(threads, ["numpy"])
    print(f"CPU {mlp.cpu_model()}, {threads} BLAS threads ({'; '.join(pinning)})")
    results, failed = {}, False
    t0 = time.perf_counter()
    try:
        for name in configs:
            res = mlp.run_training_config(mlp.TRAIN_SPECS[name], list(ORDER), s, args.seed,
                                          print, FACTORIES, LABELS)
            failed |= bool(res["mismatched"])
            results[name] = res["results"]
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    lines = table(results)
    print("\n" + "\n".join(lines))
    os.makedirs(args.out_dir, exist_ok=True)
    path = os.path.join(args.out_dir, "overhead.md")
    with open(path, "w") as f:
        f.write("# Where the eager step's time goes (benchmarks/overhead.py)\n\n")
        f.write("\n".join(lines) + "\n")
    print(f"\nwrote {path} ({time.perf_counter() - t0:.1f} s)")
    if failed:
        print("LOSS MISMATCH: a contender disagreed with the floor and was not timed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
