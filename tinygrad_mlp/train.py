"""Training, evaluation and checkpoints for the MNIST multilayer perceptron.

The loop is the five steps of every backprop training run, written out::

    for x, y in loader:
        optimizer.zero_grad()         # 1. forget the last batch's gradients
        out = model(x)                # 2. forward: record the graph
        loss = loss_fn(out, y)        # 3. cost of this batch
        loss.backward()               # 4. backward: d(loss)/d(every parameter)
        optimizer.step()              # 5. move the parameters downhill

Without dropout (the same ops every step) steps 2-4 are recorded once and replayed by
``tg.jit``: the same numbers, less Python per step.

Presets reproduce the classic networks; a checkpoint stores the architecture with the
weights, so ``evaluate``/``predict``/``serve`` rebuild the model from the file alone.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

import tinygrad_mlp as tg
import tinygrad_mlp.nn.functional as F
from tinygrad_mlp import nn, optim
from tinygrad_mlp.data import DataLoader

CHECKPOINT_FORMAT = "tinygrad_mlp.mlp/1"
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}
LOSSES = ("cross-entropy", "quadratic", "mse")


@dataclass(frozen=True)
class Config:
    """Everything that defines a training run (a preset is one of these)."""

    hidden: tuple[int, ...] = (512,)
    activation: str = "sigmoid"
    loss: str = "cross-entropy"
    optimizer: str = "adam"
    lr: float = 5e-3
    epochs: int = 8
    batch_size: int = 128
    schedule: str = "cosine"  # "cosine" (per step, to 0) or "constant"
    momentum: float = 0.0
    weight_decay: float = 0.0
    dropout: float = 0.0
    shift: int = 0  # augmentation: random shifts of up to this many pixels
    init: str = "pytorch"  # "pytorch" (torch.nn.Linear's) or "normal" (N(0, 1), Nielsen's)
    seed: int = 0


PRESETS: dict[str, Config] = {
    # The seed's network: 784 inputs, a sigmoid hidden layer, 10 softmax outputs, cross-entropy.
    "default": Config(),
    # Nielsen, "Neural Networks and Deep Learning", chapter 1: quadratic cost, plain SGD.
    "nielsen": Config(hidden=(30,), loss="quadratic", optimizer="sgd", lr=3.0, epochs=30,
                      batch_size=10, schedule="constant", init="normal"),
    # 3Blue1Brown's "But what is a neural network?": two hidden layers of 16.
    "3b1b": Config(hidden=(16, 16), loss="quadratic", optimizer="sgd", lr=3.0, epochs=30,
                   batch_size=10, schedule="constant", init="normal"),
    # The most accurate MLP that trains here in under ten minutes.
    "best": Config(hidden=(800, 800), activation="relu", lr=1e-3, epochs=20, batch_size=128,
                   dropout=0.2, shift=2),
}


def build_model(sizes: list[int], activation: str, output: str, dropout: float = 0.0) -> nn.Module:
    """A Sequential MLP: Linear layers with ``activation`` between them.

    ``output`` is "logits" (read through softmax) or "sigmoid" (a final Sigmoid layer, for
    the quadratic cost of Nielsen's network).
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
            if dropout:
                layers.append(nn.Dropout(dropout))
    if output == "sigmoid":
        layers.append(nn.Sigmoid())
    elif output != "logits":
        raise ValueError(f"unknown output {output!r}; expected 'logits' or 'sigmoid'")
    return nn.Sequential(*layers)


def architecture(cfg: Config) -> dict[str, Any]:
    """What a checkpoint must record to rebuild the model of ``cfg``."""
    return {
        "sizes": [784, *cfg.hidden, 10],
        "activation": cfg.activation,
        "output": "logits" if cfg.loss == "cross-entropy" else "sigmoid",
        "dropout": cfg.dropout,
    }


def probabilities(out: np.ndarray, output: str) -> np.ndarray:
    """Class probabilities from the model's outputs: softmax of logits, or sigmoid
    activations normalised to sum to 1."""
    if output == "logits":
        e = np.exp(out - out.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    return out / np.maximum(out.sum(axis=-1, keepdims=True), 1e-12)


def loss_function(name: str) -> tuple[Callable[[tg.Tensor, Any], tg.Tensor],
                                      Callable[[np.ndarray], np.ndarray]]:
    """The loss of ``name`` as f(model output, target), and how labels become targets
    (class indices for cross-entropy, one-hot rows for the squared costs)."""
    eye = np.eye(10, dtype=np.float32)
    if name == "cross-entropy":
        return F.cross_entropy, lambda y: y
    if name == "quadratic":
        return F.quadratic_loss, lambda y: eye[y]
    if name == "mse":
        return F.mse_loss, lambda y: eye[y]
    raise ValueError(f"unknown loss {name!r}; choose from {LOSSES}")


def make_optimizer(cfg: Config, params: list[tg.Tensor]) -> optim.Optimizer:
    if cfg.optimizer == "sgd":
        return optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}; choose 'sgd' or 'adam'")


def random_shifts(x: np.ndarray, max_shift: int, rng: np.random.Generator) -> np.ndarray:
    """Each 28×28 image in ``x`` (N, 784) moved by its own random (dy, dx) in ±max_shift."""
    n, m = len(x), max_shift
    padded = np.pad(x.reshape(n, 28, 28), ((0, 0), (m, m), (m, m)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, (28, 28), axis=(1, 2))
    dy, dx = rng.integers(0, 2 * m + 1, size=(2, n))
    return windows[np.arange(n), dy, dx].reshape(n, 784)


def predict_batches(model: nn.Module, x: np.ndarray, batch_size: int = 1000) -> np.ndarray:
    """Model outputs for all rows of ``x``, without recording a graph."""
    was_training = model.training
    model.eval()
    try:
        with tg.no_grad():
            outs = [model(tg.Tensor(x[i : i + batch_size])).data
                    for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(outs) if outs else np.zeros((0, 10), np.float32)


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of rows whose highest output is the label."""
    return float((predict_batches(model, x).argmax(axis=1) == y).mean())


def confusion_matrix(pred: np.ndarray, y: np.ndarray, classes: int = 10) -> np.ndarray:
    """counts[true, predicted]."""
    counts = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(counts, (y, pred), 1)
    return counts


class _Progress:
    """A tqdm bar on a terminal when tqdm is installed; otherwise nothing per batch."""

    def __init__(self, total: int, desc: str, enabled: bool) -> None:
        self.bar = None
        if enabled and sys.stderr.isatty():
            try:
                from tqdm import tqdm

                self.bar = tqdm(total=total, desc=desc, leave=False, unit="batch")
            except ImportError:
                pass

    def update(self, loss: float) -> None:
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def train(
    cfg: Config,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    log: Callable[[str], None] | None = print,
    progress: bool = True,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train an MLP as ``cfg`` says; returns the model and one record per epoch
    (train loss, test accuracy, seconds). Same config and data ⇒ bit-identical weights."""
    x_train, y_train, x_test, y_test = data
    tg.manual_seed(cfg.seed)
    arch = architecture(cfg)
    model = build_model(arch["sizes"], cfg.activation, arch["output"], cfg.dropout)
    if cfg.init == "normal":
        for p in model.parameters():
            nn.init.normal_(p, 0.0, 1.0)
    opt = make_optimizer(cfg, list(model.parameters()))
    loss_fn, target_of = loss_function(cfg.loss)

    def forward_backward(x: np.ndarray, target: np.ndarray) -> tg.Tensor:
        loss = loss_fn(model(tg.Tensor(x)), target)
        loss.backward()
        return loss

    if not cfg.dropout:  # the same ops every step: replay them from a tape, same numbers
        forward_backward = tg.jit(lambda x, target: loss_fn(model(x), target))  # noqa: F811
    loader = DataLoader(x_train, y_train, cfg.batch_size, shuffle=True, seed=cfg.seed)
    aug_rng = np.random.default_rng([cfg.seed, 1])
    total_steps, step = cfg.epochs * len(loader), 0
    history: list[dict[str, float]] = []
    for epoch in range(1, cfg.epochs + 1):
        start = time.perf_counter()
        model.train()
        bar = _Progress(len(loader), f"epoch {epoch}/{cfg.epochs}", progress)
        loss_sum = np.float64(0.0)
        for xb, yb in loader:
            if cfg.schedule == "cosine":
                lr = 0.5 * cfg.lr * (1 + math.cos(math.pi * step / total_steps))
                for group in opt.param_groups:
                    group["lr"] = lr
            if cfg.shift:
                xb = random_shifts(xb, cfg.shift, aug_rng)
            opt.zero_grad()
            loss = forward_backward(xb, target_of(yb))
            opt.step()
            step += 1
            loss_sum += loss.data
            bar.update(float(loss.data))
        bar.close()
        seconds = time.perf_counter() - start
        record = {
            "epoch": epoch,
            "train_loss": float(loss_sum / len(loader)),
            "test_accuracy": accuracy(model, x_test, y_test),
            "seconds": seconds,
        }
        history.append(record)
        if log is not None:
            log(
                f"epoch {epoch:>3}/{cfg.epochs}  train loss {record['train_loss']:.4f}  "
                f"test accuracy {100 * record['test_accuracy']:.2f}%  {seconds:.1f}s"
            )
    return model, history


def save_checkpoint(path: str | os.PathLike[str], model: nn.Module, cfg: Config,
                    history: list[dict[str, float]]) -> None:
    """Write weights, architecture and the run's record atomically to ``path`` (.npz)."""
    cfg_dict = asdict(cfg)
    cfg_dict["hidden"] = list(cfg.hidden)
    meta = {
        "format": CHECKPOINT_FORMAT,
        "architecture": architecture(cfg),
        "config": cfg_dict,
        "history": {k: [h[k] for h in history] for k in (history[0] if history else {})},
    }
    tg.save({"model": model.state_dict(), "meta": meta}, path)


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt or not one of ours; the message names it."""


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model saved at ``path``; returns (model in eval mode, metadata)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint (train one with: tinygrad-mlp train)")
    try:
        obj = tg.load(path)
        meta = obj["meta"]
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise KeyError("format")
        arch = meta["architecture"]
        model = build_model([int(s) for s in arch["sizes"]], str(arch["activation"]),
                            str(arch["output"]), float(arch.get("dropout", 0.0)))
        model.load_state_dict(obj["model"])
    except CheckpointError:
        raise
    except (KeyError, TypeError) as e:
        raise CheckpointError(f"{path}: not a tinygrad-mlp checkpoint (missing {e})") from None
    except (ValueError, OSError) as e:
        raise CheckpointError(f"{path}: cannot load checkpoint: {e}") from None
    model.eval()
    return model, meta


def config_from(preset: str, **overrides: Any) -> Config:
    """The preset's Config with the non-None ``overrides`` applied."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {sorted(PRESETS)}")
    changes = {k: (tuple(v) if k == "hidden" else v) for k, v in overrides.items() if v is not None}
    return replace(PRESETS[preset], **changes)
