"""Training-step speed of small convolutional networks: tinygrad_mlp vs numpy floor vs PyTorch.

    python benchmarks/cnn.py [--quick] [--configs F,G] [--threads N] [--rounds R]

One process; every contender trains the *same* network from the *same* initial weights on
the *same* float32 batches, timed interleaved (rounds of K steps each, the order rotated
every round) so machine noise hits all alike. Before timing, the first steps' losses are
compared with the numpy floor's (same math, same numbers, or the contender is dropped).

Configurations:
  F   LeNet-5-sized: conv 1→6 5×5 pad 2, relu, max-pool 2 → conv 6→16 5×5, relu,
      max-pool 2 → 400-120-84-10 relu, cross-entropy, SGD lr 0.05, batch 128
  G   the ``cnn`` preset's step: conv 1→16 5×5 pad 2, relu, max-pool 2 → conv 16→32 5×5
      pad 2, relu, max-pool 2 → 1568-128-10 relu, cross-entropy, Adam lr 2e-3, batch 128

Contenders: tinygrad_mlp (the public API, eager), tinygrad_mlp_jit (the same loss through
``tg.jit``, as ``tinygrad-mlp train`` runs it), numpy (a hand-written floor: im2col +
BLAS, 2×2 pooling by reshaping, no graph), torch (CPU, when installed).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
if __name__ == "__main__" and "numpy" not in sys.modules:  # BLAS reads these when loaded
    _n = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--threads"), None)
    for _var in _THREAD_VARS:
        os.environ[_var] = _n or str(len(os.sched_getaffinity(0)))

import numpy as np  # noqa: E402
from numpy.lib.stride_tricks import as_strided  # noqa: E402

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
try:
    import tinygrad_mlp  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.dirname(_HERE))

from numpy_mlp import adam_update  # noqa: E402


@dataclass(frozen=True)
class Spec:
    name: str
    convs: tuple[tuple[int, int, int], ...]  # (out channels, kernel, padding), each + pool 2
    dense: tuple[int, ...]  # hidden sizes, then 10
    optimizer: str
    lr: float
    batch: int = 128
    pool: int = 4  # distinct batches, reused cyclically


SPECS = {
    "F": Spec("F", ((6, 5, 2), (16, 5, 0)), (120, 84), "sgd", 0.05),
    "G": Spec("G", ((16, 5, 2), (32, 5, 2)), (128,), "adam", 2e-3),
}
LABELS = {"tinygrad_mlp": "tinygrad_mlp", "tinygrad_mlp_jit": "tinygrad_mlp (tg.jit)",
          "numpy": "numpy (floor)", "torch": "torch"}


def layer_shapes(spec: Spec) -> list[tuple[str, tuple[int, ...]]]:
    """(kind, weight shape) of every layer with parameters, in order."""
    shapes, c, side = [], 1, 28
    for out, k, p in spec.convs:
        shapes.append(("conv", (out, c, k, k)))
        c, side = out, (side + 2 * p - k + 1) // 2
    n = c * side * side
    for h in (*spec.dense, 10):
        shapes.append(("linear", (h, n)))
        n = h
    return shapes


def make_weights(spec: Spec, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """PyTorch's default init (U(±1/√fan_in) for weight and bias), drawn once with numpy."""
    rng = np.random.default_rng(seed)
    out = []
    for _, shape in layer_shapes(spec):
        bound = 1.0 / math.sqrt(math.prod(shape[1:]))
        out.append((rng.uniform(-bound, bound, shape).astype(np.float32),
                    rng.uniform(-bound, bound, shape[0]).astype(np.float32)))
    return out


def make_pool(spec: Spec, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(seed + 1)
    return [(rng.random((spec.batch, 1, 28, 28), dtype=np.float32),
             rng.integers(0, 10, spec.batch)) for _ in range(spec.pool)]


# ----- contenders: each returns step(x, y) -> float loss ------------------------------------


def make_tinygrad(spec: Spec, weights, jit: bool = False) -> Callable[..., float]:
    import tinygrad_mlp as tg
    import tinygrad_mlp.nn.functional as F
    from tinygrad_mlp import nn, optim

    layers: list[Any] = []
    c = 1
    for out, k, p in spec.convs:
        layers += [nn.Conv2d(c, out, k, padding=p), nn.ReLU(), nn.MaxPool2d(2)]
        c = out
    layers.append(nn.Flatten())
    for _, shape in layer_shapes(spec)[len(spec.convs):]:
        layers += [nn.Linear(shape[1], shape[0]), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    params = list(model.parameters())  # weight, bias of each layer in order
    for p, v in zip(params, [a for wb in weights for a in wb], strict=True):
        p.data[...] = v
    opt = (optim.SGD(params, lr=spec.lr) if spec.optimizer == "sgd"
           else optim.Adam(params, lr=spec.lr))
    if jit:
        traced = tg.jit(lambda x, y: F.cross_entropy(model(x), y))

        def step(x, y):
            opt.zero_grad()
            loss = traced(x, y)
            opt.step()
            return loss
        return step

    def step(x, y):  # noqa: F811
        opt.zero_grad()
        loss = F.cross_entropy(model(tg.Tensor(x)), y)
        loss.backward()
        opt.step()
        return loss
    return step


def make_torch(spec: Spec, weights) -> Callable[..., Any]:
    import torch

    T = torch.nn
    layers: list[Any] = []
    c = 1
    for out, k, p in spec.convs:
        layers += [T.Conv2d(c, out, k, padding=p), T.ReLU(), T.MaxPool2d(2)]
        c = out
    layers.append(T.Flatten())
    for _, shape in layer_shapes(spec)[len(spec.convs):]:
        layers += [T.Linear(shape[1], shape[0]), T.ReLU()]
    model = T.Sequential(*layers[:-1])
    params = list(model.parameters())  # weight, bias of each layer in order
    with torch.no_grad():
        for p, v in zip(params, [a for wb in weights for a in wb], strict=True):
            p.copy_(torch.from_numpy(v))
    opt = (torch.optim.SGD(params, lr=spec.lr) if spec.optimizer == "sgd"
           else torch.optim.Adam(params, lr=spec.lr))

    def step(x, y):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        loss.backward()
        opt.step()
        return loss
    return step


class NumpyCNN:
    """The floor: the same network's forward, backward and update written by hand."""

    def __init__(self, spec: Spec, weights) -> None:
        self.spec = spec
        self.params = [(w.copy(), b.copy()) for w, b in weights]
        self.kinds = [k for k, _ in layer_shapes(spec)]
        if spec.optimizer == "adam":
            self.moments = [[np.zeros_like(a) for a in (w, b, w, b, w, b)]
                            for w, b in self.params]
        self.t = 0

    @staticmethod
    def im2col(x, k, p):
        n, c, h, w = x.shape
        if p:
            x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
        oh, ow = h + 2 * p - k + 1, w + 2 * p - k + 1
        s = x.strides
        view = as_strided(x, (c, k, k, n, oh, ow), (s[1], s[2], s[3], s[0], s[2], s[3]))
        return view.reshape(c * k * k, n * oh * ow), (oh, ow)

    def step(self, x, y):
        spec, caches, h = self.spec, [], x
        for (w, b), (out, k, p) in zip(self.params, spec.convs, strict=False):
            cols, (oh, ow) = self.im2col(h, k, p)
            z = (w.reshape(out, -1) @ cols).reshape(out, len(x), oh, ow).transpose(1, 0, 2, 3)
            a = np.empty((len(x), out, oh, ow), np.float32)  # NCHW again, + bias, relu
            np.add(z, b[:, None, None], out=a)
            np.maximum(a, 0, out=a)
            corners = [a[:, :, i::2, j::2] for i in (0, 1) for j in (0, 1)]  # 2×2 pooling
            pooled = np.maximum(np.maximum(corners[0], corners[1]),
                                np.maximum(corners[2], corners[3]))
            caches.append((h, cols, a, corners, pooled))
            h = pooled
        h = h.reshape(len(x), -1)
        acts = [h]
        for w, b in self.params[len(spec.convs):-1]:
            h = np.maximum(h @ w.T + b, 0)
            acts.append(h)
        w, b = self.params[-1]
        logits = h @ w.T + b
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        probs = e / e.sum(axis=1, keepdims=True)
        loss = -np.log(probs[np.arange(len(x)), y]).mean()
        g = probs
        g[np.arange(len(x)), y] -= 1
        g /= len(x)
        grads = []
        for i in range(len(self.params) - 1, len(spec.convs) - 1, -1):  # dense layers
            w, _ = self.params[i]
            a = acts[i - len(spec.convs)]
            grads.append((g.T @ a, g.sum(axis=0)))
            g = g @ w
            if i > len(spec.convs):  # through the relu (the pooled input is handled below)
                g *= a > 0
        g = g.reshape(caches[-1][4].shape)
        for li in range(len(spec.convs) - 1, -1, -1):
            h, cols, a, corners, pooled = caches[li]
            out, k, p = spec.convs[li]
            w, _ = self.params[li]
            n, c, oh, ow = a.shape
            # 2×2 max-pool backward, g to each window's maximum (a tie of positive floats is
            # rare; tied zeros get nothing through the relu anyway), then the relu's mask
            gz = np.empty_like(a)
            for (i, j), corner in zip(((0, 0), (0, 1), (1, 0), (1, 1)), corners, strict=True):
                np.multiply(g, (corner == pooled) & (corner > 0), out=gz[:, :, i::2, j::2])
            g2 = gz.transpose(1, 0, 2, 3).reshape(out, -1)
            grads.append((((g2 @ cols.T).reshape(w.shape)), g2.sum(axis=1)))
            if li == 0:
                break
            # input gradient: dcols = Wᵀ g, then col2im (one strided add per kernel tap),
            # for a few images at a time so that the columns are still in cache
            c_in = h.shape[1]
            acc = np.zeros((c_in, n, h.shape[2] + 2 * p, h.shape[3] + 2 * p), np.float32)
            chunk = max(1, (8 << 20) // (c_in * k * k * oh * ow * 4))
            wt = w.reshape(out, -1).T
            for s in range(0, n, chunk):
                m = min(chunk, n - s)
                part = gz[s:s + m].transpose(1, 0, 2, 3).reshape(out, -1)
                dcols = (wt @ part).reshape(c_in, k, k, m, oh, ow)
                for i in range(k):
                    for j in range(k):
                        acc[:, s:s + m, i:i + oh, j:j + ow] += dcols[:, i, j]
            g = acc[:, :, p:p + h.shape[2], p:p + h.shape[3]].transpose(1, 0, 2, 3)
        grads.reverse()
        self.t += 1
        for li, ((w, b), (gw, gb)) in enumerate(zip(self.params, grads, strict=True)):
            if spec.optimizer == "sgd":
                w -= spec.lr * gw
                b -= spec.lr * gb
            else:
                mw, mb, vw, vb, tw, tb = self.moments[li]
                adam_update(w, gw, mw, vw, tw, self.t, spec.lr)
                adam_update(b, gb, mb, vb, tb, self.t, spec.lr)
        return loss


FACTORIES: dict[str, Callable[..., Callable[..., Any]]] = {
    "tinygrad_mlp": make_tinygrad,
    "tinygrad_mlp_jit": lambda spec, w: make_tinygrad(spec, w, jit=True),
    "numpy": lambda spec, w: NumpyCNN(spec, w).step,
    "torch": make_torch,
}


def _float(loss: Any) -> float:
    return float(loss.item() if hasattr(loss, "item") else loss)


def run(spec: Spec, keys: list[str], rounds: int, block: int, seed: int,
        log: Callable[[str], None]) -> dict[str, Any]:
    weights, pool = make_weights(spec, seed), make_pool(spec, seed)
    log(f"\n[{spec.name}] convs {spec.convs} (out, kernel, padding; each + relu, max-pool 2), "
        f"dense {spec.dense}-10, {spec.optimizer} lr {spec.lr:g}, batch {spec.batch}")
    steps = {k: FACTORIES[k](spec, weights) for k in keys}
    losses = {k: [_float(steps[k](*pool[i % spec.pool])) for i in range(3)] for k in keys}
    ref = losses["numpy"]
    for k in list(keys):
        rel = max(abs(a - r) / abs(r) for a, r in zip(losses[k], ref, strict=True))
        ok = rel < 1e-6  # same float32 math: observed 0 (numpy vs library), 1e-7 (torch)
        log(f"    {LABELS[k]:<22} losses {', '.join(f'{v:.6f}' for v in losses[k])}  "
            f"max rel diff {rel:.1e}" + ("" if ok else "  <-- MISMATCH, left out"))
        if not ok:
            keys.remove(k)
    times: dict[str, list[float]] = {k: [] for k in keys}
    perf = time.perf_counter
    for r in range(rounds):
        for k in keys[r % len(keys):] + keys[:r % len(keys)]:
            for i in range(block):
                x, y = pool[(r * block + i) % spec.pool]
                t0 = perf()
                steps[k](x, y)
                times[k].append(perf() - t0)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    for k in keys:
        ratios = "  ".join(f"{med[k] / med[o]:.2f}× {o}" for o in ("numpy", "torch")
                           if o in med and o != k)
        log(f"    {LABELS[k]:<22} {med[k]:8.1f} ms/step (median of {len(times[k])})  {ratios}")
    return {"median_ms": med, "losses": losses, "mismatched": sorted(set(losses) - set(keys))}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="F,G")
    parser.add_argument("--contenders", default="tinygrad_mlp,tinygrad_mlp_jit,numpy,torch")
    parser.add_argument("--threads", type=int, help="BLAS/OpenMP threads (default: all cores)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--block", type=int, default=3, help="steps per contender per round")
    parser.add_argument("--quick", action="store_true", help="2 rounds of 1 step: does it run?")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    keys = [k for k in args.contenders.split(",") if k]
    unknown = [k for k in keys if k not in FACTORIES]
    if unknown or "numpy" not in keys:
        parser.error(f"contenders must include numpy and be among {sorted(FACTORIES)}")
    if "torch" in keys:
        try:
            import torch

            torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
        except ImportError:
            print("torch is not installed: left out")
            keys.remove("torch")
    rounds, block = (2, 1) if args.quick else (args.rounds, args.block)
    print(f"threads {os.environ.get('OPENBLAS_NUM_THREADS')}, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs, numpy {np.__version__}")
    bad = []
    for name in args.configs.split(","):
        if name not in SPECS:
            parser.error(f"unknown config {name!r}; choose from {sorted(SPECS)}")
        bad += run(SPECS[name], list(keys), rounds, block, args.seed, print)["mismatched"]
    return 1 if bad else 0  # a contender computed different losses: a bug somewhere


if __name__ == "__main__":
    sys.exit(main())
