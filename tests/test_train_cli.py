"""Training loop, checkpoints, preprocessing and the tinygrad-mlp command line."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from conftest import synthetic_digits

import tinygrad_mlp as tg
from tinygrad_mlp import preprocess
from tinygrad_mlp import train as T

REAL_MNIST = os.environ.get("TINYGRAD_MLP_DATA")


def run_cli(*args: str, cwd: Path | None = None, home: Path | None = None):
    env = dict(os.environ)
    if home is not None:
        env["HOME"] = str(home)
    env.pop("TINYGRAD_MLP_DATA", None)
    return subprocess.run(
        [sys.executable, "-m", "tinygrad_mlp", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=300,
    )


def _tiny_config(**kw) -> T.Config:
    base = dict(hidden=(16,), epochs=2, batch_size=32, lr=0.01, seed=3)
    base.update(kw)
    return T.Config(**base)


def _tiny_data(n=400, nt=100):
    rng = np.random.default_rng(1)
    x, y = synthetic_digits(n, rng)
    xt, yt = synthetic_digits(nt, rng)
    f = lambda a: (a.reshape(len(a), 784) / 255).astype(np.float32)  # noqa: E731
    return f(x), y.astype(np.int64), f(xt), yt.astype(np.int64)


# ----- the training loop -------------------------------------------------------------------


def test_training_learns_and_records_history():
    model, history = T.train(_tiny_config(epochs=3), _tiny_data(), log=None, progress=False)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert history[-1]["test_accuracy"] > 0.9  # chance is 0.1


@pytest.mark.parametrize("preset", ["default", "nielsen", "3b1b", "best"])
def test_same_seed_gives_bit_identical_weights(preset):
    cfg = T.config_from(preset, hidden=[8], epochs=1, batch_size=50)
    data = _tiny_data(200, 20)
    m1, _ = T.train(cfg, data, log=None, progress=False)
    m2, _ = T.train(cfg, data, log=None, progress=False)
    m3, _ = T.train(T.config_from(preset, hidden=[8], epochs=1, batch_size=50, seed=99), data,
                    log=None, progress=False)
    for (n1, a), (n2, b), (_, c) in zip(m1.state_dict().items(), m2.state_dict().items(),
                                        m3.state_dict().items(), strict=True):
        assert n1 == n2
        assert np.array_equal(a, b), n1
        assert not np.array_equal(a, c), n1


def test_presets_match_their_references():
    p = T.PRESETS
    assert T.architecture(p["default"])["sizes"][0] == 784
    assert T.architecture(p["default"])["output"] == "logits"
    assert p["default"].activation == "sigmoid" and p["default"].loss == "cross-entropy"
    n = p["nielsen"]
    assert (n.hidden, n.loss, n.batch_size, n.lr) == ((30,), "quadratic", 10, 3.0)
    assert n.optimizer == "sgd"
    assert T.architecture(n)["output"] == "sigmoid"
    assert p["3b1b"].hidden == (16, 16) and p["3b1b"].activation == "sigmoid"


def test_build_model_shapes_and_layer_order():
    model = T.build_model([784, 32, 16, 10], "relu", "sigmoid", dropout=0.5)
    names = [type(m).__name__ for m in model]
    assert names == ["Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear", "Sigmoid"]
    shapes = {k: v.shape for k, v in model.state_dict().items()}
    assert shapes["0.weight"] == (32, 784) and shapes["6.weight"] == (10, 16)
    with pytest.raises(ValueError, match="activation"):
        T.build_model([784, 10], "swish", "logits")


def test_random_shifts_moves_each_image_within_bounds():
    rng = np.random.default_rng(0)
    x = np.zeros((50, 28, 28), np.float32)
    x[:, 13, 13] = 1.0
    shifted = T.random_shifts(x.reshape(50, 784), 2, rng).reshape(50, 28, 28)
    pos = np.array([np.unravel_index(img.argmax(), img.shape) for img in shifted])
    assert np.all(np.abs(pos - 13) <= 2)
    assert len({tuple(p) for p in pos}) > 5  # different shifts per image
    assert np.allclose(shifted.sum(axis=(1, 2)), 1.0)  # nothing lost when far from edges


def test_probabilities_and_confusion_matrix():
    logits = np.array([[0.0, 1000.0, 0.0, 0, 0, 0, 0, 0, 0, 0]], np.float32)
    p = T.probabilities(logits, "logits")
    assert np.isfinite(p).all() and abs(p.sum() - 1) < 1e-6 and p.argmax() == 1
    sig = np.full((1, 10), 0.5, np.float32)
    assert np.allclose(T.probabilities(sig, "sigmoid"), 0.1)
    cm = T.confusion_matrix(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), classes=3)
    assert cm.tolist() == [[1, 0, 0], [0, 1, 0], [0, 1, 1]]


def test_checkpoint_round_trip(tmp_path):
    cfg = _tiny_config(epochs=1)
    data = _tiny_data(200, 50)
    model, history = T.train(cfg, data, log=None, progress=False)
    path = tmp_path / "m.npz"
    T.save_checkpoint(path, model, cfg, history)
    loaded, meta = T.load_checkpoint(path)
    assert meta["architecture"]["sizes"] == [784, 16, 10]
    assert np.array_equal(T.predict_batches(model, data[2]), T.predict_batches(loaded, data[2]))
    assert not loaded.training


def test_load_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(T.CheckpointError, match="missing.npz"):
        T.load_checkpoint(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(T.CheckpointError, match="bad.npz"):
        T.load_checkpoint(bad)
    other = tmp_path / "other.npz"
    tg.save({"weights": np.zeros(3)}, other)
    with pytest.raises(T.CheckpointError, match="not a tinygrad-mlp checkpoint"):
        T.load_checkpoint(other)


# ----- preprocessing -----------------------------------------------------------------------


def _digit_canvas(h=120, w=90, light=True):
    """A '7'-like shape drawn dark on light paper (or light on dark), off-centre."""
    canvas = np.zeros((h, w), np.float32)
    canvas[10:16, 10:60] = 1.0  # top bar
    for r in range(16, 100):  # diagonal stroke
        c = 60 - (r - 16) // 3
        canvas[r, c - 3 : c + 3] = 1.0
    return 1.0 - canvas if light else canvas


def test_to_mnist_inverts_crops_scales_and_centres():
    out_light = preprocess.to_mnist(_digit_canvas(light=True))
    out_dark = preprocess.to_mnist(_digit_canvas(light=False))
    for out in (out_light, out_dark):
        assert out.shape == (28, 28) and out.dtype == np.float32
        assert out.max() <= 1.0 and out.min() >= 0.0
        rows = np.flatnonzero(out.max(axis=1) > 0.1)
        cols = np.flatnonzero(out.max(axis=0) > 0.1)
        assert rows[-1] - rows[0] + 1 in (19, 20, 21)  # the tall side is scaled to 20
        assert cols[-1] - cols[0] + 1 < 20  # aspect ratio kept
        mass = out.sum()
        cy = out.sum(axis=1) @ np.arange(28) / mass
        cx = out.sum(axis=0) @ np.arange(28) / mass
        assert abs(cy - 14.0) <= 0.5 and abs(cx - 14.0) <= 0.5  # as MNIST: mass at (14, 14)
        assert out[0].max() == 0 and out[:, 0].max() == 0  # background black
    assert np.allclose(out_light, out_dark, atol=1e-5)


def test_to_mnist_handles_rgb_rgba_uint8_and_rejects_blank():
    gray = (_digit_canvas() * 255).astype(np.uint8)
    rgb = np.stack([gray] * 3, axis=-1)
    rgba = np.concatenate([rgb, np.full(gray.shape + (1,), 255, np.uint8)], axis=-1)
    ref = preprocess.to_mnist(gray)
    assert np.allclose(preprocess.to_mnist(rgb), ref, atol=1e-3)
    assert np.allclose(preprocess.to_mnist(rgba), ref, atol=1e-3)
    with pytest.raises(preprocess.ImageError, match="blank"):
        preprocess.to_mnist(np.ones((30, 30)))
    with pytest.raises(preprocess.ImageError, match="2-D"):
        preprocess.to_mnist(np.ones((2, 3, 5, 5)))
    with pytest.raises(preprocess.ImageError, match="NaN"):
        preprocess.to_mnist(np.full((5, 5), np.nan))


def test_resize_preserves_mean_when_shrinking():
    rng = np.random.default_rng(0)
    img = rng.random((60, 40))
    small = preprocess.resize(img, 20, 10)
    assert small.shape == (20, 10)
    assert abs(small.mean() - img.mean()) < 1e-9
    assert np.allclose(preprocess.resize(np.ones((3, 3)), 9, 9), 1.0)


# ----- the command line ---------------------------------------------------------------------


def test_16_bit_grayscale_images_keep_their_range(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    canvas = _digit_canvas()  # dark ink on light paper, floats in [0, 1]
    path = tmp_path / "digit16.png"
    Image.fromarray(np.round(canvas * 65535).astype(np.uint16)).save(path)
    with Image.open(path) as im:
        assert im.mode == "I;16"  # Pillow's 16-bit grayscale, clipped by .convert("L")
    gray = preprocess.read_image(path)
    as_int32 = Image.fromarray(np.round(canvas * 65535).astype(np.int32))  # mode "I", as
    assert as_int32.mode == "I"  # older Pillows open 16-bit PNGs
    np.testing.assert_allclose(preprocess.from_pil(as_int32), canvas, atol=1 / 255)
    np.testing.assert_allclose(gray, canvas, atol=1 / 255)
    Image.fromarray(np.round(canvas * 255).astype(np.uint8)).save(tmp_path / "digit8.png")
    np.testing.assert_allclose(preprocess.to_mnist(gray),
                               preprocess.to_mnist(preprocess.read_image(tmp_path / "digit8.png")),
                               atol=0.02)


def test_grayscale_scales_by_the_values_range():
    mask = np.zeros((4, 4), np.uint8)
    mask[1:3, 1:3] = 1  # a 0/1 mask stays full strength
    assert preprocess.grayscale(mask).max() == 1.0
    assert preprocess.grayscale(np.full((2, 2), 65535, np.uint16)).max() == 1.0
    assert preprocess.grayscale(np.full((2, 2), 300, np.uint16)).max() == pytest.approx(300 / 65535)
    assert preprocess.grayscale(np.full((2, 2), 300.0)).max() == pytest.approx(300 / 65535)
    assert preprocess.grayscale(np.full((2, 2), 128, np.uint8)).max() == pytest.approx(128 / 255)


def test_ink_problem_tells_dots_and_faint_ink_from_digits():
    canvas = 1 - _digit_canvas()  # white ink on black
    assert preprocess.ink_problem(canvas) is None
    assert preprocess.ink_problem(0.1 * canvas) == "faint"
    assert preprocess.ink_problem(1 - 0.1 * canvas) == "faint"  # faint dark ink on paper
    dot = np.zeros((280, 280))
    dot[100:120, 100:120] = 1.0
    assert preprocess.ink_problem(dot) == "small"
    assert preprocess.ink_problem(np.zeros((28, 28))) == "blank"
    assert preprocess.to_mnist(dot).max() == 1.0  # predict still reads a small digit


def test_image_size_is_checked_before_decoding(tmp_path, monkeypatch):
    Image = pytest.importorskip("PIL.Image")
    Image.new("L", (300, 200), 255).save(tmp_path / "wide.png")
    monkeypatch.setattr(preprocess, "MAX_PIXELS", 300 * 200 - 1)
    decoded = []
    monkeypatch.setattr(Image.Image, "load", lambda self: decoded.append(1))
    with pytest.raises(preprocess.ImageError, match=r"wide.png: 300x200 = 60,000 pixels"):
        preprocess.read_image(tmp_path / "wide.png")
    assert not decoded
    np.save(tmp_path / "big.npy", np.zeros((300, 200, 4), np.uint8))  # RGBA: 4 values a pixel
    with pytest.raises(preprocess.ImageError, match=r"big.npy.*\(300, 200, 4\)"):
        preprocess.read_image(tmp_path / "big.npy")


def test_cli_train_evaluate_predict(tmp_path, data_dir):
    out = tmp_path / "model.npz"
    r = run_cli("train", "--data", str(data_dir), "--hidden", "24", "--epochs", "2",
                "--batch-size", "32", "--lr", "0.01", "--out", str(out), home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "epoch   2/2" in r.stdout and "test accuracy" in r.stdout
    assert out.is_file()

    r = run_cli("evaluate", str(out), "--data", str(data_dir), home=tmp_path)
    assert r.returncode == 0, r.stderr
    acc = float(r.stdout.split("test accuracy: ")[1].split("%")[0])
    assert acc > 80
    matrix = [line.split() for line in r.stdout.splitlines()[-10:]]
    assert sum(int(n) for row in matrix for n in row[1:]) == 200

    r = run_cli("evaluate", "--data", str(data_dir), home=tmp_path)  # the latest checkpoint
    assert r.returncode == 0, r.stderr

    rng = np.random.default_rng(5)
    x, y = synthetic_digits(3, rng)
    paths = []
    for i in range(3):
        p = tmp_path / f"digit{i}.npy"
        np.save(p, x[i])
        paths.append(str(p))
    r = run_cli("predict", str(out), *paths, home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("digit") == 3
    probs = [line for line in r.stdout.splitlines() if line.startswith("  0:")]
    assert len(probs) == 3
    for line in probs:
        assert abs(sum(float(t.split(":")[1]) for t in line.split()) - 1) < 0.01


def test_cli_predict_png(tmp_path, data_dir):
    Image = pytest.importorskip("PIL.Image")
    out = tmp_path / "model.npz"
    assert run_cli("train", "--data", str(data_dir), "--hidden", "8", "--epochs", "1",
                   "--out", str(out), home=tmp_path).returncode == 0
    png = tmp_path / "seven.png"
    Image.fromarray((_digit_canvas() * 255).astype(np.uint8)).convert("RGB").save(png)
    r = run_cli("predict", str(out), str(png), home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert str(png) in r.stdout


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "--epochs", "0"], "positive integer"),
        (["train", "--lr", "abc"], "positive number"),
        (["train", "--preset", "nope"], "invalid choice"),
        (["evaluate", "missing.npz"], "missing.npz"),
        (["predict", "missing.npz", "x.png"], "missing.npz"),
        (["train", "--data", "DATA_CORRUPT", "--epochs", "1"], "train-images-idx3-ubyte.gz"),
        (["gradcheck", "nocolon"], "module:function"),
        (["gradcheck", "no_such_module_xyz:f"], "no_such_module_xyz"),
    ],
)
def test_cli_bad_input_is_one_clear_line(tmp_path, args, message):
    corrupt = tmp_path / "DATA_CORRUPT"  # a data folder whose images file is damaged
    corrupt.mkdir()
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        (corrupt / f"{name}.gz").write_bytes(gzip.compress(b"\x00\x00\x08\x03" + b"\x00" * 7))
    args = [str(corrupt) if a == "DATA_CORRUPT" else a for a in args]
    r = run_cli(*args, cwd=tmp_path, home=tmp_path)
    assert r.returncode != 0
    assert "Traceback" not in r.stderr
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) <= 3


def test_cli_predict_bad_image(tmp_path, data_dir):
    out = tmp_path / "model.npz"
    assert run_cli("train", "--data", str(data_dir), "--hidden", "8", "--epochs", "1",
                   "--out", str(out), home=tmp_path).returncode == 0
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"garbage")
    r = run_cli("predict", str(out), str(bad), home=tmp_path)
    assert r.returncode == 1 and "bad.npy" in r.stderr and "Traceback" not in r.stderr


def test_cli_gradcheck_pass_fail_and_usage(tmp_path):
    (tmp_path / "myops.py").write_text(textwrap.dedent("""
        import tinygrad_mlp as tg

        def good(x, y):
            return (x * y).sigmoid() + x.tanh()

        class Bad(tg.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.save_for_backward(x)
                return x ** 2
            @staticmethod
            def backward(ctx, g):
                (x,) = ctx.saved_tensors
                return g * x          # should be 2 * x * g

        def bad(x):
            return Bad.apply(x)

        def only_first_order(x):
            return x.relu() * x
    """))
    ok = run_cli("gradcheck", "myops:good", "--shape", "2,3", "--second-order", cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "passed" in ok.stdout
    bad = run_cli("gradcheck", "myops:bad", cwd=tmp_path)
    assert bad.returncode == 1
    assert "input 0" in bad.stdout and "analytical" in bad.stdout and "numerical" in bad.stdout
    usage = run_cli("gradcheck", "myops:missing", cwd=tmp_path)
    assert usage.returncode == 2 and "missing" in usage.stderr


def test_cli_train_plot_writes_curves(tmp_path, data_dir):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curves.png"
    r = run_cli("train", "--data", str(data_dir), "--hidden", "8", "--epochs", "2",
                "--out", str(tmp_path / "m.npz"), "--plot", str(png), home=tmp_path)
    assert r.returncode == 0, r.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_graph_draws_one_training_step(tmp_path):
    r = run_cli("graph", "--out", str(tmp_path / "step.dot"), home=tmp_path)
    assert r.returncode == 0, r.stderr
    dot = (tmp_path / "step.dot").read_text()
    assert dot.startswith("digraph") and dot.count("Linear") == 2
    assert "SoftmaxCrossEntropy" in dot and "Sigmoid" in dot


@pytest.mark.skipif(not REAL_MNIST, reason="set TINYGRAD_MLP_DATA to the MNIST folder")
def test_one_epoch_on_real_mnist_reaches_92_percent():
    from tinygrad_mlp.data import load_mnist

    data = load_mnist(REAL_MNIST, download=False)
    cfg = T.Config(hidden=(64,), epochs=1, batch_size=64, lr=3e-3, seed=0)
    model, history = T.train(cfg, data, log=None, progress=False)
    assert history[-1]["test_accuracy"] >= 0.92


@pytest.mark.skipif(not REAL_MNIST, reason="set TINYGRAD_MLP_DATA to the MNIST folder")
def test_to_mnist_reproduces_real_mnist_digits():
    """MNIST digits are already prepared; preparing them again must change almost nothing."""
    from tinygrad_mlp.data import load_mnist

    _, _, x_test, _ = load_mnist(REAL_MNIST, download=False)
    digits = x_test[:300].reshape(-1, 28, 28)
    again = np.stack([preprocess.to_mnist(d) for d in digits])
    assert np.abs(again - digits).mean() < 0.005  # off by one pixel would be ~0.05
    assert np.mean([np.array_equal(a, d) for a, d in zip(again, digits, strict=True)]) > 0.5
