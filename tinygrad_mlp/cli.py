"""The ``tinygrad-mlp`` command line: thin argument parsing over the package's functions.

Errors a user can cause (bad arguments, missing or corrupt files) print one line naming
the culprit and exit non-zero, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import sys
import tempfile
import textwrap
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

LATEST = Path("~/.cache/tinygrad_mlp/latest_checkpoint")


class UsageError(Exception):
    """A problem with what the user asked for: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (the full usage is one --help away)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _number(cast: Callable[[str], Any], ok: Callable[[Any], bool], expected: str,
            out_of_range: str | None = None) -> Callable[[str], Any]:
    """An argparse type: ``cast(text)``, refused unless ``ok(value)``, naming what was
    expected (``out_of_range`` when the text parsed but the value is not allowed)."""

    def parse(text: str) -> Any:
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {out_of_range or expected}, got {text}")
        return value

    return parse


_positive_int = _number(int, lambda v: v >= 1, "a positive integer")
_positive_float = _number(float, lambda v: v > 0 and np.isfinite(v), "a positive number")
_non_negative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
_non_negative_float = _number(float, lambda v: 0 <= v < float("inf"), "a number >= 0",
                              "a finite number >= 0")


def _units(text: str) -> int:
    from tinygrad_mlp.train import MAX_UNITS

    value = _positive_int(text)
    if value > MAX_UNITS:
        raise argparse.ArgumentTypeError(f"at most {MAX_UNITS} units a layer, got {value}")
    return value


def _fraction(text: str) -> float:
    value = _non_negative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text}")
    return value


def _shift(text: str) -> int:
    value = _non_negative_int(text)
    if value > 13:
        raise argparse.ArgumentTypeError(f"expected 0..13 pixels (images are 28x28), got {value}")
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


def _check_output(path: Path, flag: str, suffixes: Sequence[str] = ()) -> None:
    """Refuse an output path that cannot be written, before any work is done."""
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory; give a file name, e.g. "
                         f"{path / ('model' + (suffixes[0] if suffixes else '.npz'))}")
    if suffixes and path.suffix.lower() not in suffixes:
        raise UsageError(f"{flag} {path}: unsupported file type {path.suffix or '(none)'!r}; "
                         f"use one of {', '.join(suffixes)}")
    parent = path.parent
    if not parent.is_dir():
        raise UsageError(f"{flag} {path}: directory {parent} does not exist")
    try:  # the only sure test of writability (permissions, read-only file systems, ...)
        tempfile.TemporaryFile(dir=parent).close()
    except OSError as e:
        raise UsageError(f"{flag} {path}: cannot write in {parent} ({e.strerror or e})") from None


def _ask(question: str) -> bool:
    """A yes/no question on the terminal; False when nobody is there to answer."""
    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return False
    try:
        print(question, end=" ", file=sys.stderr, flush=True)
        return input().strip().lower() in ("y", "yes")
    except (EOFError, KeyboardInterrupt):
        print(file=sys.stderr)
        return False


def _save(out: Path, model: Any, cfg: Any, history: list[dict[str, float]]) -> None:
    """Write the checkpoint and remember it as the latest."""
    from tinygrad_mlp import train as T

    T.save_checkpoint(out, model, cfg, history)
    _remember_latest(out)


def _progress_hint(enabled: bool) -> None:
    """Say once that a progress bar exists, when it would show but tqdm is missing."""
    if not enabled or not sys.stderr.isatty() or importlib.util.find_spec("tqdm") is not None:
        return
    print("(for a progress bar: pip install tqdm, or --no-progress to silence this)",
          file=sys.stderr)


def cmd_train(args: argparse.Namespace) -> int:
    from tinygrad_mlp import train as T
    from tinygrad_mlp.data import load_mnist

    cfg = T.config_from(
        args.preset, hidden=args.hidden, activation=args.activation, loss=args.loss,
        optimizer=args.optimizer, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        seed=args.seed, momentum=args.momentum, weight_decay=args.weight_decay,
        dropout=args.dropout, shift=args.shift, init=args.init, schedule=args.schedule,
    )
    if cfg.momentum and cfg.optimizer != "sgd":
        raise UsageError(f"--momentum applies to --optimizer sgd, not {cfg.optimizer}")
    out = Path(args.out)
    _check_output(out, "--out")  # find out before training, not after
    if args.plot:
        from tinygrad_mlp import plots

        if not plots.matplotlib_available():
            raise UsageError("--plot needs matplotlib: pip install matplotlib (or, in a "
                             'checkout, pip install -e ".[plot]")')
        _check_output(Path(args.plot), "--plot", (".png", ".svg", ".pdf"))
    data = load_mnist(args.data)
    if args.limit:
        x, y, xt, yt = data
        data = (x[: args.limit], y[: args.limit], xt[: args.limit], yt[: args.limit])
    print(f"training {T.describe(cfg)} ({args.preset} preset), seed {cfg.seed}", flush=True)
    _progress_hint(not args.no_progress)
    start = time.perf_counter()
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a divergence is reported below
            model, history = T.train(cfg, data, log=lambda s: print(s, flush=True),
                                     progress=not args.no_progress)
    except T.TrainingDiverged as e:
        if e.model is None:
            kept = f"nothing saved (is --lr {cfg.lr:g} too high?)"
        else:
            _save(out, e.model, cfg, e.history)
            kept = (f"kept the model after {T.plural(len(e.history), 'epoch')} (test accuracy "
                    f"{100 * e.history[-1]['test_accuracy']:.2f}%) in {out}")
        print(f"tinygrad-mlp train: error: {e}\n{kept}", file=sys.stderr)
        return 1
    except T.TrainingInterrupted as e:
        if e.model is None:
            print(f"tinygrad-mlp train: {e}; nothing saved", file=sys.stderr)
            return 130
        epochs, acc = len(e.history), 100 * e.history[-1]["test_accuracy"]
        if _ask(f"{e}. Keep the model after {T.plural(epochs, 'epoch')} (test accuracy "
                f"{acc:.2f}%) in {out}? [y/N]"):
            _save(out, e.model, cfg, e.history)
            print(f"saved {out}", file=sys.stderr)
        else:
            print(f"tinygrad-mlp train: {e}; nothing saved", file=sys.stderr)
        return 130
    _save(out, model, cfg, history)
    final = history[-1]["test_accuracy"] if history else float("nan")
    print(f"test accuracy {100 * final:.2f}% after {time.perf_counter() - start:.1f}s; "
          f"saved {out}")
    if args.plot:
        plots.training_curves(history, args.plot)
        print(f"saved {args.plot}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from tinygrad_mlp import train as T
    from tinygrad_mlp.data import load_mnist_test

    model, meta = T.load_checkpoint(_model_path(args.model))
    x_test, y_test = load_mnist_test(args.data)  # the training files are not needed
    pred = T.predict_batches(model, x_test).argmax(axis=1)
    cm = T.confusion_matrix(pred, y_test)
    print(f"test accuracy: {100 * (pred == y_test).mean():.2f}% "
          f"({int((pred == y_test).sum())}/{len(y_test)})")
    print("confusion matrix (rows: true digit, columns: predicted digit)")
    print("      " + "".join(f"{c:>6}" for c in range(10)))
    for r in range(10):
        print(f"{r:>6}" + "".join(f"{n:>6}" for n in cm[r]))
    return 0


CHECKPOINT_SUFFIXES = (".npz", ".safetensors")


def cmd_predict(args: argparse.Namespace) -> int:
    from tinygrad_mlp import preprocess
    from tinygrad_mlp import train as T

    paths = list(args.inputs)
    model_path = paths.pop(0) if Path(paths[0]).suffix.lower() in CHECKPOINT_SUFFIXES else None
    if not paths:
        raise UsageError(f"no images given after the model {model_path}")
    model, meta = T.load_checkpoint(_model_path(model_path))
    images = [preprocess.to_mnist(preprocess.read_image(p), source=p) for p in paths]
    out = T.predict_batches(model, np.stack(images).reshape(len(images), 784))
    probs = T.probabilities(out, str(meta["architecture"]["output"]))
    for path, p in zip(paths, probs, strict=True):
        digit = int(p.argmax())
        print(f"{path}: {digit}  (p={p[digit]:.3f})")
        print("  " + "  ".join(f"{d}:{p[d]:.3f}" for d in range(10)))
    return 0


class _TargetExited(BaseException):
    """The checked function called sys.exit (a BaseException, so no handler swallows it)."""


def _import_target(target: str) -> Callable[..., Any]:
    """The function named ``module:function``; any failure to get it is a UsageError."""
    if ":" not in target:
        raise UsageError(f"expected module:function, got {target!r}")
    module_name, func_name = target.split(":", 1)
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except SystemExit as e:
        raise UsageError(f"importing {module_name!r} called sys.exit({e.code!r}), so nothing "
                         "was checked") from None
    except ModuleNotFoundError as e:
        if e.name != module_name:  # the module exists but imports something missing
            raise UsageError(f"cannot import module {module_name!r}: {e}") from None
        raise UsageError(f"no module named {module_name!r} in the current directory or on "
                         "PYTHONPATH") from None
    except SyntaxError as e:
        raise UsageError(f"cannot import module {module_name!r}: syntax error in {e.filename} "
                         f"line {e.lineno}: {e.msg}") from None
    except Exception as e:  # the module's own code failed while importing
        raise UsageError(f"cannot import module {module_name!r}: it raised "
                         f"{type(e).__name__}: {e}") from None
    fn = getattr(module, func_name, None)
    if fn is None:
        raise UsageError(f"module {module_name!r} has no attribute {func_name!r}")
    if not callable(fn):
        raise UsageError(f"{target} is not callable")
    return fn


def cmd_gradcheck(args: argparse.Namespace) -> int:
    import inspect

    import tinygrad_mlp as tg

    fn = _import_target(args.target)
    try:
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        params = [p for p in inspect.signature(fn).parameters.values()
                  if p.default is p.empty and p.kind in positional]
    except (TypeError, ValueError):
        params = [None]
    calls = 0

    def counted(*xs: Any) -> Any:
        nonlocal calls
        calls += 1
        try:
            return fn(*xs)
        except SystemExit as e:
            raise _TargetExited(e.code) from None

    rng = np.random.default_rng(args.seed)
    inputs = [tg.Tensor(rng.uniform(-1, 1, args.shape), requires_grad=True)
              for _ in range(max(1, len(params)))]
    failed = f"gradcheck FAILED for {args.target}:"
    try:
        tg.gradcheck(counted, inputs)
        if args.second_order:
            tg.gradgradcheck(counted, inputs)
    except tg.GradcheckError as e:
        print(f"{failed} {e}")
        return 1
    except _TargetExited as e:
        print(f"{failed} it called sys.exit({e.args[0]!r}) instead of returning a Tensor")
        return 1
    except Exception as e:  # the user's function failed: report it, no traceback
        print(f"{failed} it raised {type(e).__name__}: {e}")
        return 1
    if calls == 0:  # never report success for a check that did not run
        print(f"{failed} the function was never called, so nothing was checked")
        return 1
    order = "first- and second-order" if args.second_order else "first-order"
    print(f"gradcheck passed: {args.target}, {order} gradients match finite differences "
          f"({len(inputs)} input(s) of shape {args.shape})")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from tinygrad_mlp import serve

    return serve.serve(_model_path(args.model), host=args.host, port=args.port)


GRAPH_SUFFIXES = (".svg", ".png", ".pdf", ".dot")


def cmd_graph(args: argparse.Namespace) -> int:
    from tinygrad_mlp import train as T
    from tinygrad_mlp import viz

    _check_output(Path(args.out), "--out", GRAPH_SUFFIXES)
    model = None
    if args.model is not None:
        model, _ = T.load_checkpoint(args.model)
    loss = T.mlp_step_graph(model)
    if not args.out.endswith(".dot") and not viz.graphviz_available():
        viz.print_graph(loss)
        print(f"(Graphviz is not installed, so {args.out} was not drawn: install the system "
              "package 'graphviz', e.g. apt-get install graphviz)")
        return 0
    path = viz.render(loss, args.out)
    print(f"saved the graph of one training step to {path}")
    return 0


def _presets_epilog() -> str:
    """Each preset's whole recipe, for ``train --help``."""
    from tinygrad_mlp.train import PRESETS, describe

    lines = ["presets (each flag above overrides its part of the preset's recipe):"]
    width = max(len(name) for name in PRESETS)
    for name, cfg in PRESETS.items():
        text = textwrap.wrap(describe(cfg), 96 - width - 4)
        lines.append(f"  {name:<{width}}  {text[0]}")
        lines += [" " * (width + 4) + more for more in text[1:]]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    from tinygrad_mlp.train import ACTIVATIONS, INITS, LOSSES, OPTIMIZERS, PRESETS

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="on an error, show the Python traceback too")
    parser = _Parser(
        prog="tinygrad-mlp", parents=[common],
        description="Train and use the MNIST multilayer perceptron built on tinygrad_mlp.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                parser_class=_Parser)

    default = PRESETS["default"]
    p = sub.add_parser(
        "train", parents=[common], help="train an MLP on MNIST and save a checkpoint",
        epilog=_presets_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Train an MLP on MNIST and save it. Without flags: the default preset. "
                    "Flags without a stated default take the preset's value (listed below).",
    )
    p.add_argument("--preset", choices=list(PRESETS), default="default",
                   help="a reference network and recipe (default: default)")
    p.add_argument("--hidden", type=_units, nargs="+", metavar="N",
                   help=f"hidden layer sizes, e.g. --hidden 128 64 (default preset: "
                        f"{' '.join(map(str, default.hidden))})")
    p.add_argument("--activation", choices=sorted(ACTIVATIONS),
                   help=f"hidden activation (default preset: {default.activation})")
    p.add_argument("--loss", choices=LOSSES, help=f"cost (default preset: {default.loss})")
    p.add_argument("--optimizer", choices=OPTIMIZERS,
                   help=f"(default preset: {default.optimizer})")
    p.add_argument("--lr", type=_positive_float,
                   help=f"learning rate (default preset: {default.lr:g})")
    p.add_argument("--schedule", choices=("cosine", "constant"),
                   help=f"learning rate per step: cosine decay to 0, or constant (default "
                        f"preset: {default.schedule})")
    p.add_argument("--momentum", type=_fraction, metavar="M",
                   help="SGD momentum in [0, 1) (default: 0)")
    p.add_argument("--weight-decay", type=_non_negative_float, metavar="WD",
                   help="L2 penalty added to the gradients (default: 0)")
    p.add_argument("--epochs", type=_positive_int,
                   help=f"passes over the training set (default preset: {default.epochs})")
    p.add_argument("--batch-size", type=_positive_int,
                   help=f"images per step (default preset: {default.batch_size})")
    p.add_argument("--dropout", type=_fraction, metavar="P",
                   help="drop hidden units with probability P in [0, 1) (default: 0)")
    p.add_argument("--shift", type=_shift, metavar="PIXELS",
                   help="augment: move each training image by up to this many pixels "
                        "(default: 0)")
    p.add_argument("--init", choices=INITS,
                   help="initial weights: pytorch (torch.nn.Linear's) or normal (N(0, 1), "
                        f"Nielsen's) (default preset: {default.init})")
    p.add_argument("--seed", type=_non_negative_int,
                   help="seeds weights, shuffling and augmentation: the same seed gives the "
                        f"same weights (default: {default.seed})")
    p.add_argument("--data", metavar="DIR", help="MNIST folder (default: $TINYGRAD_MLP_DATA, "
                   "then ~/.cache/tinygrad_mlp/mnist; downloaded when missing)")
    p.add_argument("--out", default="model.npz", help="checkpoint path (default: model.npz)")
    p.add_argument("--plot", metavar="PNG",
                   help="save loss/accuracy curves, .png/.svg/.pdf (needs matplotlib)")
    p.add_argument("--limit", type=_positive_int, help=argparse.SUPPRESS)  # quick runs, tests
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (the bar needs tqdm: pip install tqdm)")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", parents=[common],
                       help="test accuracy and confusion matrix of a checkpoint")
    p.add_argument("model", nargs="?", help="checkpoint (default: the last one trained)")
    p.add_argument("--data", metavar="DIR",
                   help="MNIST folder; only the two t10k files are read (default: as train)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", parents=[common], help="classify images of handwritten digits")
    p.add_argument("inputs", nargs="+", metavar="[model.npz] image",
                   help="a checkpoint (default: the last one trained), then PNG/JPEG (needs "
                        "Pillow) or .npy images")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("gradcheck", parents=[common],
                       help="check a function's gradients by finite differences")
    p.add_argument("target", metavar="module:function")
    p.add_argument("--shape", type=_shape, default=(3, 4), help="input shape (default 3,4)")
    p.add_argument("--second-order", action="store_true", help="also check second derivatives")
    p.add_argument("--seed", type=_non_negative_int, default=0,
                   help="seeds the random inputs (default: 0)")
    p.set_defaults(func=cmd_gradcheck)

    p = sub.add_parser("graph", parents=[common],
                       help="draw the graph of one training step of the MLP")
    p.add_argument("model", nargs="?", help="checkpoint (default: a new 784-512-10 MLP)")
    p.add_argument("--out", default="graph.svg",
                   help="output .svg/.png/.pdf (needs Graphviz) or .dot (default graph.svg)")
    p.set_defaults(func=cmd_graph)

    p = sub.add_parser("serve", parents=[common],
                       help="a local web page: draw a digit, see the network read it")
    p.add_argument("model", nargs="?", help="checkpoint (default: the last one trained)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free one)")
    p.set_defaults(func=cmd_serve)
    return parser


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("tinygrad_mlp")
    except Exception:  # not installed (a bare checkout on sys.path)
        return "(not installed)"


def _brief(error: BaseException) -> str:
    """One or two lines for the user: what went wrong, and (last line) what to do."""
    from tinygrad_mlp.data import MNISTMissingError

    if isinstance(error, MNISTMissingError) and error.failures:
        reasons = [r for rs in error.failures.values() for r in rs]
        first = reasons[0].rsplit(": ", 1)[-1] if reasons else "no mirror answered"
        from tinygrad_mlp.data import MIRRORS

        return (f"cannot download MNIST into {error.root}: {first}\n"
                f"fetch {', '.join(n + '.gz' for n in error.missing)} by hand from "
                f"{' or '.join(MIRRORS)} into that folder, or point --data at a folder that "
                "holds them")
    if isinstance(error, MemoryError):
        return f"out of memory{': ' + str(error) if str(error) else ''}"
    if isinstance(error, RecursionError):
        return f"input nested too deeply ({error})"
    lines = str(error).strip().splitlines() or [type(error).__name__]
    return lines[0] if len(lines) == 1 else f"{lines[0]}\n{lines[-1]}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tinygrad-mlp`` and ``python -m tinygrad_mlp``.

    Every error is one or two lines naming the culprit and a non-zero exit status (2 for
    usage, 1 otherwise, 130 for Ctrl-C); ``--debug`` adds the traceback.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv  # known before parsing: even a failure while parsing shows it
    command = next((a for a in argv if not a.startswith("-")), "")
    prefix = f"tinygrad-mlp {command}".rstrip()
    try:
        from tinygrad_mlp.data import MNISTError
        from tinygrad_mlp.preprocess import ImageError
        from tinygrad_mlp.serialization import CheckpointError

        args = build_parser().parse_args(argv)
        prefix = f"tinygrad-mlp {args.command}"
        status = args.func(args)
        sys.stdout.flush()  # a reader that left (| head) is found here, not at exit
        return status
    except KeyboardInterrupt:
        print(f"{prefix}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `tinygrad-mlp evaluate | head`: the reader left, fine
        _silence_stdout()
        return 141
    except Exception as e:
        if debug:
            traceback.print_exc()
        if isinstance(e, UsageError):
            print(f"{prefix}: error: {e}", file=sys.stderr)
            return 2
        expected = (MNISTError, ImageError, CheckpointError, ValueError, OSError,
                    ArithmeticError, MemoryError, RecursionError, ImportError)
        if isinstance(e, expected):
            print(f"{prefix}: error: {_brief(e)}", file=sys.stderr)
        else:
            hint = "" if debug else " (--debug shows the traceback)"
            print(f"{prefix}: internal error: {type(e).__name__}: {_brief(e)}{hint}",
                  file=sys.stderr)
        return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null so Python's exit-time flush cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
