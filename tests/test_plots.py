"""Plots render headless to valid PNGs of the promised size; without matplotlib, a clear error."""

from __future__ import annotations

import struct
import sys

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import plots

needs_mpl = pytest.mark.skipif(
    not plots.matplotlib_available(),
    reason="matplotlib (the optional 'plot' extra) is not installed",
)


def _png_size(path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk, after checking the signature."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def _model(sizes=(784, 16, 10), output_sigmoid=False):
    nn = pytest.importorskip("tinygrad_mlp.nn")
    tg.manual_seed(0)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2 or output_sigmoid:
            layers.append(nn.Sigmoid())
    return nn.Sequential(*layers)


def _pairs(rng, sizes=(784, 12, 10)):
    return [(rng.standard_normal((b, a)) * 0.1, rng.standard_normal(b) * 0.1)
            for a, b in zip(sizes[:-1], sizes[1:], strict=True)]


HISTORY = [  # "seconds": each epoch's own time, as train.train records it
    {"epoch": 1, "train_loss": 0.61, "test_accuracy": 0.912, "seconds": 3.2},
    {"epoch": 2, "train_loss": 0.32, "test_accuracy": 0.941, "seconds": 3.1},
    {"epoch": 3, "train_loss": 0.25, "test_accuracy": 0.953, "seconds": 3.2},
]


@needs_mpl
def test_first_layer_weights_from_a_model_an_array_and_pairs(tmp_path):
    rng = np.random.default_rng(0)
    p = plots.first_layer_weights(_model(), tmp_path / "model.png")
    assert _png_size(p) == (800, 800)
    w = rng.standard_normal((30, 784))
    assert _png_size(plots.first_layer_weights(w, tmp_path / "w.png", figsize=(4, 3),
                                               dpi=50)) == (200, 150)
    assert _png_size(plots.first_layer_weights(w.T, tmp_path / "wt.png")) == (800, 800)
    assert _png_size(plots.first_layer_weights(tg.Tensor(w), str(tmp_path / "t.png"))) == (
        800, 800)
    assert _png_size(plots.first_layer_weights(_pairs(rng), tmp_path / "p.png",
                                               max_units=5)) == (800, 800)


@needs_mpl
def test_first_layer_weights_errors(tmp_path):
    with pytest.raises(ValueError, match="784 pixels"):
        plots.first_layer_weights(np.ones((3, 10)), tmp_path / "x.png")
    with pytest.raises(TypeError):
        plots.first_layer_weights("weights", tmp_path / "x.png")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        plots.first_layer_weights(np.ones((3, 784)), tmp_path / "missing" / "x.png")
    with pytest.raises(ValueError):
        plots.first_layer_weights(np.ones((3, 784)), tmp_path / "x.png", max_units=0)


@needs_mpl
def test_hidden_activations(tmp_path):
    rng = np.random.default_rng(1)
    image = rng.random(784)
    p = plots.hidden_activations(_model((784, 16, 12, 10)), image, tmp_path / "a.png")
    assert _png_size(p) == (1200, 350)
    p = plots.hidden_activations(_model(output_sigmoid=True), tg.Tensor(image.reshape(28, 28)),
                                 tmp_path / "b.png", figsize=(6, 2), dpi=80)
    assert _png_size(p) == (480, 160)
    p = plots.hidden_activations(_pairs(rng), image, tmp_path / "c.png", dpi=40)
    assert _png_size(p) == (480, 140)


def test_activation_steps_are_the_forward_pass():
    rng = np.random.default_rng(2)
    pairs = _pairs(rng)
    x = rng.random(784)
    steps = plots._activation_steps(pairs, x)
    hidden = 1 / (1 + np.exp(-(pairs[0][0] @ x + pairs[0][1])))
    logits = pairs[1][0] @ hidden + pairs[1][1]
    probs = np.exp(logits - logits.max())
    probs /= probs.sum()
    assert [t for t, _ in steps] == ["layer 1: 12 sigmoid units", "output: softmax(logits)"]
    np.testing.assert_allclose(steps[0][1].reshape(-1), hidden)
    np.testing.assert_allclose(steps[1][1], probs)
    model = _model(output_sigmoid=True)
    steps = plots._activation_steps(model, x)
    assert [t for t, _ in steps] == ["layer 1: 16 Sigmoid units", "output activations"]
    np.testing.assert_allclose(steps[-1][1], model(tg.Tensor(x[None].astype(np.float32)))
                               .numpy()[0], rtol=1e-6)


@needs_mpl
def test_training_curves(tmp_path):
    assert _png_size(plots.training_curves(HISTORY, str(tmp_path / "c.png"))) == (1000, 400)
    as_columns = {k: [h[k] for h in HISTORY] for k in HISTORY[0]}  # a checkpoint's layout
    assert _png_size(plots.training_curves(as_columns, tmp_path / "d.png", figsize=(5, 2),
                                           dpi=60)) == (300, 120)
    one = [{"epoch": 1, "train_loss": 0.5, "test_accuracy": None, "seconds": 1.0}]
    assert _png_size(plots.training_curves(one, tmp_path / "e.png")) == (1000, 400)
    svg = plots.training_curves(HISTORY, tmp_path / "c.svg")
    assert "<svg" in svg.read_text()


@needs_mpl
@pytest.mark.parametrize("seconds, title", [
    ([3.2, 3.1, 3.2], "3 epochs in 9.5 s"),
    ([21.8] * 20, "20 epochs in 7 min 16 s"),  # the 436 s run, not "4.8 s"
    ([4.25], "1 epoch in 4.2 s"),
])
def test_training_curves_subtitle_is_the_whole_run(tmp_path, monkeypatch, seconds, title):
    figures = []
    monkeypatch.setattr(plots, "_save", lambda fig, path, dpi: figures.append(fig))
    history = [{"epoch": i + 1, "train_loss": 1.0 / (i + 1), "test_accuracy": 0.9,
                "seconds": s} for i, s in enumerate(seconds)]
    plots.training_curves(history, tmp_path / "c.png")
    assert figures[0]._suptitle.get_text() == title


@needs_mpl
def test_training_curves_errors(tmp_path):
    with pytest.raises(ValueError, match="empty"):
        plots.training_curves([], tmp_path / "c.png")
    with pytest.raises(ValueError, match="train_loss"):
        plots.training_curves([{"epoch": 1}], tmp_path / "c.png")
    with pytest.raises(TypeError):
        plots.training_curves([1, 2], tmp_path / "c.png")


@needs_mpl
def test_plots_stay_headless(tmp_path):
    had_pyplot = "matplotlib.pyplot" in sys.modules
    plots.training_curves(HISTORY, tmp_path / "c.png")
    plots.first_layer_weights(np.ones((4, 784)), tmp_path / "w.png")
    assert ("matplotlib.pyplot" in sys.modules) == had_pyplot  # no pyplot, no window


def test_missing_matplotlib_is_a_clear_error(tmp_path, monkeypatch):
    for key in [k for k in sys.modules if k == "matplotlib" or k.startswith("matplotlib.")]:
        monkeypatch.setitem(sys.modules, key, None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert not plots.matplotlib_available()
    calls = [
        lambda: plots.training_curves(HISTORY, tmp_path / "c.png"),
        lambda: plots.first_layer_weights(np.ones((4, 784)), tmp_path / "w.png"),
        lambda: plots.hidden_activations(_pairs(np.random.default_rng(0)), np.ones(784),
                                         tmp_path / "a.png"),
    ]
    for call in calls:
        with pytest.raises(plots.PlotDependencyError, match=r"pip install") as err:
            call()
        assert isinstance(err.value, ImportError) and "matplotlib" in str(err.value)
    assert not (tmp_path / "c.png").exists()


@needs_mpl
def test_first_layer_filters_of_a_conv_net(tmp_path):
    from tinygrad_mlp import nn

    model = nn.Sequential(nn.Conv2d(1, 6, 5), nn.ReLU(), nn.Flatten(), nn.Linear(6 * 24 * 24, 10))
    w, shape = plots._first_weight(model, (28, 28))
    assert shape == (5, 5)
    np.testing.assert_array_equal(w, model[0].weight.data.reshape(6, 25))
    assert _png_size(plots.first_layer_weights(model, tmp_path / "filters.png")) == (800, 800)
    with pytest.raises(ValueError, match="3 input channels"):
        plots.first_layer_weights(nn.Conv2d(3, 4, 3), tmp_path / "rgb.png")
