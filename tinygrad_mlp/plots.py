"""Pictures of a network, for people who would rather look than read (needs matplotlib).

* :func:`first_layer_weights`: what each first-layer neuron looks for, its 784 weights
  drawn as a 28×28 image (red: the pixel pushes the neuron up, blue: down).
* :func:`hidden_activations`: one digit going through the network, layer by layer.
* :func:`training_curves`: train loss and test accuracy per epoch (``train --plot``).

matplotlib is an optional extra (``pip install matplotlib``, or ``pip install -e ".[plot]"``
in a checkout); without it every function raises :class:`PlotDependencyError`, an
``ImportError`` that says so. Figures are drawn with the Agg canvas directly, never
through ``pyplot``: nothing opens a window or changes the backend of a program that
imports this module, so it works headless.

The files are ``figsize × dpi`` pixels exactly (800×800 for the defaults of
:func:`first_layer_weights`); the suffix of ``path`` picks the format (png, svg, pdf).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_mlp.tensor import Tensor, no_grad

__all__ = [
    "PlotDependencyError",
    "first_layer_weights",
    "hidden_activations",
    "matplotlib_available",
    "training_curves",
]


class PlotDependencyError(ImportError):
    """matplotlib, which the plots need, is not installed."""


def matplotlib_available() -> bool:
    """Whether matplotlib can be imported (the plots need it).

    >>> from tinygrad_mlp import plots
    >>> isinstance(plots.matplotlib_available(), bool)
    True
    """
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(figsize: tuple[float, float], dpi: int) -> Any:
    """A matplotlib Figure on an Agg canvas (headless, no pyplot, no global state)."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise PlotDependencyError(
            "plotting needs matplotlib, which is not installed: "
            'pip install matplotlib (or, in a checkout, pip install -e ".[plot]")'
        ) from e
    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Any, path: str | os.PathLike, dpi: int) -> Path:
    path = Path(path)
    if not path.parent.exists():
        raise FileNotFoundError(f"cannot save {path}: directory {path.parent} does not exist")
    fig.savefig(path, dpi=dpi)
    return path


def _array(x: Any) -> np.ndarray:
    return np.asarray(x.data if isinstance(x, Tensor) else x)


def _layers(model: Any) -> list[tuple[str, Any]]:
    """(kind, layer) steps of a model: ``("linear", (W, b))`` or ``("module", m)``.

    ``model`` is an ``nn.Sequential`` (any iterable of modules) or a list of (W, b) pairs.
    """
    if isinstance(model, Sequence) and model and isinstance(model[0], (tuple, list)):
        steps = []
        for pair in model:
            if len(pair) != 2:
                raise TypeError("a list of layers must hold (W, b) pairs, W of shape (out, in)")
            steps.append(("linear", (_array(pair[0]), _array(pair[1]))))
        return steps
    if hasattr(model, "__iter__") and hasattr(model, "named_parameters"):
        return [("module", m) for m in model]
    if hasattr(model, "named_parameters"):
        return [("module", model)]
    raise TypeError(
        f"expected an nn.Sequential or a list of (W, b) pairs, got {type(model).__name__}"
    )


def _first_weight(model_or_weight: Any, image_shape: tuple[int, int]
                  ) -> tuple[np.ndarray, tuple[int, int]]:
    """The first layer's weights as (units, pixels), and the shape of one unit's picture:
    ``image_shape`` for a Linear layer, the kernel's for a convolution over one channel
    (a weight of shape (out_channels, 1, kH, kW): each filter is drawn)."""
    n_pixels = int(np.prod(image_shape))
    w: Any = None
    if isinstance(model_or_weight, (np.ndarray, Tensor)):
        w = model_or_weight
    elif isinstance(model_or_weight, (list, tuple)) and model_or_weight:
        first = model_or_weight[0]
        w = first[0] if isinstance(first, (tuple, list)) else first
    elif hasattr(model_or_weight, "modules"):
        for m in model_or_weight.modules():
            cand = getattr(m, "weight", None)
            if cand is not None and np.ndim(_array(cand)) in (2, 4):
                w = cand
                break
    if w is not None and np.ndim(_array(w)) == 4:
        w = _array(w).astype(np.float64)
        if w.shape[1] != 1:
            raise ValueError(f"the first convolution has {w.shape[1]} input channels: only "
                             "filters over one channel (a grayscale image) can be drawn")
        return w.reshape(w.shape[0], -1), (int(w.shape[2]), int(w.shape[3]))
    if w is None:
        raise TypeError(
            "first_layer_weights expects a model with a Linear layer, a weight array of shape "
            f"(units, {n_pixels}), or a list of (W, b) pairs; got {type(model_or_weight).__name__}"
        )
    w = _array(w).astype(np.float64)
    if w.ndim != 2:
        raise ValueError(f"the first-layer weight must be 2-D, got shape {w.shape}")
    if w.shape[1] != n_pixels and w.shape[0] == n_pixels:
        w = w.T  # (in, out) layout: each column is a unit
    if w.shape[1] != n_pixels:
        raise ValueError(
            f"the first-layer weight has shape {w.shape}: its inputs ({w.shape[1]}) are not "
            f"{n_pixels} pixels, so they cannot be drawn as images"
        )
    return w, image_shape


def _grid(n: int) -> tuple[int, int]:
    """(rows, cols) of the most nearly square grid holding n cells."""
    cols = max(1, math.ceil(math.sqrt(n)))
    return math.ceil(n / cols), cols


def first_layer_weights(
    model_or_weight_array: Any,
    path: str | os.PathLike,
    max_units: int = 100,
    image_shape: tuple[int, int] = (28, 28),
    figsize: tuple[float, float] = (8, 8),
    dpi: int = 100,
) -> Path:
    """Draw each first-layer neuron's weights as an image, all of them in one grid.

    A neuron in the first layer computes ``σ(w · x + b)``: the weight ``w`` has one entry
    per pixel, so it can be shown as a picture of what the neuron responds to. Each tile
    is scaled to its own largest weight; red means the pixel excites the neuron, blue
    inhibits it.

    Parameters
    ----------
    model_or_weight_array : nn.Module, array or Tensor, or list of (W, b)
        The network (its first Linear's weight, shape (units, 784), or its first Conv2d's
        filters, shape (out_channels, 1, kH, kW)), or the weight itself.
    path : str or PathLike
        Where to write the picture (``.png``, ``.svg``...).
    max_units : int, default 100
        Draw at most this many neurons (the first ones).
    image_shape : (int, int), default (28, 28)
    figsize : (float, float), default (8, 8)
        Inches; the file is ``figsize * dpi`` pixels.
    dpi : int, default 100

    Returns
    -------
    pathlib.Path

    >>> import numpy as np, tempfile, os
    >>> from tinygrad_mlp import plots
    >>> if plots.matplotlib_available():
    ...     p = plots.first_layer_weights(np.random.randn(16, 784), os.path.join(tempfile.mkdtemp(), "w.png"))
    """  # noqa: E501
    w, image_shape = _first_weight(model_or_weight_array, image_shape)
    if max_units < 1:
        raise ValueError(f"max_units must be >= 1, got {max_units}")
    n = min(len(w), max_units)
    if n == 0:
        raise ValueError("the first layer has no units to draw")
    rows, cols = _grid(n)
    h, wd = image_shape
    mosaic = np.full((rows * (h + 1) + 1, cols * (wd + 1) + 1), np.nan)
    for i in range(n):
        tile = w[i].reshape(image_shape)
        scale = np.abs(tile).max()
        r, c = divmod(i, cols)
        mosaic[1 + r * (h + 1): (r + 1) * (h + 1), 1 + c * (wd + 1): (c + 1) * (wd + 1)] = (
            tile / scale if scale > 0 else tile
        )
    fig = _figure(figsize, dpi)
    ax = fig.add_axes((0.02, 0.02, 0.96, 0.92))
    import matplotlib as mpl

    cmap = mpl.colormaps["RdBu_r"].with_extremes(bad="white")
    ax.imshow(mosaic, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    fig.suptitle(f"first-layer weights: {n} of {len(w)} neurons "
                 "(red excites, blue inhibits; each tile scaled to its own maximum)", fontsize=9)
    return _save(fig, path, dpi)


def _activation_steps(model: Any, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(title, activations) after each activation layer, then the output."""
    x = image.reshape(1, -1)
    steps = _layers(model)
    out: list[tuple[str, np.ndarray]] = []
    last_kind = "linear"
    with no_grad():
        for i, (kind, layer) in enumerate(steps):
            if kind == "linear":
                w, b = layer
                x = x @ w.T + b
                last_kind = "linear"
                if i < len(steps) - 1:  # hidden layer of a (W, b) list: sigmoid, as the seed
                    x = 1.0 / (1.0 + np.exp(-x))
                    out.append((f"layer {len(out) + 1}: {x.shape[-1]} sigmoid units", x))
                    last_kind = "activation"
                continue
            y = layer(Tensor(x.astype(np.float32)) if not isinstance(x, Tensor) else x)
            x = _array(y)
            name = type(layer).__name__
            has_weight = getattr(layer, "weight", None) is not None
            last_kind = "linear" if has_weight else "activation"
            if not has_weight and name not in ("Flatten", "Dropout", "Identity"):
                out.append((f"layer {len(out) + 1}: {x.shape[-1]} {name} units", x))
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    if last_kind == "linear":  # logits: show what the network believes, softmax(logits)
        e = np.exp(x - x.max())
        out.append(("output: softmax(logits)", e / e.sum()))
    else:
        if out:
            out.pop()
        out.append(("output activations", x))
    return out


def hidden_activations(
    model: Any,
    image: Any,
    path: str | os.PathLike,
    figsize: tuple[float, float] = (12, 3.5),
    dpi: int = 100,
) -> Path:
    """Draw one digit going through the network: the input, each layer, the output.

    Each hidden layer's activations are shown as a small image (neuron i at row-major
    position i), the output as ten bars with the predicted digit highlighted.

    Parameters
    ----------
    model : nn.Sequential or list of (W, b)
        The network. In a list of (W, b) pairs, hidden layers use the sigmoid and the
        last layer gives logits.
    image : array_like or Tensor
        One digit, 784 values (or 28×28) in [0, 1].
    path : str or PathLike
    figsize : (float, float), default (12, 3.5)
        Inches; the file is ``figsize * dpi`` pixels.
    dpi : int, default 100

    Returns
    -------
    pathlib.Path

    >>> import numpy as np, tempfile, os
    >>> from tinygrad_mlp import plots
    >>> layers = [(np.random.randn(30, 784), np.zeros(30)), (np.random.randn(10, 30), np.zeros(10))]
    >>> if plots.matplotlib_available():
    ...     p = plots.hidden_activations(layers, np.random.rand(784), os.path.join(tempfile.mkdtemp(), "a.png"))
    """  # noqa: E501
    img = _array(image).astype(np.float64).reshape(-1)
    side = math.isqrt(img.size)
    steps = _activation_steps(model, img)
    fig = _figure(figsize, dpi)
    n = len(steps) + 1
    axes = [fig.add_subplot(1, n, i + 1) for i in range(n)]
    if side * side == img.size:
        axes[0].imshow(img.reshape(side, side), cmap="gray", vmin=0, vmax=1)
    else:
        axes[0].imshow(img.reshape(1, -1), cmap="gray", aspect="auto")
    axes[0].set_title(f"input: {img.size} pixels", fontsize=9)
    axes[0].set_axis_off()
    for ax, (title, act) in zip(axes[1:-1], steps[:-1], strict=True):
        a = np.asarray(act, dtype=np.float64).reshape(-1)
        rows, cols = _grid(a.size)
        grid = np.full(rows * cols, np.nan)
        grid[: a.size] = a
        im = ax.imshow(grid.reshape(rows, cols), cmap="viridis", interpolation="nearest")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    title, probs = steps[-1]
    ax = axes[-1]
    colors = ["tab:gray"] * len(probs)
    pred = int(np.argmax(probs))
    colors[pred] = "tab:red"
    ax.bar(range(len(probs)), probs, color=colors)
    ax.set_xticks(range(len(probs)))
    ax.set_title(f"{title}\npredicted: {pred}", fontsize=9)
    fig.subplots_adjust(left=0.03, right=0.97, bottom=0.1, top=0.8, wspace=0.4)
    return _save(fig, path, dpi)


def _history_rows(history: Any) -> list[dict[str, Any]]:
    """History as a list of per-epoch dicts (accepts the checkpoint's dict of lists too)."""
    if isinstance(history, Mapping):
        keys = list(history)
        n = len(history[keys[0]]) if keys else 0
        return [{k: history[k][i] for k in keys} for i in range(n)]
    if isinstance(history, Iterable):
        rows = list(history)
        if not all(isinstance(r, Mapping) for r in rows):
            raise TypeError("history must be a list of dicts (one per epoch)")
        return [dict(r) for r in rows]
    raise TypeError(f"history must be a list of dicts, got {type(history).__name__}")


def training_curves(
    history: Any,
    path: str | os.PathLike,
    figsize: tuple[float, float] = (10, 4),
    dpi: int = 100,
) -> Path:
    """Plot train loss and test accuracy per epoch, side by side.

    Parameters
    ----------
    history : list of dict
        One dict per epoch with keys ``epoch``, ``train_loss``, ``test_accuracy`` (a
        fraction in [0, 1]) and ``seconds`` (that epoch's time), as
        ``train.train`` returns. A dict of lists (as stored in a checkpoint) works too.
    path : str or PathLike
    figsize : (float, float), default (10, 4)
        Inches; the file is ``figsize * dpi`` pixels.
    dpi : int, default 100

    Returns
    -------
    pathlib.Path

    >>> import tempfile, os
    >>> from tinygrad_mlp import plots
    >>> h = [{"epoch": 1, "train_loss": 0.5, "test_accuracy": 0.9, "seconds": 2.0},
    ...      {"epoch": 2, "train_loss": 0.3, "test_accuracy": 0.95, "seconds": 2.1}]
    >>> if plots.matplotlib_available():
    ...     p = plots.training_curves(h, os.path.join(tempfile.mkdtemp(), "curves.png"))
    """
    rows = _history_rows(history)
    if not rows:
        raise ValueError("training_curves: the history is empty (no epoch finished)")
    missing = {"train_loss", "test_accuracy"} - set().union(*rows)
    if missing:
        raise ValueError(
            f"training_curves: history rows lack {sorted(missing)}; expected keys epoch, "
            "train_loss, test_accuracy, seconds"
        )

    def column(key: str) -> np.ndarray:
        return np.array([float("nan") if r.get(key) is None else float(r[key]) for r in rows])

    epochs = column("epoch") if all("epoch" in r for r in rows) else np.arange(1, len(rows) + 1)
    loss, acc = column("train_loss"), 100 * column("test_accuracy")
    fig = _figure(figsize, dpi)
    ax_loss, ax_acc = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    ax_loss.plot(epochs, loss, "o-", color="tab:blue")
    ax_loss.set_xlabel("epoch")
    ax_loss.set_ylabel("train loss")
    ax_loss.set_title("train loss")
    ax_loss.grid(alpha=0.3)
    ax_acc.plot(epochs, acc, "o-", color="tab:green")
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("test accuracy (%)")
    ax_acc.grid(alpha=0.3)
    title = "test accuracy"
    if np.isfinite(acc).any():
        best = int(np.nanargmax(acc))
        title += f" (best {acc[best]:.2f}% at epoch {epochs[best]:g})"
    ax_acc.set_title(title)
    from matplotlib.ticker import MaxNLocator

    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    seconds = column("seconds") if all("seconds" in r for r in rows) else None
    if seconds is not None and np.isfinite(seconds).all():
        total = float(seconds.sum())
        count = f"{len(rows)} epoch" + ("" if len(rows) == 1 else "s")
        fig.suptitle(f"{count} in {total:.1f} s" if total < 120 else
                     f"{count} in {int(total // 60)} min {total % 60:.0f} s", fontsize=10)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.13, top=0.85, wspace=0.3)
    return _save(fig, path, dpi)
