"""The ``tinygrad-mlp`` command line: thin argument parsing over the package's functions.

Errors a user can cause (bad arguments, missing or corrupt files) print one line naming
the culprit and exit non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

LATEST = Path("~/.cache/tinygrad_mlp/latest_checkpoint")


class UsageError(Exception):
    """A problem with what the user asked for: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the full usage is one --help away)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or not np.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text}")
    return value


def _shape(text: str) -> tuple[int, ...]:
    try:
        shape = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a shape like 3,4, got {text!r}") from None
    if any(s < 0 for s in shape):
        raise argparse.ArgumentTypeError(f"shape sizes must be >= 0, got {text!r}")
    return shape


def _remember_latest(path: Path) -> None:
    """Note the newest checkpoint so commands without a model path can find it."""
    try:
        latest = LATEST.expanduser()
        latest.parent.mkdir(parents=True, exist_ok=True)
        latest.write_text(str(path.resolve()))
    except OSError:
        pass  # a convenience only


def latest_checkpoint() -> Path | None:
    """The checkpoint the last ``train`` wrote, if it still exists."""
    try:
        path = Path(LATEST.expanduser().read_text().strip())
    except OSError:
        return None
    return path if path.is_file() else None


def _model_path(given: str | None) -> Path:
    if given is not None:
        return Path(given)
    latest = latest_checkpoint()
    if latest is None:
        raise UsageError("no model given and no checkpoint found: train one with "
                         "'tinygrad-mlp train' (it writes model.npz)")
    return latest


def _load_data(root: str | None):
    from tinygrad_mlp.data import load_mnist

    return load_mnist(root)


def cmd_train(args: argparse.Namespace) -> int:
    from tinygrad_mlp import train as T

    cfg = T.config_from(
        args.preset, hidden=args.hidden, activation=args.activation, loss=args.loss,
        optimizer=args.optimizer, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        seed=args.seed,
    )
    out = Path(args.out)
    if not out.parent.exists():
        raise UsageError(f"--out {out}: directory {out.parent} does not exist")
    if args.plot:  # find out before training, not after
        from tinygrad_mlp import plots

        if not plots.matplotlib_available():
            raise UsageError("--plot needs matplotlib: pip install 'tinygrad_mlp[plot]'")
    data = _load_data(args.data)
    if args.limit:
        x, y, xt, yt = data
        data = (x[: args.limit], y[: args.limit], xt[: args.limit], yt[: args.limit])
    hidden = "-".join(str(h) for h in cfg.hidden)
    print(f"training 784-{hidden}-10 {cfg.activation} MLP ({args.preset} preset): {cfg.loss}, "
          f"{cfg.optimizer} lr {cfg.lr:g}, batch {cfg.batch_size}, {cfg.epochs} epochs, "
          f"seed {cfg.seed}", flush=True)
    start = time.perf_counter()
    model, history = T.train(cfg, data, log=lambda s: print(s, flush=True),
                             progress=not args.no_progress)
    T.save_checkpoint(out, model, cfg, history)
    _remember_latest(out)
    final = history[-1]["test_accuracy"] if history else float("nan")
    print(f"test accuracy {100 * final:.2f}% after {time.perf_counter() - start:.1f}s; "
          f"saved {out}")
    if args.plot:
        plots.training_curves(history, args.plot)
        print(f"saved {args.plot}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from tinygrad_mlp import train as T

    model, meta = T.load_checkpoint(_model_path(args.model))
    _, _, x_test, y_test = _load_data(args.data)
    pred = T.predict_batches(model, x_test).argmax(axis=1)
    cm = T.confusion_matrix(pred, y_test)
    print(f"test accuracy: {100 * (pred == y_test).mean():.2f}% "
          f"({int((pred == y_test).sum())}/{len(y_test)})")
    print("confusion matrix (rows: true digit, columns: predicted digit)")
    print("      " + "".join(f"{c:>6}" for c in range(10)))
    for r in range(10):
        print(f"{r:>6}" + "".join(f"{n:>6}" for n in cm[r]))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from tinygrad_mlp import preprocess
    from tinygrad_mlp import train as T

    model, meta = T.load_checkpoint(args.model)
    images = [preprocess.to_mnist(preprocess.read_image(p), source=p) for p in args.images]
    out = T.predict_batches(model, np.stack(images).reshape(len(images), 784))
    probs = T.probabilities(out, str(meta["architecture"]["output"]))
    for path, p in zip(args.images, probs, strict=True):
        digit = int(p.argmax())
        print(f"{path}: {digit}  (p={p[digit]:.3f})")
        print("  " + "  ".join(f"{d}:{p[d]:.3f}" for d in range(10)))
    return 0


def cmd_gradcheck(args: argparse.Namespace) -> int:
    import tinygrad_mlp as tg

    if ":" not in args.target:
        raise UsageError(f"expected module:function, got {args.target!r}")
    module_name, func_name = args.target.split(":", 1)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        fn = getattr(importlib.import_module(module_name), func_name)
    except ImportError as e:
        raise UsageError(f"cannot import module {module_name!r}: {e}") from None
    except AttributeError:
        raise UsageError(f"module {module_name!r} has no attribute {func_name!r}") from None
    if not callable(fn):
        raise UsageError(f"{args.target} is not callable")
    import inspect

    try:
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.default is p.empty and p.kind in positional]
    except (TypeError, ValueError):
        params = [None]
    rng = np.random.default_rng(args.seed)
    inputs = [tg.Tensor(rng.uniform(-1, 1, args.shape), requires_grad=True)
              for _ in range(max(1, len(params)))]
    try:
        tg.gradcheck(fn, inputs)
        if args.second_order:
            tg.gradgradcheck(fn, inputs)
    except tg.GradcheckError as e:
        print(f"gradcheck FAILED for {args.target}: {e}")
        return 1
    except Exception as e:  # the user's function failed: report it, no traceback
        print(f"gradcheck FAILED for {args.target}: it raised {type(e).__name__}: {e}")
        return 1
    order = "first- and second-order" if args.second_order else "first-order"
    print(f"gradcheck passed: {args.target}, {order} gradients match finite differences "
          f"({len(inputs)} input(s) of shape {args.shape})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from tinygrad_mlp import serve

    return serve.serve(_model_path(args.model), host=args.host, port=args.port)


def cmd_graph(args: argparse.Namespace) -> int:
    from tinygrad_mlp import viz

    model = None
    if args.model is not None:
        from tinygrad_mlp import train as T

        model, _ = T.load_checkpoint(args.model)
    loss = viz.mlp_step_graph(model)
    if not args.out.endswith(".dot") and not viz.graphviz_available():
        viz.print_graph(loss)
        print(f"(Graphviz is not installed, so {args.out} was not drawn: install the system "
              "package 'graphviz', e.g. apt-get install graphviz)")
        return 0
    path = viz.render(loss, args.out)
    print(f"saved the graph of one training step to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from tinygrad_mlp.train import ACTIVATIONS, LOSSES, PRESETS

    parser = _Parser(
        prog="tinygrad-mlp",
        description="Train and use the MNIST multilayer perceptron built on tinygrad_mlp.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)

    p = sub.add_parser("train", help="train an MLP on MNIST and save a checkpoint")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default",
                   help="a reference network and recipe (flags below override it)")
    p.add_argument("--hidden", type=_positive_int, nargs="+", metavar="N",
                   help="hidden layer sizes, e.g. --hidden 128 64")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS))
    p.add_argument("--loss", choices=LOSSES)
    p.add_argument("--optimizer", choices=("sgd", "adam"))
    p.add_argument("--epochs", type=_positive_int)
    p.add_argument("--batch-size", type=_positive_int)
    p.add_argument("--lr", type=_positive_float, help="learning rate")
    p.add_argument("--seed", type=int)
    p.add_argument("--data", metavar="DIR", help="MNIST folder (default: $TINYGRAD_MLP_DATA, "
                   "then ~/.cache/tinygrad_mlp/mnist; downloaded when missing)")
    p.add_argument("--out", default="model.npz", help="checkpoint path (default: model.npz)")
    p.add_argument("--plot", metavar="PNG", help="save loss/accuracy curves (needs matplotlib)")
    p.add_argument("--limit", type=_positive_int, help=argparse.SUPPRESS)  # quick runs, tests
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="test accuracy and confusion matrix of a checkpoint")
    p.add_argument("model", nargs="?", help="checkpoint (default: the last one trained)")
    p.add_argument("--data", metavar="DIR", help="MNIST folder")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="classify images of handwritten digits")
    p.add_argument("model", help="checkpoint .npz")
    p.add_argument("images", nargs="+", help="PNG/JPEG (needs Pillow) or .npy images")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("gradcheck", help="check a function's gradients by finite differences")
    p.add_argument("target", metavar="module:function")
    p.add_argument("--shape", type=_shape, default=(3, 4), help="input shape (default 3,4)")
    p.add_argument("--second-order", action="store_true", help="also check second derivatives")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_gradcheck)

    p = sub.add_parser("graph", help="draw the graph of one training step of the MLP")
    p.add_argument("model", nargs="?", help="checkpoint (default: a new 784-512-10 MLP)")
    p.add_argument("--out", default="graph.svg", help="output .svg/.png/.pdf (default graph.svg)")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("serve", help="a local web page: draw a digit, see the network read it")
    p.add_argument("model", nargs="?", help="checkpoint (default: the last one trained)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free one)")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tinygrad-mlp`` and ``python -m tinygrad_mlp``."""
    from tinygrad_mlp.data import MNISTError
    from tinygrad_mlp.preprocess import ImageError
    from tinygrad_mlp.train import CheckpointError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UsageError as e:
        print(f"tinygrad-mlp {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (MNISTError, ImageError, CheckpointError, ValueError, OSError) as e:
        lines = str(e).strip().splitlines() or [type(e).__name__]
        brief = lines[0] if len(lines) == 1 else f"{lines[0]}\n{lines[-1]}"  # what, and what to do
        print(f"tinygrad-mlp {args.command}: error: {brief}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"tinygrad-mlp {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
