"""Training-step speed of tinygrad_mlp against a numpy floor, PyTorch CPU and MyGrad.

    python benchmarks/mlp.py [--quick] [--configs A,B,C,C-adam,D,E] [--out-dir DIR]
    python benchmarks/mlp.py --profile A        # cProfile of the tinygrad_mlp step

One process; every contender trains the *same* network from the *same* initial weights on
the *same* float32 batches, and the contenders are timed interleaved (rounds of K steps
each, order rotated every round) so machine noise hits all of them alike. Before timing,
the first-step losses are compared (they must agree: same math, same numbers).

Configurations (see benchmarks/README.md):
  A       784-30-10 sigmoid, quadratic cost, SGD, batch 10        (overhead-bound)
  B       784-128-10 sigmoid, softmax cross-entropy, SGD, batch 128
  C       784-512-256-10 ReLU, cross-entropy, SGD, batch 256      (compute-bound)
  C-adam  as C, with Adam
  D       graph overhead: µs per recorded op / per backward node, 1,000-op chain
  E       memory: RSS after warm-up and after 1,000 steps of B (must stay flat)

Contenders: tinygrad_mlp (public API, as a user writes it), numpy (hand-written floor,
benchmarks/numpy_mlp.py), torch (when installed), mygrad (when installed).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

_BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
_BLAS_TUNING_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def machine_cores() -> int:
    """CPUs this process may run on (affinity mask), else os.cpu_count()."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _threads_from_argv(argv: Sequence[str]) -> int | None:
    for i, a in enumerate(argv):
        try:
            if a == "--threads" and i + 1 < len(argv):
                return int(argv[i + 1])
            if a.startswith("--threads="):
                return int(a.split("=", 1)[1])
        except ValueError:
            return None
    return None


_ENV_BEFORE = {v: os.environ.get(v) for v in _BLAS_THREAD_VARS}
# BLAS libraries read their thread count when loaded: set it before numpy is imported,
# from this process's --threads (here, or in benchmarks/overhead.py, which imports this
# first). Imported by the tests, numpy is loaded already; then the limit is applied with
# threadpoolctl when it is installed.
if "numpy" not in sys.modules:
    _n = _threads_from_argv(sys.argv[1:]) or machine_cores()
    for _var in _BLAS_THREAD_VARS:
        os.environ[_var] = str(_n)

import numpy as np  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
try:
    import tinygrad_mlp  # noqa: F401  (installed, or importable from the repository root)
except ImportError:
    sys.path.insert(0, os.path.dirname(_HERE))

from numpy_mlp import NumpyMLP, adam_update  # noqa: E402

# ----- configurations -----------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """One training configuration."""

    name: str
    sizes: tuple[int, ...]
    activation: str  # "sigmoid" | "relu"
    loss: str  # "quadratic" | "cross_entropy"
    optimizer: str  # "sgd" | "adam"
    lr: float
    batch: int
    pool: int  # distinct batches in the data pool (reused cyclically)
    about: str


TRAIN_SPECS: dict[str, Spec] = {
    "A": Spec("A", (784, 30, 10), "sigmoid", "quadratic", "sgd", 0.5, 10, 32,
              "784-30-10 sigmoid, quadratic cost, SGD, batch 10 (overhead-bound)"),
    "B": Spec("B", (784, 128, 10), "sigmoid", "cross_entropy", "sgd", 0.1, 128, 16,
              "784-128-10 sigmoid, softmax cross-entropy, SGD, batch 128"),
    "C": Spec("C", (784, 512, 256, 10), "relu", "cross_entropy", "sgd", 0.01, 256, 8,
              "784-512-256-10 ReLU, cross-entropy, SGD, batch 256 (compute-bound)"),
    "C-adam": Spec("C-adam", (784, 512, 256, 10), "relu", "cross_entropy", "adam", 1e-3,
                   256, 8, "784-512-256-10 ReLU, cross-entropy, Adam, batch 256"),
}
ALL_CONFIGS = ("A", "B", "C", "C-adam", "D", "E")
ALL_CONTENDERS = ("tinygrad_mlp", "tinygrad_mlp_jit", "numpy", "torch", "mygrad")
LABELS = {"tinygrad_mlp": "tinygrad_mlp", "tinygrad_mlp_jit": "tinygrad_mlp (tg.jit)",
          "numpy": "numpy (floor)", "torch": "torch", "mygrad": "mygrad"}
NUM_CLASSES = 10


def make_weights(sizes: Sequence[int], seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """torch.nn.Linear's default init, drawn once with numpy: W (out, in), U(±1/√in)."""
    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, fan_out).astype(np.float32)
        out.append((w, b))
    return out


def make_pool(spec: Spec, seed: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Fixed random batches (x float32 in [0, 1), int64 labels, float32 one-hot rows)."""
    rng = np.random.default_rng(seed + 1)
    pool = []
    eye = np.eye(NUM_CLASSES, dtype=np.float32)
    for _ in range(spec.pool):
        x = rng.random((spec.batch, spec.sizes[0]), dtype=np.float32)
        y = rng.integers(0, NUM_CLASSES, spec.batch).astype(np.int64)
        pool.append((x, y, eye[y]))
    return pool


# ----- contenders ---------------------------------------------------------------------------
# Each factory returns (step, loss_value): step(x, y, onehot) runs one full training step
# (zero grads, forward, loss, backward, update) and returns the loss object; loss_value
# turns that into a float (only used outside the timed region).

StepFn = Callable[[np.ndarray, np.ndarray, np.ndarray], Any]


def contender_available(key: str) -> str | None:
    """None when the contender can run, else why not."""
    try:
        if key == "torch":
            import torch  # noqa: F401
        elif key == "mygrad":
            import mygrad  # noqa: F401
        elif key.startswith("tinygrad_mlp"):
            import tinygrad_mlp.nn.functional  # noqa: F401
            from tinygrad_mlp import nn, optim  # noqa: F401
    except ImportError as e:
        return f"not installed ({e})"
    return None


def make_tinygrad(spec: Spec, weights, jit: bool = False) -> tuple[StepFn, Callable[[Any], float]]:
    import tinygrad_mlp as tg
    import tinygrad_mlp.nn.functional as F
    from tinygrad_mlp import nn, optim

    act = nn.Sigmoid if spec.activation == "sigmoid" else nn.ReLU
    layers: list[Any] = []
    state: dict[str, np.ndarray] = {}
    for i, (w, b) in enumerate(weights):
        state[f"{len(layers)}.weight"], state[f"{len(layers)}.bias"] = w, b
        layers.append(nn.Linear(w.shape[1], w.shape[0]))
        if i < len(weights) - 1 or spec.loss == "quadratic":
            layers.append(act())
    model = nn.Sequential(*layers)
    model.load_state_dict(state)
    for name, p in model.named_parameters():
        assert p.data.dtype == np.float32 and np.array_equal(p.data, state[name]), name
    if spec.optimizer == "sgd":
        opt = optim.SGD(model.parameters(), lr=spec.lr)
    else:
        opt = optim.Adam(model.parameters(), lr=spec.lr)
    quadratic = spec.loss == "quadratic"
    from_numpy = tg.from_numpy  # shares the batch, as torch.from_numpy (tg.Tensor copies)

    def step(x, y, onehot):
        opt.zero_grad()
        out = model(from_numpy(x))
        loss = F.quadratic_loss(out, onehot) if quadratic else F.cross_entropy(out, y)
        loss.backward()
        opt.step()
        return loss

    if jit:  # the same loss, traced once and replayed from the tape
        traced = tg.jit(lambda x, t: F.quadratic_loss(model(x), t) if quadratic
                        else F.cross_entropy(model(x), t))

        def step(x, y, onehot):  # noqa: F811
            opt.zero_grad()
            loss = traced(x, onehot if quadratic else y)
            opt.step()
            return loss

    step.model, step.optimizer = model, opt  # type: ignore[attr-defined]
    return step, lambda loss: float(loss.item())


def make_numpy(spec: Spec, weights) -> tuple[StepFn, Callable[[Any], float]]:
    net = NumpyMLP(weights, activation=spec.activation, loss=spec.loss,
                   optimizer=spec.optimizer, lr=spec.lr)
    return net.step, float


def make_torch(spec: Spec, weights) -> tuple[StepFn, Callable[[Any], float]]:
    import torch
    import torch.nn.functional as F
    from torch import nn

    act = nn.Sigmoid if spec.activation == "sigmoid" else nn.ReLU
    layers: list[Any] = []
    for i, (w, b) in enumerate(weights):
        lin = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(w))
            lin.bias.copy_(torch.from_numpy(b))
        layers.append(lin)
        if i < len(weights) - 1 or spec.loss == "quadratic":
            layers.append(act())
    model = nn.Sequential(*layers)
    if spec.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=spec.lr)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=spec.lr)
    quadratic = spec.loss == "quadratic"
    half_over_n = 0.5 / spec.batch
    from_numpy = torch.from_numpy

    def step(x, y, onehot):
        opt.zero_grad()
        out = model(from_numpy(x))
        if quadratic:
            loss = F.mse_loss(out, from_numpy(onehot), reduction="sum") * half_over_n
        else:
            loss = F.cross_entropy(out, from_numpy(y))
        loss.backward()
        opt.step()
        return loss

    return step, lambda loss: float(loss.item())


def make_mygrad(spec: Spec, weights) -> tuple[StepFn, Callable[[Any], float]]:
    """MyGrad has tensors and autograd but no modules or optimizers: written as its users do
    (weights stored (in, out) so the layer is ``x @ W + b``; update on ``.data``)."""
    import mygrad as mg
    from mygrad.nnet.activations import relu, sigmoid
    from mygrad.nnet.losses import softmax_crossentropy

    act = sigmoid if spec.activation == "sigmoid" else relu
    params = []
    for w, b in weights:
        params += [mg.tensor(np.ascontiguousarray(w.T)), mg.tensor(b.copy())]
    pairs = list(zip(params[0::2], params[1::2], strict=True))
    last = len(pairs) - 1
    quadratic, lr = spec.loss == "quadratic", spec.lr
    half_over_n = 0.5 / spec.batch
    adam = None
    if spec.optimizer == "adam":
        adam = [(np.zeros_like(p.data), np.zeros_like(p.data), np.empty_like(p.data))
                for p in params]
    t = [0]

    def step(x, y, onehot):
        h = x
        for i, (w, b) in enumerate(pairs):
            h = h @ w + b
            if i < last or quadratic:
                h = act(h)
        if quadratic:
            loss = mg.sum((h - onehot) ** 2) * half_over_n
        else:
            loss = softmax_crossentropy(h, y)
        loss.backward()
        t[0] += 1
        if adam is None:
            for p in params:
                p.data -= lr * p.grad
        else:
            for p, (m, v, tmp) in zip(params, adam, strict=True):
                adam_update(p.data, p.grad, m, v, tmp, t[0], lr)
        return loss

    return step, lambda loss: float(loss.item())


FACTORIES = {"tinygrad_mlp": make_tinygrad,
             "tinygrad_mlp_jit": lambda spec, weights: make_tinygrad(spec, weights, jit=True),
             "numpy": make_numpy, "torch": make_torch, "mygrad": make_mygrad}


# ----- statistics ---------------------------------------------------------------------------


def summarize(times_s: Sequence[float], batch: int) -> dict[str, float]:
    ms = sorted(t * 1e3 for t in times_s)
    q = statistics.quantiles(ms, n=4, method="inclusive") if len(ms) > 1 else [ms[0]] * 3
    med = statistics.median(ms)
    return {"median_ms": med, "q1_ms": q[0], "q3_ms": q[2], "min_ms": ms[0], "max_ms": ms[-1],
            "mean_ms": statistics.fmean(ms), "steps": len(ms),
            "samples_per_s": batch / (med / 1e3) if med > 0 else float("inf")}


def rss_mib() -> float:
    """Resident set size now (VmRSS), MiB; the peak (ru_maxrss) where /proc is missing."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


def peak_rss_mib() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024 if sys.platform == "darwin" else 1024)


# ----- the benchmark ------------------------------------------------------------------------


@dataclass
class Settings:
    rounds: int
    block_s: float  # wall time of one contender's block in a round
    block_steps: int | None  # fixed K steps per block (overrides block_s)
    warmup: int  # warm-up steps per contender (at most)
    warmup_s: float  # ... or this long, whichever ends first
    max_config_s: float | None  # stop adding rounds after this long
    check_steps: int
    mem_steps: int
    mem_warmup: int
    d_ops: int
    d_reps: int
    rtol: float


def settings_for(args: argparse.Namespace) -> Settings:
    if args.quick:
        s = Settings(rounds=3, block_s=0.01, block_steps=None, warmup=3, warmup_s=0.2,
                     max_config_s=2.0, check_steps=2,
                     mem_steps=200, mem_warmup=10, d_ops=1000, d_reps=3, rtol=1e-4)
    else:
        s = Settings(rounds=30, block_s=0.1, block_steps=None, warmup=30, warmup_s=1.0,
                     max_config_s=20.0, check_steps=3,
                     mem_steps=1000, mem_warmup=50, d_ops=1000, d_reps=25, rtol=1e-4)
    if args.block_steps is not None:
        s.max_config_s = None  # a fixed number of steps: run all the rounds
    for field in ("rounds", "block_steps", "block_s", "warmup", "mem_steps", "d_ops",
                  "d_reps", "max_config_s"):
        v = getattr(args, field)
        if v is not None:
            setattr(s, field, v)
    return s


def check_losses(spec: Spec, keys: Sequence[str], weights, pool, s: Settings,
                 log: Callable[[str], None], factories: dict | None = None,
                 labels: dict | None = None) -> tuple[dict[str, Any], list[str]]:
    """Fresh copies of every contender take the same first steps; losses must agree."""
    factories, labels = factories or FACTORIES, labels or LABELS
    losses: dict[str, list[float]] = {}
    for key in keys:
        step, value = factories[key](spec, weights)
        losses[key] = [value(step(*pool[i % len(pool)])) for i in range(s.check_steps)]
    ref_key = "numpy" if "numpy" in losses else keys[0]
    ref = losses[ref_key]
    bad: list[str] = []
    report: dict[str, Any] = {"reference": ref_key, "rtol": s.rtol, "contenders": {}}
    for key, ls in losses.items():
        rel = [abs(a - r) / max(abs(r), 1e-12) for a, r in zip(ls, ref, strict=True)]
        # step 1 must agree to rtol; later steps also test the update (a little looser)
        ok = rel[0] <= s.rtol and all(d <= 10 * s.rtol for d in rel[1:])
        ok = ok and all(np.isfinite(ls))
        report["contenders"][key] = {"losses": ls, "rel_diff": rel, "ok": ok}
        log(f"    {labels[key]:<14} first-step loss {ls[0]:.7f}  rel diff vs {ref_key} "
            f"{rel[0]:.1e}   (steps 1..{len(ls)}: "
            + ", ".join(f"{v:.6f}" for v in ls) + ")" + ("" if ok else "   <-- MISMATCH"))
        if not ok:
            bad.append(key)
    return report, bad


def run_training_config(spec: Spec, keys: Sequence[str], s: Settings, seed: int,
                        log: Callable[[str], None], factories: dict | None = None,
                        labels: dict | None = None) -> dict[str, Any]:
    """Check the contenders' losses agree, then time them interleaved. ``factories`` and
    ``labels`` default to this script's contenders (benchmarks/overhead.py passes others)."""
    factories, labels = factories or FACTORIES, labels or LABELS
    weights = make_weights(spec.sizes, seed)
    pool = make_pool(spec, seed)
    log(f"\n[{spec.name}] {spec.about}")
    check, bad = check_losses(spec, keys, weights, pool, s, log, factories, labels)
    keys = [k for k in keys if k not in bad]
    steps = {k: factories[k](spec, weights)[0] for k in keys}
    perf = time.perf_counter
    for k in keys:  # warm-up: caches, allocator, lazy imports, optimizer state
        step = steps[k]
        t_end = perf() + s.warmup_s
        for i in range(s.warmup):
            step(*pool[i % len(pool)])
            if i >= 1 and perf() > t_end:
                break
    # Rounds of interleaved blocks, order rotated each round. A block is K steps, or
    # (without --block-steps) as many steps as fit in block_s: every contender gets about
    # the same wall-time slice of each round, however slow it is.
    k_max = s.block_steps if s.block_steps is not None else 100_000
    time_cap = s.block_s if s.block_steps is None else float("inf")
    times: dict[str, list[float]] = {k: [] for k in keys}
    cursor = dict.fromkeys(keys, s.warmup)
    n = len(keys)
    t_config = perf()
    rounds = 0
    for r in range(s.rounds):
        order = keys[r % n:] + keys[:r % n]
        for k in order:
            step, acc, c = steps[k], times[k], cursor[k]
            t_block = perf() + time_cap
            i = c
            for i in range(c, c + k_max):
                x, y, oh = pool[i % len(pool)]
                t0 = perf()
                step(x, y, oh)
                t1 = perf()
                acc.append(t1 - t0)
                if t1 > t_block:
                    break
            cursor[k] = i + 1
        rounds += 1
        if s.max_config_s is not None and perf() - t_config > s.max_config_s:
            break
    results = {k: summarize(times[k], spec.batch) for k in keys}
    for k, res in results.items():
        res["vs_numpy"] = (res["median_ms"] / results["numpy"]["median_ms"]
                           if "numpy" in results else None)
        res["vs_torch"] = (res["median_ms"] / results["torch"]["median_ms"]
                           if "torch" in results else None)
        log(f"    {labels[k]:<14} {res['median_ms']:9.4f} ms/step  "
            f"IQR {res['q1_ms']:.4f}-{res['q3_ms']:.4f}  ({res['steps']} steps)")
    return {"spec": asdict(spec), "block_steps": s.block_steps, "block_s": s.block_s,
            "rounds": rounds,
            "warmup": s.warmup, "loss_check": check, "mismatched": bad, "results": results}


# ----- D: graph overhead --------------------------------------------------------------------


def _chain_numpy(n_ops: int) -> tuple[float, None]:
    y = np.ones(8, np.float32)
    t0 = time.perf_counter()
    for _ in range(n_ops // 2):
        y = y * 1.0001
        y = y + 0.0001
    return time.perf_counter() - t0, None


def _chain(x: Any, n_ops: int) -> tuple[float, float]:
    """Record n_ops elementwise ops on the leaf x, then backward: (record s, backward s)."""
    y = x
    t0 = time.perf_counter()
    for _ in range(n_ops // 2):
        y = y * 1.0001
        y = y + 0.0001
    t1 = time.perf_counter()
    s = y.sum()
    t2 = time.perf_counter()
    s.backward()
    t3 = time.perf_counter()
    assert x.grad is not None
    return t1 - t0, t3 - t2


def _chain_tinygrad(n_ops: int) -> tuple[float, float]:
    import tinygrad_mlp as tg

    return _chain(tg.Tensor(np.ones(8, np.float32), requires_grad=True), n_ops)


def _chain_torch(n_ops: int) -> tuple[float, float]:
    import torch

    return _chain(torch.ones(8, requires_grad=True), n_ops)


def _chain_mygrad(n_ops: int) -> tuple[float, float]:
    import mygrad as mg

    return _chain(mg.tensor(np.ones(8, np.float32)), n_ops)


def run_graph_overhead(keys: Sequence[str], s: Settings,
                       log: Callable[[str], None]) -> dict[str, Any]:
    fns = {"numpy": _chain_numpy, "tinygrad_mlp": _chain_tinygrad, "torch": _chain_torch,
           "mygrad": _chain_mygrad}
    keys = [k for k in ("tinygrad_mlp", "torch", "mygrad", "numpy") if k in keys]
    n_ops = s.d_ops - s.d_ops % 2
    log(f"\n[D] graph overhead: {n_ops}-op elementwise chain (x*c, +c) on float32[8], "
        f"then sum().backward() ({n_ops + 1} backward nodes)")
    for k in keys:  # warm-up
        fns[k](min(n_ops, 100))
    fwd: dict[str, list[float]] = {k: [] for k in keys}
    bwd: dict[str, list[float]] = {k: [] for k in keys}
    for r in range(s.d_reps):
        order = keys[r % len(keys):] + keys[:r % len(keys)]
        for k in order:
            f, b = fns[k](n_ops)
            fwd[k].append(f / n_ops * 1e6)
            if b is not None:
                bwd[k].append(b / (n_ops + 1) * 1e6)
    out: dict[str, Any] = {"ops": n_ops, "reps": s.d_reps, "results": {}}
    base = statistics.median(fwd["numpy"]) if "numpy" in fwd else None
    for k in keys:
        res: dict[str, Any] = {
            "fwd_us_per_op": statistics.median(fwd[k]),
            "fwd_min": min(fwd[k]), "fwd_max": max(fwd[k]),
            "bwd_us_per_node": statistics.median(bwd[k]) if bwd[k] else None,
            "bwd_min": min(bwd[k]) if bwd[k] else None,
            "bwd_max": max(bwd[k]) if bwd[k] else None,
        }
        res["fwd_overhead_us"] = (res["fwd_us_per_op"] - base
                                  if base is not None and k != "numpy" else None)
        out["results"][k] = res
        b = res["bwd_us_per_node"]
        log(f"    {LABELS[k]:<14} forward {res['fwd_us_per_op']:7.2f} µs/op   backward "
            + (f"{b:7.2f} µs/node" if b is not None else "   (no graph)"))
    return out


# ----- E: memory ----------------------------------------------------------------------------


def run_memory(keys: Sequence[str], s: Settings, seed: int,
               log: Callable[[str], None]) -> dict[str, Any]:
    spec = TRAIN_SPECS["B"]
    weights = make_weights(spec.sizes, seed)
    pool = make_pool(spec, seed)
    flat_mib = 4.0
    log(f"\n[E] memory: RSS over {s.mem_steps} steps of B after {s.mem_warmup} warm-up steps "
        f"(flat = grows < {flat_mib:g} MiB)")
    out: dict[str, Any] = {"steps": s.mem_steps, "warmup": s.mem_warmup,
                           "flat_threshold_mib": flat_mib, "results": {}}
    for k in keys:
        step = FACTORIES[k](spec, weights)[0]
        for i in range(s.mem_warmup):
            step(*pool[i % len(pool)])
        gc.collect()
        warm = rss_mib()
        peak = warm
        for i in range(s.mem_steps):
            step(*pool[i % len(pool)])
            if i % 10 == 9:
                peak = max(peak, rss_mib())
        gc.collect()
        end = rss_mib()
        peak = max(peak, end)
        res: dict[str, Any] = {"rss_warm_mib": warm, "rss_end_mib": end, "rss_peak_mib": peak,
                               "growth_mib": end - warm, "flat": end - warm < flat_mib}
        if k == "tinygrad_mlp":  # Python-level allocations too (numpy reports its buffers)
            res.update(_traced_growth(step, pool, min(s.mem_steps, 500)))
        out["results"][k] = res
        extra = ""
        if "traced_growth_kib" in res:
            extra = (f"   tracemalloc over {res['traced_steps']} steps: "
                     f"{res['traced_growth_kib']:+.1f} KiB, peak {res['traced_peak_kib']:.0f} KiB")
        log(f"    {LABELS[k]:<14} RSS warm {warm:7.1f} MiB  end {end:7.1f} MiB  peak "
            f"{peak:7.1f} MiB  growth {end - warm:+6.2f} MiB  "
            f"{'flat' if res['flat'] else 'GROWING'}{extra}")
        del step
        gc.collect()
    out["step_peak"] = _step_peaks(keys, seed, log)
    out["process_peak_rss_mib"] = peak_rss_mib()
    return out


def _step_peaks(keys: Sequence[str], seed: int, log: Callable[[str], None],
                steps: int = 20) -> dict[str, float]:
    """Peak memory a training loop of config C holds above its warm state (tracemalloc,
    which sees numpy's buffers): activations kept alive, saved values, gradients, and the
    previous step's graph if the loss it returned (kept, as a loop's ``loss`` variable is)
    still holds it."""
    import tracemalloc

    spec = TRAIN_SPECS["C"]
    weights = make_weights(spec.sizes, seed)
    pool = make_pool(spec, seed)
    x_mib = pool[0][0].nbytes / 2**20
    log(f"    peak memory of a config C loop above its warm state (tracemalloc, {steps} steps;"
        f" one batch is {x_mib:.2f} MiB):")
    peaks: dict[str, float] = {}
    for k in keys:
        step = FACTORIES[k](spec, weights)[0]
        for i in range(3):
            step(*pool[i % len(pool)])
        gc.collect()
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            last = None
            for i in range(steps):  # as a user's loop: `loss = step(...)` lives on
                last = step(*pool[i % len(pool)])  # noqa: F841
            _, peak = tracemalloc.get_traced_memory()
            del last
        finally:
            tracemalloc.stop()
        peaks[k] = (peak - before) / 2**20
        log(f"      {LABELS[k]:<22} {peaks[k]:7.2f} MiB")
        del step
        gc.collect()
    return peaks


def _traced_growth(step: StepFn, pool, n: int) -> dict[str, Any]:
    import tracemalloc

    tracemalloc.start()
    try:
        for i in range(10):
            step(*pool[i % len(pool)])
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        for i in range(n):
            step(*pool[i % len(pool)])
        gc.collect()
        after, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return {"traced_steps": n, "traced_growth_kib": (after - before) / 1024,
            "traced_peak_kib": (peak - before) / 1024}


# ----- environment --------------------------------------------------------------------------


def blas_info() -> dict[str, Any]:
    """Which BLAS numpy (and torch) use, from threadpoolctl when installed."""
    info: dict[str, Any] = {}
    try:
        from threadpoolctl import threadpool_info

        info["threadpools"] = [
            {k: d.get(k) for k in ("user_api", "internal_api", "version", "num_threads",
                                   "architecture", "threading_layer", "filepath")}
            for d in threadpool_info()
        ]
    except ImportError:
        info["threadpools"] = None
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info["numpy_blas"] = {k: blas.get(k) for k in ("name", "version",
                                                       "openblas configuration")}
    except Exception as e:  # noqa: BLE001  (old numpy: no mode="dicts")
        info["numpy_blas"] = {"error": str(e)}
    return info


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def pin_threads(n: int, keys: Sequence[str]) -> tuple[Any, list[str]]:
    """Limit every BLAS/OpenMP pool to ``n`` threads; returns (limiter, notes)."""
    notes = []
    limiter = None
    if "torch" in keys:
        import torch

        torch.set_num_threads(n)
        notes.append(f"torch.set_num_threads({n})")
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=n)
        notes.append(f"threadpoolctl.threadpool_limits({n})")
    except ImportError:
        notes.append("threadpoolctl not installed: thread counts from env vars "
                     + ", ".join(f"{v}={os.environ.get(v)}" for v in _BLAS_THREAD_VARS))
    return limiter, notes


# ----- output -------------------------------------------------------------------------------


def _ms(v: float) -> str:
    return f"{v:.4f}" if v < 1 else f"{v:.3f}" if v < 10 else f"{v:.2f}"


def training_table(report: dict[str, Any]) -> list[str]:
    rows = ["| config | contender | ms/step (median) | spread (IQR) | samples/s | vs numpy "
            "| vs torch |", "|---|---|---:|---:|---:|---:|---:|"]
    for name, cfg in report["configs"].items():
        if name not in TRAIN_SPECS:
            continue
        for k, r in cfg["results"].items():
            ratio_np = f"{r['vs_numpy']:.2f}×" if r["vs_numpy"] is not None else "—"
            ratio_t = f"{r['vs_torch']:.2f}×" if r["vs_torch"] is not None else "—"
            noisy = " (noisy)" if r["q3_ms"] - r["q1_ms"] > 0.5 * r["median_ms"] else ""
            rows.append(f"| {name} | {LABELS[k]} | {_ms(r['median_ms'])} | "
                        f"{_ms(r['q1_ms'])}–{_ms(r['q3_ms'])}{noisy} | "
                        f"{r['samples_per_s']:,.0f} | "
                        f"{ratio_np} | {ratio_t} |")
    return rows


def markdown(report: dict[str, Any]) -> str:
    env = report["environment"]
    lines = ["# tinygrad_mlp training-step benchmark", "",
             f"- {env['timestamp']}, `{' '.join(env['argv'])}`",
             f"- CPU: {env['cpu']} ({env['cores']} cores usable), threads pinned to "
             f"{env['threads']} ({'; '.join(env['pinning'])})",
             f"- Python {env['python']}, numpy {env['numpy']} (BLAS: {env['blas_summary']}), "
             f"torch {env['torch'] or '—'}, mygrad {env['mygrad'] or '—'}",
             f"- OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}, "
             f"OPENBLAS_L2_SIZE={env['OPENBLAS_L2_SIZE']}",
             f"- load average at start: "
             f"{', '.join(f'{v:.2f}' for v in env['loadavg']) if env['loadavg'] else '?'}"]
    if env.get("warning"):
        lines.append(f"- **warning**: {env['warning']}")
    lines.append("")
    if any(n in TRAIN_SPECS for n in report["configs"]):
        lines += ["## Training step (A, B, C, C-adam)", "",
                  "Median of per-step wall times over interleaved blocks; spread is the "
                  "interquartile range; ratios are median ms/step ÷ that contender's.", ""]
        lines += training_table(report)
        lines += ["", "First-step losses (must agree):", "",
                  "| config | contender | loss, step 1 | rel. diff vs reference |",
                  "|---|---|---:|---:|"]
        for name, cfg in report["configs"].items():
            if name in TRAIN_SPECS:
                for k, c in cfg["loss_check"]["contenders"].items():
                    lines.append(f"| {name} | {LABELS[k]} | {c['losses'][0]:.7f} | "
                                 f"{c['rel_diff'][0]:.1e}{'' if c['ok'] else ' MISMATCH'} |")
    if "D" in report["configs"]:
        d = report["configs"]["D"]
        lines += ["", f"## D: graph overhead ({d['ops']}-op elementwise chain on float32[8])",
                  "", "| contender | forward µs/op | overhead over numpy µs/op | "
                  "backward µs/node |", "|---|---:|---:|---:|"]
        for k, r in d["results"].items():
            over, b = r["fwd_overhead_us"], r["bwd_us_per_node"]
            lines.append(f"| {LABELS[k]} | {r['fwd_us_per_op']:.2f} | "
                         f"{'—' if over is None else f'{over:.2f}'} | "
                         f"{'—' if b is None else f'{b:.2f}'} |")
    if "E" in report["configs"]:
        e = report["configs"]["E"]
        lines += ["", f"## E: memory over {e['steps']} steps of B",
                  "", "| contender | RSS after warm-up MiB | RSS after MiB | peak MiB | "
                  "growth MiB | flat |", "|---|---:|---:|---:|---:|---|"]
        for k, r in e["results"].items():
            lines.append(f"| {LABELS[k]} | {r['rss_warm_mib']:.1f} | {r['rss_end_mib']:.1f} | "
                         f"{r['rss_peak_mib']:.1f} | {r['growth_mib']:+.2f} | "
                         f"{'yes' if r['flat'] else 'NO'} |")
        if e.get("step_peak"):
            lines += ["", "Peak memory of a config C training loop above its warm state "
                      "(tracemalloc):", "", "| contender | peak MiB |", "|---|---:|"]
            lines += [f"| {LABELS[k]} | {v:.2f} |" for k, v in e["step_peak"].items()]
        tg = e["results"].get("tinygrad_mlp", {})
        if "traced_growth_kib" in tg:
            lines += ["", f"tinygrad_mlp under tracemalloc ({tg['traced_steps']} steps): "
                      f"net {tg['traced_growth_kib']:+.1f} KiB, peak "
                      f"{tg['traced_peak_kib']:.0f} KiB above the warm state."]
    return "\n".join(lines) + "\n"


# ----- profiling ----------------------------------------------------------------------------


def profile_tinygrad(config: str, steps: int, seed: int, out_dir: str, top: int = 15) -> str:
    """cProfile of the tinygrad_mlp training step; returns (and saves) the top-N table."""
    import cProfile
    import io
    import pstats

    spec = TRAIN_SPECS[config]
    pool = make_pool(spec, seed)
    step = make_tinygrad(spec, make_weights(spec.sizes, seed))[0]
    for i in range(20):
        step(*pool[i % len(pool)])
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for i in range(steps):
        step(*pool[i % len(pool)])
    prof.disable()
    wall = time.perf_counter() - t0
    buf = io.StringIO()
    buf.write(f"cProfile: tinygrad_mlp, config {config} ({spec.about}), {steps} steps, "
              f"{wall / steps * 1e3:.3f} ms/step under the profiler\n")
    pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(top)
    text = buf.getvalue()
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"profile_{config}.txt"), "w") as f:
        f.write(text)
    return text


# ----- main ---------------------------------------------------------------------------------


def _csv(value: str, allowed: Sequence[str], what: str) -> list[str]:
    items = [v.strip() for v in value.split(",") if v.strip()]
    lookup = {a.lower(): a for a in allowed}
    out = []
    for v in items:
        if v.lower() not in lookup:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {v!r}; choose from {', '.join(allowed)}")
        out.append(lookup[v.lower()])
    return out


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def build_parser() -> argparse.ArgumentParser:
    """The command line (benchmarks/overhead.py reuses it)."""
    p = argparse.ArgumentParser(
        prog="benchmarks/mlp.py", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="See benchmarks/README.md for what the numbers mean.")
    p.add_argument("--quick", action="store_true",
                   help="a handful of steps per config (~10-20 s): checks, not measurements")
    p.add_argument("--configs", default=",".join(ALL_CONFIGS),
                   type=lambda v: _csv(v, ALL_CONFIGS, "config"),
                   help="comma-separated subset of %(default)s")
    p.add_argument("--contenders", default=",".join(ALL_CONTENDERS),
                   type=lambda v: _csv(v, ALL_CONTENDERS, "contender"),
                   help="comma-separated subset of %(default)s (missing ones are skipped)")
    p.add_argument("--out-dir", default=os.path.join(_HERE, "results"),
                   help="where mlp.md and mlp.json go (default: benchmarks/results/)")
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS/OpenMP threads for every contender (default: usable cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds per config")
    p.add_argument("--block-s", type=float, default=None,
                   help="seconds per contender per round (default 0.1; --quick 0.01)")
    p.add_argument("--block-steps", type=int, default=None,
                   help="fixed steps per contender per round (instead of --block-s)")
    p.add_argument("--max-config-s", type=float, default=None,
                   help="stop adding rounds to a config after this many seconds "
                        "(default 20; --quick 2)")
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps per contender")
    p.add_argument("--mem-steps", type=int, default=None, help="steps of B measured in E")
    p.add_argument("--d-ops", type=int, default=None, help="chain length in D")
    p.add_argument("--d-reps", type=int, default=None, help="repetitions in D")
    p.add_argument("--profile", default=None, choices=sorted(TRAIN_SPECS),
                   help="only profile tinygrad_mlp on this config (cProfile, top 15 by tottime)")
    p.add_argument("--profile-steps", type=int, default=1000)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.profile:
        print(profile_tinygrad(args.profile, args.profile_steps, args.seed, args.out_dir))
        return 0
    s = settings_for(args)
    log = print
    threads = args.threads or machine_cores()
    keys = []
    skipped = {}
    for k in args.contenders:
        why = contender_available(k)
        if why is None:
            keys.append(k)
        else:
            skipped[k] = why
            log(f"skipping {LABELS[k]}: {why}")
    if not keys:
        log("no contender can run")
        return 2
    limiter, pinning = pin_threads(threads, keys)
    info = blas_info()
    nb = info.get("numpy_blas") or {}
    blas_summary = f"{nb.get('name')} {nb.get('version')}"
    if info.get("threadpools"):
        blas_summary += "; loaded: " + ", ".join(
            f"{d['internal_api']} {d['version']} ({d['num_threads']} threads"
            + (f", {d['architecture']}" if d.get("architecture") else "") + ")"
            for d in info["threadpools"])
    versions = {}
    for mod in ("torch", "mygrad"):
        versions[mod] = sys.modules[mod].__version__ if mod in keys else None
    env = {
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%S %z"), "argv": [
            "benchmarks/mlp.py", *(argv if argv is not None else sys.argv[1:])],
        "python": platform.python_version(), "numpy": np.__version__, **versions,
        "cpu": cpu_model(), "cores": machine_cores(), "threads": threads,
        "pinning": pinning, "blas": info, "blas_summary": blas_summary,
        "thread_env_before": _ENV_BEFORE,
        "thread_env": {v: os.environ.get(v) for v in _BLAS_THREAD_VARS},
        **{v: os.environ.get(v) for v in _BLAS_TUNING_VARS},
        "skipped": skipped, "quick": args.quick, "settings": asdict(s),
        "loadavg": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    log(f"CPU {env['cpu']}, {env['cores']} usable cores; threads pinned to {threads} "
        f"({'; '.join(pinning)})")
    log(f"numpy {np.__version__} BLAS: {blas_summary}")
    tuned = [f"{v}={os.environ[v]}" for v in _BLAS_TUNING_VARS if os.environ.get(v)]
    log("BLAS tuning env: " + (", ".join(tuned) + " (affects numpy's kernels, not torch's)"
                               if tuned else "OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE not set"))
    log(f"contenders: {', '.join(LABELS[k] for k in keys)}")
    if env["loadavg"] is not None and env["loadavg"][0] > 0.5 * env["cores"]:
        env["warning"] = (
            f"load average {env['loadavg'][0]:.2f} on {env['cores']} cores: other processes "
            f"compete for the CPUs; multithreaded BLAS regions stall when one of their "
            f"threads is descheduled, so numbers are noisy (try --threads 1)")
        log("WARNING: " + env["warning"])

    report: dict[str, Any] = {"environment": env, "configs": {}}
    mismatched = []
    t_start = time.perf_counter()
    try:
        for name in args.configs:
            if name in TRAIN_SPECS:
                res = run_training_config(TRAIN_SPECS[name], keys, s, args.seed, log)
                mismatched += [f"{name}:{k}" for k in res["mismatched"]]
            elif name == "D":
                d_keys = [k for k in keys if k != "numpy"] + ["numpy"]
                res = run_graph_overhead(d_keys, s, log)
            else:
                res = run_memory(keys, s, args.seed, log)
            report["configs"][name] = res
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    env["total_s"] = time.perf_counter() - t_start

    os.makedirs(args.out_dir, exist_ok=True)
    md = markdown(report)
    with open(os.path.join(args.out_dir, "mlp.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out_dir, "mlp.json"), "w") as f:
        json.dump(report, f, indent=1, default=str)
    log("")
    if any(n in TRAIN_SPECS for n in report["configs"]):
        log("\n".join(training_table(report)))
    log(f"\nwrote {os.path.join(args.out_dir, 'mlp.md')} and mlp.json "
        f"({env['total_s']:.1f} s)")
    if mismatched:
        log("LOSS MISMATCH (excluded from timing): " + ", ".join(mismatched))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
