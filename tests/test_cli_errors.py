"""The command line and the training run under bad input, interruption and divergence.

Every error is one or two lines naming the culprit, with a non-zero exit status and no
traceback (``--debug`` adds it); outputs are checked before any training; a run whose
loss goes non-finite, or that is interrupted, stops cleanly. Most tests call
``cli.main`` in-process with HOME redirected; those about the console script itself
(Ctrl-C during start-up, a reader that leaves the pipe) run it as a subprocess.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_digits

import tinygrad_mlp as tg
from tinygrad_mlp import cli, optim, serialization
from tinygrad_mlp import train as T


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch) -> Path:
    """A fresh HOME (the 'last checkpoint' note lives there) and no $TINYGRAD_MLP_DATA."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("TINYGRAD_MLP_DATA", raising=False)
    return tmp_path


def run(capsys, *args: str) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of ``tinygrad-mlp ARGS`` run in this process."""
    capsys.readouterr()
    try:
        status = cli.main(list(args))
    except SystemExit as e:  # argparse's own exits (usage errors, --help, --version)
        status = e.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_clear_error(status: int, err: str, *words: str, code: int | None = None) -> None:
    assert status != 0 and (code is None or status == code), (status, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert 1 <= len(lines) <= 2, lines
    for word in words:
        assert word in err, (word, err)


def _data(n=300, nt=60):
    rng = np.random.default_rng(1)
    x, y = synthetic_digits(n, rng)
    xt, yt = synthetic_digits(nt, rng)
    f = lambda a: (a.reshape(len(a), 784) / 255).astype(np.float32)  # noqa: E731
    return f(x), y.astype(np.int64), f(xt), yt.astype(np.int64)


def _cfg(**kw) -> T.Config:
    return T.Config(**{"hidden": (12,), "epochs": 2, "batch_size": 50, "lr": 0.01, "seed": 3,
                       **kw})


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    cfg = _cfg(epochs=1)
    model, history = T.train(cfg, _data(), log=None, progress=False)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.npz"
    T.save_checkpoint(path, model, cfg, history)
    return path


# ----- the training run: schedule, divergence, interruption --------------------------------


def test_cosine_schedule_is_the_library_scheduler_with_the_old_per_step_formula(monkeypatch):
    seen: list[float] = []
    real_step = optim.Adam.step

    def recording_step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(optim.Adam, "step", recording_step)
    cfg = _cfg(epochs=3, lr=0.02)
    T.train(cfg, _data(), log=None, progress=False)
    total = 3 * math.ceil(300 / 50)
    old = [0.5 * cfg.lr * (1 + math.cos(math.pi * s / total)) for s in range(total)]
    np.testing.assert_allclose(seen, old, rtol=1e-12, atol=0)
    assert seen[0] == cfg.lr and seen[-1] < 0.01 * cfg.lr


def test_constant_schedule_keeps_the_learning_rate(monkeypatch):
    seen: list[float] = []
    real_step = optim.SGD.step
    monkeypatch.setattr(optim.SGD, "step", lambda self, *a, **k: (
        seen.append(self.param_groups[0]["lr"]), real_step(self, *a, **k))[1])
    T.train(_cfg(optimizer="sgd", schedule="constant", lr=0.3), _data(), log=None,
            progress=False)
    assert seen == [0.3] * 12


def _loss_that_fails_at(step: int, failure: str):
    """A loss_function replacement whose loss is NaN (or raises Ctrl-C) from ``step`` on."""
    real = T.loss_function
    calls = [0]

    def loss_function(name):
        fn, target_of = real(name)

        def loss(out, target):
            calls[0] += 1
            if calls[0] >= step:
                if failure == "interrupt":
                    raise KeyboardInterrupt
                return fn(out, target) * float("nan")
            return fn(out, target)

        return loss, target_of

    return loss_function


@pytest.mark.parametrize("failure, kind", [("nan", T.TrainingDiverged),
                                           ("interrupt", T.TrainingInterrupted)])
def test_a_run_that_stops_keeps_the_last_finished_epoch(monkeypatch, failure, kind):
    cfg = _cfg(dropout=0.1, schedule="constant")  # dropout: the eager path, loss every step
    first, history1 = T.train(replace_epochs(cfg, 1), _data(), log=None, progress=False)
    monkeypatch.setattr(T, "loss_function", _loss_that_fails_at(6 + 3, failure))  # epoch 2
    with pytest.raises(kind) as info:
        T.train(cfg, _data(), log=None, progress=False)
    err = info.value
    assert len(err.history) == 1
    assert err.history[0]["test_accuracy"] == history1[0]["test_accuracy"]
    for (k, a), b in zip(err.model.state_dict().items(), first.state_dict().values(),
                         strict=True):
        np.testing.assert_array_equal(a, b, err_msg=k)  # exactly the weights after epoch 1
    assert not err.model.training
    if failure == "nan":
        assert "diverged" in str(err) and "epoch 2, step 3 of 6" in str(err)
        assert isinstance(err, FloatingPointError)
    else:
        assert isinstance(err, KeyboardInterrupt) and "epoch 2" in str(err)


def replace_epochs(cfg: T.Config, epochs: int) -> T.Config:
    from dataclasses import replace

    return replace(cfg, epochs=epochs)


def test_weights_that_overflow_in_the_last_step_are_not_kept(monkeypatch):
    """The loss is computed before the update: a final update to inf is caught at the
    epoch's end, and the model after the previous epoch is what comes back."""
    real_step, calls = optim.SGD.step, [0]

    def step(self, *args, **kwargs):
        calls[0] += 1
        real_step(self, *args, **kwargs)
        if calls[0] == 12:  # the last step of epoch 2
            self.param_groups[0]["params"][0].data[0, 0] = np.inf

    monkeypatch.setattr(optim.SGD, "step", step)
    with pytest.raises(T.TrainingDiverged, match="weights became NaN or infinite in epoch 2"):
        T.train(_cfg(optimizer="sgd"), _data(), log=None, progress=False)


def test_divergence_in_the_first_epoch_leaves_no_model():
    with pytest.raises(T.TrainingDiverged) as info, np.errstate(all="ignore"):
        T.train(_cfg(lr=1e308), _data(), log=None, progress=False)
    assert info.value.model is None and info.value.history == []
    assert "the loss became nan" in str(info.value) or "inf" in str(info.value)


# ----- checkpoints: declared shapes and values checked before the model is built -----------


def _fake_checkpoint(path: Path, sizes, state, **arch) -> Path:
    meta = {"format": T.CHECKPOINT_FORMAT, "architecture": {
        "sizes": sizes, "activation": "sigmoid", "output": "logits", **arch}}
    tg.save({"model": state, "meta": meta}, path)
    return path


def test_one_checkpoint_error():
    assert T.CheckpointError is serialization.CheckpointError


def test_a_checkpoint_claiming_a_huge_layer_is_refused_before_building(tmp_path):
    import tracemalloc

    w = {"0.weight": np.zeros((2, 784), np.float32), "0.bias": np.zeros(2, np.float32),
         "2.weight": np.zeros((10, 2), np.float32), "2.bias": np.zeros(10, np.float32)}
    huge = _fake_checkpoint(tmp_path / "huge.npz", [784, 10**12, 10], w)
    tracemalloc.start()
    try:
        with pytest.raises(T.CheckpointError, match=r"huge.npz.*\[784, 1000000000000, 10\]"):
            T.load_checkpoint(huge)
        assert tracemalloc.get_traced_memory()[1] < 2**22
    finally:
        tracemalloc.stop()
    lying = _fake_checkpoint(tmp_path / "lying.npz", [784, 300, 10], w)
    with pytest.raises(T.CheckpointError, match=r"lying.npz.*\(300, 784\).*\(2, 784\)"):
        T.load_checkpoint(lying)
    for bad in ([784], "784-10", [784, True, 10], [784, 2.5, 10]):
        with pytest.raises(T.CheckpointError, match="sizes"):
            T.load_checkpoint(_fake_checkpoint(tmp_path / "bad.npz", bad, w))


def test_a_checkpoint_with_nan_weights_is_refused(tmp_path, checkpoint, capsys):
    obj = tg.load(checkpoint)
    obj["model"]["0.weight"][0, 0] = np.nan
    tg.save(obj, tmp_path / "nan.npz")
    with pytest.raises(T.CheckpointError, match=r"nan.npz: 0.weight holds NaN"):
        T.load_checkpoint(tmp_path / "nan.npz")
    np.save(tmp_path / "x.npy", np.ones((28, 28)))
    status, out, err = run(capsys, "predict", str(tmp_path / "nan.npz"), str(tmp_path / "x.npy"))
    assert_one_clear_error(status, err, "nan.npz", "NaN")
    assert "p=nan" not in out


# ----- mlp_step_graph (moved from viz) ------------------------------------------------------


def test_mlp_step_graph_default_and_with_a_model():
    from tinygrad_mlp import nn, viz

    assert not hasattr(viz, "mlp_step_graph")
    loss = T.mlp_step_graph()
    assert loss.shape == () and np.isfinite(loss.item()) and loss.grad_fn == "SoftmaxCrossEntropy"
    text = viz.format_graph(loss)
    for key, shape in (("0.weight", "(512, 784)"), ("2.bias", "(10,)"), ("x", "(4, 784)")):
        assert key in text and shape in text
    assert T.mlp_step_graph().item() == loss.item() != T.mlp_step_graph(seed=1).item()
    loss.backward()
    model = nn.Sequential(nn.Linear(784, 30), nn.Sigmoid(), nn.Linear(30, 10), nn.Sigmoid())
    loss = T.mlp_step_graph(model, batch_size=2)
    text = viz.format_graph(loss)
    assert "(2, 784)" in text and "SoftmaxCrossEntropy" not in text  # quadratic cost


# ----- the command line: outputs first, one line per error, --debug, --version -------------


def test_version(capsys):
    status, out, _ = run(capsys, "--version")
    assert status == 0 and out.strip() == f"tinygrad-mlp {cli._version()}"
    assert out.split()[1][0].isdigit() or "not installed" in out


def test_debug_shows_the_traceback_and_the_line(capsys, tmp_path):
    missing = str(tmp_path / "missing.npz")
    status, _, err = run(capsys, "evaluate", missing)
    assert_one_clear_error(status, err, "missing.npz", code=1)
    for args in (["--debug", "evaluate", missing], ["evaluate", missing, "--debug"]):
        status, _, err = run(capsys, *args)
        assert status == 1 and "Traceback" in err and "missing.npz" in err.splitlines()[-1]


def test_a_bug_of_ours_is_one_line_too(capsys, monkeypatch, checkpoint):
    def broken(*args, **kwargs):
        raise TypeError("something internal")

    monkeypatch.setattr(T, "load_checkpoint", broken)
    status, _, err = run(capsys, "evaluate", str(checkpoint))
    assert_one_clear_error(status, err, "internal error", "TypeError", "something internal",
                           "--debug", code=1)


@pytest.mark.parametrize("args, words", [
    (["--out", "{tmp}"], ["is a directory", "--out"]),
    (["--out", "{tmp}/no/such/dir/m.npz"], ["does not exist", "--out"]),
    (["--out", "{tmp}/afile/m.npz"], ["--out", "afile"]),
    (["--plot", "{tmp}/curves.txt"], ["--plot", ".txt"]),
    (["--plot", "{tmp}/nodir/curves.png"], ["--plot", "does not exist"]),
    (["--seed", "-1"], ["--seed", "-1"]),
    (["--dropout", "1.5"], ["--dropout"]),
    (["--shift", "30"], ["--shift"]),
    (["--momentum", "0.9"], ["--momentum", "sgd"]),
    (["--init", "zeros"], ["--init"]),
    (["--hidden", "64", "100000000"], ["--hidden", "100000000", "65536"]),
])
def test_train_refuses_bad_options_before_reading_any_data(capsys, monkeypatch, tmp_path,
                                                           args, words):
    (tmp_path / "afile").write_text("a file, not a folder")
    from tinygrad_mlp import data

    def no_data(*a, **k):
        raise AssertionError("the data was loaded before the options were checked")

    monkeypatch.setattr(data, "load_mnist", no_data)
    status, _, err = run(capsys, "train", *[a.replace("{tmp}", str(tmp_path)) for a in args])
    assert_one_clear_error(status, err, *words, code=2)


def test_train_flags_reach_the_checkpoint(capsys, tmp_path, data_dir):
    out = tmp_path / "m.npz"
    status, stdout, err = run(
        capsys, "train", "--data", str(data_dir), "--hidden", "8", "--epochs", "1",
        "--optimizer", "sgd", "--lr", "0.1", "--momentum", "0.5", "--weight-decay", "1e-4",
        "--dropout", "0.25", "--shift", "1", "--init", "normal", "--schedule", "constant",
        "--seed", "7", "--out", str(out), "--no-progress")
    assert status == 0, err
    assert "1 epoch," in stdout and "1 epochs" not in stdout
    config = tg.load(out)["meta"]["config"]
    assert (config["momentum"], config["weight_decay"], config["dropout"], config["shift"],
            config["init"], config["schedule"], config["seed"]) == (
        0.5, 1e-4, 0.25, 1, "normal", "constant", 7)


def test_train_help_shows_each_presets_recipe_and_the_defaults(capsys):
    status, out, _ = run(capsys, "train", "--help")
    assert status == 0
    for name, cfg in T.PRESETS.items():
        assert f"  {name}  " in out
        first_words = " ".join(T.describe(cfg).split()[:3])
        assert first_words in " ".join(out.split())
    assert "default preset: 8" in out and "default: model.npz" in out


def test_a_diverging_run_saves_nothing_and_says_why(capsys, tmp_path, data_dir):
    out = tmp_path / "m.npz"
    status, _, err = run(capsys, "train", "--data", str(data_dir), "--lr", "1e308",
                         "--hidden", "8", "--epochs", "2", "--out", str(out), "--no-progress")
    assert_one_clear_error(status, err, "diverged", "nothing saved", "--lr", code=1)
    assert not out.exists()


def test_a_run_diverging_later_keeps_the_last_finite_epoch_and_says_so(
        capsys, monkeypatch, tmp_path, data_dir, checkpoint):
    model, _ = T.load_checkpoint(checkpoint)
    history = [{"epoch": e, "train_loss": 0.5, "test_accuracy": 0.9, "seconds": 1.0}
               for e in (1, 2)]

    def diverged(*args, **kwargs):
        raise T.TrainingDiverged("training diverged: the loss became nan at epoch 3, step 1",
                                 model, history)

    monkeypatch.setattr(T, "train", diverged)
    out = tmp_path / "m.npz"
    status, _, err = run(capsys, "train", "--data", str(data_dir), "--hidden", "12",
                         "--out", str(out), "--no-progress")
    assert_one_clear_error(status, err, "diverged", "kept the model after 2 epochs",
                           "90.00%", str(out), code=1)
    assert T.load_checkpoint(out)[1]["history"]["epoch"] == [1, 2]


@pytest.mark.parametrize("answer", [True, False])
def test_ctrl_c_offers_to_keep_the_last_finished_epoch(capsys, monkeypatch, tmp_path,
                                                       data_dir, checkpoint, answer):
    model, meta = T.load_checkpoint(checkpoint)
    history = [{"epoch": 1, "train_loss": 0.5, "test_accuracy": 0.875, "seconds": 1.0}]

    def interrupted(*args, **kwargs):
        raise T.TrainingInterrupted("interrupted during epoch 2", model, history)

    questions: list[str] = []
    monkeypatch.setattr(T, "train", interrupted)
    monkeypatch.setattr(cli, "_ask", lambda q: questions.append(q) or answer)
    out = tmp_path / "m.npz"
    status, _, err = run(capsys, "train", "--data", str(data_dir), "--hidden", "12",
                         "--out", str(out), "--no-progress")
    assert status == 130 and "Traceback" not in err
    assert "after 1 epoch (test accuracy 87.50%)" in questions[0] and str(out) in questions[0]
    assert out.exists() == answer
    if answer:
        loaded, _ = T.load_checkpoint(out)
        np.testing.assert_array_equal(loaded[0].weight.data, model[0].weight.data)
    else:
        assert "nothing saved" in err


def test_progress_hint_says_where_a_bar_comes_from(capsys, monkeypatch):
    import importlib.util

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    cli._progress_hint(True)
    assert "pip install tqdm" in capsys.readouterr().err
    cli._progress_hint(False)  # --no-progress: nothing to say
    assert capsys.readouterr().err == ""


def test_ask_without_a_terminal_says_no(monkeypatch):
    monkeypatch.setattr(sys.stdin, "isatty", lambda: False, raising=False)
    assert cli._ask("keep it? [y/N]") is False


def test_predict_uses_the_last_model_and_evaluate_only_the_test_files(capsys, tmp_path,
                                                                       data_dir):
    np.save(tmp_path / "digit.npy", synthetic_digits(1, np.random.default_rng(0))[0][0])
    status, _, err = run(capsys, "predict", str(tmp_path / "digit.npy"))
    assert_one_clear_error(status, err, "no model given", "tinygrad-mlp train", code=2)
    assert run(capsys, "train", "--data", str(data_dir), "--hidden", "8", "--epochs", "1",
               "--out", str(tmp_path / "m.npz"), "--no-progress")[0] == 0
    status, out, err = run(capsys, "predict", str(tmp_path / "digit.npy"))
    assert status == 0, err
    assert out.startswith(f"{tmp_path / 'digit.npy'}: ")
    status, out, err = run(capsys, "predict", str(tmp_path / "m.npz"))
    assert_one_clear_error(status, err, "no images", code=2)

    test_only = tmp_path / "test_only"
    test_only.mkdir()
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (test_only / name).write_bytes((data_dir / name).read_bytes())
    status, out, err = run(capsys, "evaluate", "--data", str(test_only))
    assert status == 0, err
    assert "test accuracy" in out


def test_image_bombs_and_odd_images_are_one_line(capsys, tmp_path, checkpoint):
    Image = pytest.importorskip("PIL.Image")
    Image.new("L", (5000, 4000), 255).save(tmp_path / "big.png")  # 20 MP: 64 KB on disk
    status, _, err = run(capsys, "predict", str(checkpoint), str(tmp_path / "big.png"))
    assert_one_clear_error(status, err, "big.png", "5000x4000", "at most 16,777,216", code=1)
    np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.uint8,
                              shape=(20000, 20000))  # sparse on disk
    status, _, err = run(capsys, "predict", str(checkpoint), str(tmp_path / "big.npy"))
    assert_one_clear_error(status, err, "big.npy", "(20000, 20000)", code=1)


def test_directories_given_as_files_are_named(capsys, tmp_path, checkpoint):
    status, _, err = run(capsys, "predict", str(checkpoint), str(tmp_path))
    assert_one_clear_error(status, err, str(tmp_path), "a directory, not an image", code=1)
    status, _, err = run(capsys, "evaluate", str(tmp_path))
    assert_one_clear_error(status, err, str(tmp_path), "a directory, not a checkpoint", code=1)


def test_graph_checks_its_output_first(capsys, tmp_path):
    status, _, err = run(capsys, "graph", "--out", str(tmp_path / "nodir" / "g.svg"))
    assert_one_clear_error(status, err, "--out", "does not exist", code=2)
    status, _, err = run(capsys, "graph", "--out", str(tmp_path / "g.txt"))
    assert_one_clear_error(status, err, "--out", ".txt", code=2)


# ----- gradcheck never reports success for a target that did not run -----------------------


@pytest.mark.parametrize("source, target, code, words", [
    ("def f(x:\n", "f", 2, ["syntax error", "line 1"]),
    ("raise RuntimeError('no config file')\n", "f", 2, ["RuntimeError", "no config file"]),
    ("import sys\nsys.exit(0)\n", "f", 2, ["sys.exit(0)", "nothing was checked"]),
    ("import no_such_dependency_xyz\n", "f", 2, ["no_such_dependency_xyz"]),
    ("import sys\ndef f(x):\n    sys.exit(0)\n", "f", 1, ["FAILED", "sys.exit(0)"]),
    ("import sys\ndef f(x):\n    raise SystemExit\n", "f", 1, ["FAILED", "sys.exit(None)"]),
    ("def f(x):\n    return 3\n", "f", 1, ["FAILED"]),
])
def test_gradcheck_of_a_target_that_fails_or_exits(capsys, tmp_path, monkeypatch, source,
                                                   target, code, words):
    name = f"user_module_{abs(hash(source))}"
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    status, out, err = run(capsys, "gradcheck", f"{name}:{target}")
    assert status == code, (out, err)
    assert "passed" not in out and "Traceback" not in err
    for word in words:
        assert word in out + err, (word, out, err)
    sys.modules.pop(name, None)


def test_gradcheck_reports_a_target_that_was_never_called(capsys, monkeypatch, tmp_path):
    (tmp_path / "never_called_mod.py").write_text("def f(x):\n    return x * 2\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.setattr(tg, "gradcheck", lambda fn, inputs, **kw: True)  # checks nothing
    status, out, _ = run(capsys, "gradcheck", "never_called_mod:f")
    assert status == 1 and "never called" in out and "passed" not in out


# ----- the console script: Ctrl-C at any moment, a reader that leaves ----------------------


def _console_script() -> str:
    script = Path(sys.executable).parent / "tinygrad-mlp"
    if not script.is_file():
        pytest.skip("the tinygrad-mlp console script is not installed (pip install -e .)")
    return str(script)


def _wait_for_numpy(pid: int, timeout: float = 60) -> None:
    """Until the process has numpy's extension mapped: it is importing the package, so
    Python's own start-up (which no program can guard) is over."""
    maps = Path(f"/proc/{pid}/maps")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if "numpy" in maps.read_text():
                return
        except OSError:
            pass
        time.sleep(0.001)
    raise AssertionError("the command never imported numpy")


def test_ctrl_c_at_any_moment_is_one_line(tmp_path, data_dir):
    script = _console_script()
    if not Path("/proc/self/maps").is_file():
        pytest.skip("needs /proc to see where the command is")
    env = {**os.environ, "HOME": str(tmp_path), "TINYGRAD_MLP_DATA": str(data_dir)}
    for delay in (0.0, 0.05, 0.15, 0.3, 0.6, 1.0):  # imports, parsing, loading, training
        proc = subprocess.Popen(
            [script, "train", "--hidden", "64", "--epochs", "5000", "--batch-size", "8",
             "--out", str(tmp_path / "m.npz"), "--no-progress"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
            text=True)
        _wait_for_numpy(proc.pid)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, (delay, proc.returncode, err)
        assert "Traceback" not in err and "interrupted" in err, (delay, err)
        assert len(err.strip().splitlines()) <= 2, (delay, err)


def test_a_reader_that_leaves_the_pipe_is_not_an_error(tmp_path, data_dir, checkpoint):
    script = _console_script()
    env = {**os.environ, "HOME": str(tmp_path)}
    proc = subprocess.Popen([script, "evaluate", str(checkpoint), "--data", str(data_dir)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # as `| head` does once it has read enough
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait(timeout=60) == 141, err
    assert err == "", err


def test_ctrl_c_in_a_terminal_asks_and_keeps_the_last_epoch(tmp_path, data_dir):
    """The whole conversation in a pseudo-terminal: Ctrl-C, the question, "y", saved."""
    pty = pytest.importorskip("pty")
    import select

    script = _console_script()
    out = tmp_path / "kept.npz"
    pid, fd = pty.fork()
    if pid == 0:  # the child: the command, attached to the terminal
        os.environ.update(HOME=str(tmp_path))
        os.execv(script, [script, "train", "--data", str(data_dir), "--hidden", "8",
                          "--epochs", "500", "--batch-size", "100", "--out", str(out),
                          "--no-progress"])
    seen = b""

    def read_until(token: bytes) -> bytes:
        nonlocal seen
        deadline = time.monotonic() + 60
        while token not in seen and time.monotonic() < deadline:
            if select.select([fd], [], [], 0.2)[0]:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break
        assert token in seen, seen.decode(errors="replace")
        return seen

    try:
        read_until(b"epoch   2/500")
        os.write(fd, b"\x03")  # Ctrl-C, as the terminal delivers it: SIGINT
        read_until(b"[y/N]")
        os.write(fd, b"y\n")
        read_until(b"saved")
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    text = seen.decode(errors="replace")
    assert os.waitstatus_to_exitcode(status) == 130 and "Traceback" not in text
    question = text[text.index("interrupted") :]
    epochs = len(tg.load(out)["meta"]["history"]["epoch"])
    assert f"interrupted during epoch {epochs + 1}." in question
    assert f"after {epochs} epoch" in question and str(out) in question
    T.load_checkpoint(out)  # a complete, loadable model
