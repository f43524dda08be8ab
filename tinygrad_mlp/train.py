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

A run that goes wrong stops cleanly: a non-finite loss raises :class:`TrainingDiverged`
at once, and Ctrl-C raises :class:`TrainingInterrupted`; both carry the model as it was
after the last finished epoch (or None), so the caller can decide whether to keep it.
"""

from __future__ import annotations

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
from tinygrad_mlp.serialization import CheckpointError

__all__ = [
    "ACTIVATIONS", "CHECKPOINT_FORMAT", "INITS", "LOSSES", "OPTIMIZERS", "PRESETS",
    "CheckpointError", "Config", "TrainingDiverged", "TrainingInterrupted", "TrainingStopped",
    "accuracy", "architecture", "build_model", "config_from", "confusion_matrix",
    "load_checkpoint", "loss_function", "make_optimizer", "mlp_step_graph", "predict_batches",
    "probabilities", "random_shifts", "save_checkpoint", "train",
]

CHECKPOINT_FORMAT = "tinygrad_mlp.mlp/1"
ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}
LOSSES = ("cross-entropy", "quadratic", "mse")
OPTIMIZERS = ("sgd", "adam")
INITS = ("pytorch", "normal")
MAX_UNITS = 1 << 16  # the widest layer a checkpoint may declare (real ones: <= 800)


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
    conv: tuple[int, ...] = ()  # channels of 5×5 conv + 2×2 max-pool stages before the MLP


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
    # A small convolutional network (LeNet-5-sized): conv16-pool-conv32-pool-128-10.
    "cnn": Config(conv=(16, 32), hidden=(128,), activation="relu", lr=2e-3, epochs=12,
                  batch_size=128, shift=2),
}


def describe(cfg: Config) -> str:
    """The recipe of ``cfg`` in one line, as ``train --help`` and the run's first line say.

    >>> describe(PRESETS["nielsen"])
    '784-30-10 sigmoid, quadratic, sgd lr 3, batch 10, 30 epochs, constant lr, normal init'
    """
    parts = ["-".join(str(n) for n in (conv_features(cfg.conv), *cfg.hidden, 10))
             + f" {cfg.activation}", cfg.loss, f"{cfg.optimizer} lr {cfg.lr:g}"]
    if cfg.conv:
        parts.insert(0, "conv " + "-".join(map(str, cfg.conv)) + " (5×5, each + 2×2 max-pool)")
    if cfg.momentum:
        parts.append(f"momentum {cfg.momentum:g}")
    if cfg.weight_decay:
        parts.append(f"weight decay {cfg.weight_decay:g}")
    parts += [f"batch {cfg.batch_size}", plural(cfg.epochs, "epoch"), f"{cfg.schedule} lr"]
    if cfg.dropout:
        parts.append(f"dropout {cfg.dropout:g}")
    if cfg.shift:
        parts.append(f"random shifts of up to {plural(cfg.shift, 'pixel')}")
    parts.append(f"{cfg.init} init")
    return ", ".join(parts)


def plural(n: int, word: str) -> str:
    """``1 epoch``, ``2 epochs``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def conv_features(conv: tuple[int, ...] | list[int]) -> int:
    """How many numbers the conv stages ``conv`` leave per 28×28 image (each halves the side)."""
    side = 28
    for _ in conv:
        side //= 2
    return conv[-1] * side * side if conv else 784


def build_model(sizes: list[int], activation: str, output: str, dropout: float = 0.0,
                conv: tuple[int, ...] | list[int] = ()) -> nn.Module:
    """A Sequential MLP: Linear layers with ``activation`` between them.

    ``output`` is "logits" (read through softmax) or "sigmoid" (a final Sigmoid layer, for
    the quadratic cost of Nielsen's network). With ``conv`` channel counts the MLP is
    preceded by that many stages of 5×5 convolution (padding 2), ``activation`` and 2×2
    max-pooling, on the 784 pixels unflattened to (1, 28, 28); ``sizes[0]`` must then be
    ``conv_features(conv)``.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    if conv:
        layers.append(nn.Unflatten(1, (1, 28, 28)))
        for c_in, c_out in zip((1, *conv[:-1]), conv, strict=True):
            layers += [nn.Conv2d(c_in, c_out, 5, padding=2), ACTIVATIONS[activation](),
                       nn.MaxPool2d(2)]
        layers.append(nn.Flatten())
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
    arch = {
        "sizes": [conv_features(cfg.conv), *cfg.hidden, 10],
        "activation": cfg.activation,
        "output": "logits" if cfg.loss == "cross-entropy" else "sigmoid",
        "dropout": cfg.dropout,
    }
    if cfg.conv:
        arch["conv"] = list(cfg.conv)
    return arch


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


class TrainingStopped(Exception):
    """Training ended before its last epoch; ``model`` is the network after the last
    finished epoch (None when none finished) and ``history`` has one record per such epoch."""

    def __init__(self, message: str, model: nn.Module | None,
                 history: list[dict[str, float]]) -> None:
        super().__init__(message)
        self.model = model
        self.history = history


class TrainingDiverged(TrainingStopped, FloatingPointError):
    """The loss became NaN or infinite: the weights are ruined, so training stopped."""


class TrainingInterrupted(TrainingStopped, KeyboardInterrupt):
    """Ctrl-C during training (still a KeyboardInterrupt for callers that do not care)."""


def train(
    cfg: Config,
    data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    log: Callable[[str], None] | None = print,
    progress: bool = True,
) -> tuple[nn.Module, list[dict[str, float]]]:
    """Train an MLP as ``cfg`` says; returns the model and one record per epoch
    (train loss, test accuracy, seconds). Same config and data ⇒ bit-identical weights.

    Raises
    ------
    TrainingDiverged
        At the first step whose loss is not finite.
    TrainingInterrupted
        On Ctrl-C (KeyboardInterrupt).
    """
    x_train, y_train, x_test, y_test = data
    tg.manual_seed(cfg.seed)
    arch = architecture(cfg)
    model = build_model(arch["sizes"], cfg.activation, arch["output"], cfg.dropout, cfg.conv)
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
    schedule = None
    if cfg.schedule == "cosine":  # per step, from cfg.lr down to 0 at the last step
        schedule = optim.CosineAnnealingLR(opt, T_max=cfg.epochs * len(loader))
    aug_rng = np.random.default_rng([cfg.seed, 1])
    history: list[dict[str, float]] = []
    finished: dict[str, np.ndarray] | None = None  # the weights after the last full epoch

    def stopped(kind: type[TrainingStopped], message: str) -> TrainingStopped:
        if finished is None:
            return kind(message, None, history)
        model.load_state_dict(finished)
        return kind(message, model.eval(), history)

    try:
        for epoch in range(1, cfg.epochs + 1):
            start = time.perf_counter()
            model.train()
            bar = _Progress(len(loader), f"epoch {epoch}/{cfg.epochs}", progress)
            loss_sum = np.float64(0.0)
            try:
                for step, (xb, yb) in enumerate(loader, 1):
                    if cfg.shift:
                        xb = random_shifts(xb, cfg.shift, aug_rng)
                    opt.zero_grad()
                    loss = forward_backward(xb, target_of(yb))
                    if not np.isfinite(loss.data):
                        raise stopped(TrainingDiverged, (
                            f"training diverged: the loss became {float(loss.data)} at epoch "
                            f"{epoch}, step {step} of {len(loader)} (learning rate "
                            f"{opt.param_groups[0]['lr']:g}); try a smaller learning rate"))
                    opt.step()
                    if schedule is not None:
                        schedule.step()
                    loss_sum += loss.data
                    bar.update(float(loss.data))
            finally:
                bar.close()
            state = model.state_dict()
            if not all(np.isfinite(v).all() for v in state.values() if v.dtype.kind == "f"):
                raise stopped(TrainingDiverged, (  # the last update overflowed, the loss not yet
                    f"training diverged: the weights became NaN or infinite in epoch {epoch} "
                    f"(learning rate {opt.param_groups[0]['lr']:g}); try a smaller learning "
                    "rate"))
            record = {
                "epoch": epoch,
                "train_loss": float(loss_sum / len(loader)),
                "test_accuracy": accuracy(model, x_test, y_test),
                "seconds": time.perf_counter() - start,  # this epoch's, evaluation included
            }
            history.append(record)
            finished = state
            if log is not None:
                log(
                    f"epoch {epoch:>3}/{cfg.epochs}  train loss {record['train_loss']:.4f}  "
                    f"test accuracy {100 * record['test_accuracy']:.2f}%  {record['seconds']:.1f}s"
                )
    except TrainingStopped:
        raise
    except KeyboardInterrupt:
        done = len(history)  # the epoch counter may already be past the last finished one
        where = f"during epoch {done + 1}" if done < cfg.epochs else "after the last epoch"
        raise stopped(TrainingInterrupted, f"interrupted {where}") from None
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


def _check_stored_shapes(arch: dict[str, Any], state: dict[str, Any]) -> list[int]:
    """The layer sizes ``arch`` declares, checked against the stored arrays before any
    model is built (a file cannot make us allocate a layer it does not hold)."""
    sizes = arch["sizes"]
    if (not isinstance(sizes, list) or len(sizes) < 2
            or not all(isinstance(n, int) and not isinstance(n, bool) for n in sizes)):
        raise CheckpointError(f"architecture sizes must be a list of integers, got {sizes!r}")
    if not all(1 <= n <= MAX_UNITS for n in sizes):
        raise CheckpointError(f"architecture declares layer sizes {sizes}; each must be in "
                              f"1..{MAX_UNITS}")
    if not isinstance(state, dict) or not all(isinstance(v, np.ndarray) for v in state.values()):
        raise CheckpointError("the stored model is not a dict of arrays")
    want = [(n_out, n_in) for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=False)]
    conv = arch.get("conv", [])
    if (not isinstance(conv, list) or not all(isinstance(c, int) and 1 <= c <= MAX_UNITS
                                              for c in conv)
            or (conv and sizes[0] != conv_features(conv))):
        raise CheckpointError(f"architecture declares conv channels {conv!r} that do not fit "
                              f"layer sizes {sizes}")
    want = [(c_out, c_in, 5, 5) for c_in, c_out in zip([1, *conv][:-1], conv, strict=True)] + want
    have = [v.shape for k, v in state.items() if k.endswith(".weight")]
    if have != want:
        raise CheckpointError(f"architecture declares layer sizes {sizes} (weights {want}) but "
                              f"the file stores weights of shapes {have}")
    for key, value in state.items():  # floats must be finite; counters may be integers
        if value.dtype.kind not in "fiub" or (value.dtype.kind == "f"
                                              and not np.isfinite(value).all()):
            raise CheckpointError(f"{key} holds NaN, infinite or non-numeric values (a run "
                                  "that diverged?); train again with a smaller --lr")
    return sizes


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model saved at ``path``; returns (model in eval mode, metadata).

    Everything is checked before the model is built: the format, the declared layer
    sizes against the stored arrays, and that every weight is finite.
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: a directory, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint (train one with: tinygrad-mlp train)")
    try:
        obj = tg.load(path)
        meta = obj["meta"]
        if meta.get("format") != CHECKPOINT_FORMAT:
            raise KeyError("format")
        arch = meta["architecture"]
        sizes = _check_stored_shapes(arch, obj["model"])
        model = build_model(sizes, str(arch["activation"]), str(arch["output"]),
                            float(arch.get("dropout", 0.0)), arch.get("conv", []))
        model.load_state_dict(obj["model"])
    except CheckpointError as e:
        message = str(e)
        raise CheckpointError(message if message.startswith(str(path)) else f"{path}: {message}") \
            from None
    except (KeyError, TypeError, AttributeError) as e:
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


def mlp_step_graph(model: nn.Module | None = None, batch_size: int = 4,
                   seed: int = 0) -> tg.Tensor:
    """The loss of one training step of the default MLP, with its graph recorded.

    The step is zero_grad → forward → loss on a batch of random 784-pixel "images" with
    random labels; call ``backward()`` on the result to finish it, or draw its graph
    (``tinygrad-mlp graph`` does).

    Parameters
    ----------
    model : nn.Module, optional
        The network (e.g. from a checkpoint). Default: a new 784-512-10 MLP with a
        sigmoid hidden layer and logits out (the default preset). A model whose last
        layer is a Sigmoid is scored with the quadratic cost, otherwise with cross-entropy.
    batch_size : int, default 4
    seed : int, default 0
        Seeds the inputs, labels and (default model) the weights.

    Returns
    -------
    Tensor
        The scalar loss; parameters are named (``0.weight``...) for the drawing tools.

    >>> from tinygrad_mlp.train import mlp_step_graph
    >>> loss = mlp_step_graph()
    >>> loss.shape, loss.grad_fn
    ((), 'SoftmaxCrossEntropy')
    """
    from tinygrad_mlp import viz

    rng = np.random.default_rng(seed)
    if model is None:
        model = nn.Sequential(nn.Linear(784, 512, generator=rng), nn.Sigmoid(),
                              nn.Linear(512, 10, generator=rng))
    for key, p in model.named_parameters():
        viz.name(p, key)
    modules = list(model.modules())
    weights = [m.weight for m in modules if getattr(m, "weight", None) is not None
               and getattr(m.weight, "ndim", 0) == 2]
    n_in = weights[0].shape[1] if weights else 784
    if any(isinstance(m, nn.Unflatten) for m in modules):  # a conv net reads 784 pixels
        n_in = 784
    dtype = weights[0].dtype if weights else np.float32
    x = viz.name(tg.Tensor(rng.random((batch_size, n_in)).astype(dtype)), "x")
    model.zero_grad()
    out = model(x)
    labels = rng.integers(0, out.shape[-1], batch_size)
    if isinstance(modules[-1], nn.Sigmoid):
        return F.quadratic_loss(out, np.eye(out.shape[-1], dtype=out.dtype)[labels])
    return F.cross_entropy(out, labels)
