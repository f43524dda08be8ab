"""The examples run, with small flags, and learn something."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_mnist_mlp_example_learns(data_dir, capsys):
    acc = load("mnist_mlp").main(["--data", str(data_dir), "--epochs", "2", "--hidden", "32"])
    assert acc > 0.8
    assert "epoch 2" in capsys.readouterr().out


def test_nielsen_example_learns(data_dir, capsys):
    acc = load("nielsen_network").main(["--data", str(data_dir), "--epochs", "2"])
    assert acc > 0.5  # chance is 0.1; a 600-image set in 2 epochs of N(0,1)-initialised SGD
    assert "Epoch 1:" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["mnist_mlp", "nielsen_network"])
def test_examples_have_help(name, capsys):
    with pytest.raises(SystemExit) as e:
        load(name).main(["--help"])
    assert e.value.code == 0
    assert "usage" in capsys.readouterr().out
