"""The study notebook runs top to bottom (nbclient), and its numbers say what they should;
graphs and traced backward passes display themselves in Jupyter."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import numpy as np
import pytest

import tinygrad_mlp as tg

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "study_one_step.ipynb"
MNIST = ROOT.parent / "shared" / "mnist"


def _run_notebook() -> str:
    nbformat = pytest.importorskip("nbformat", reason="nbformat is in the dev extra")
    nbclient = pytest.importorskip("nbclient", reason="nbclient is in the dev extra")
    pytest.importorskip("ipykernel", reason="the notebook needs a Python kernel (ipykernel)")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    env_before = os.environ.get("TINYGRAD_MLP_DATA")
    if MNIST.is_dir():
        os.environ["TINYGRAD_MLP_DATA"] = str(MNIST)  # the kernel inherits it
    try:
        nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    finally:
        if env_before is None:
            os.environ.pop("TINYGRAD_MLP_DATA", None)
        else:
            os.environ["TINYGRAD_MLP_DATA"] = env_before
    texts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            texts.append(out.get("text", ""))
            texts.append(out.get("data", {}).get("text/plain", ""))
            texts.append(out.get("data", {}).get("text/html", ""))
    return "\n".join(texts)


def test_the_study_notebook_runs_and_its_numbers_agree():
    text = _run_notebook()
    fwd = float(re.search(r"forward mode  dC\.V = (\S+)", text)[1])
    rev = float(re.search(r"reverse mode  grad\.V = (\S+)", text)[1])
    assert fwd == pytest.approx(rev, rel=1e-10, abs=1e-12)
    assert "same both ways: True" in text
    assert "10 backward passes" in text and "784 forward passes" in text
    assert "symmetric: True | matches finite differences: True" in text
    before, after = map(float, re.search(r"C before the step (\S+), after (\S+)", text).groups())
    assert after < before
    assert "<table>" in text  # the traced backward displayed as a table
    assert "SquaredError" in text  # and the graph of the cost


# ----- display objects ----------------------------------------------------------------------


def _loss():
    x = tg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    return x, (x.sigmoid() * x).sum()


def test_graph_falls_back_to_text_without_graphviz(monkeypatch):
    monkeypatch.setattr("shutil.which", lambda name: None)
    x, loss = _loss()
    g = tg.viz.graph(loss, params={"x": x})
    assert g._repr_svg_() is None
    page = g._repr_html_()
    assert page.startswith("<pre>") and "Sigmoid" in page and "x" in page
    assert repr(g) == tg.viz.format_graph(loss, params={"x": x})
    assert g.dot().startswith("digraph")


def test_graph_draws_svg_when_graphviz_is_installed(tmp_path, monkeypatch):
    fake = tmp_path / "dot"  # stands in for Graphviz: echoes the DOT source inside an <svg>
    fake.write_text("#!/bin/sh\necho '<?xml version=\"1.0\"?>'\necho '<svg>'\ncat\n"
                    "echo '</svg>'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}{os.environ['PATH']}")
    _, loss = _loss()
    g = tg.viz.graph(loss)
    svg = g._repr_svg_()
    assert svg is not None and "<svg>" in svg and "digraph" in svg
    assert g._repr_html_().startswith("<svg>")  # inline, without the XML prologue


def test_traced_backward_displays_as_a_table():
    x, loss = _loss()
    with tg.trace(collect=True, params={"x": x}) as records:
        loss.backward()
    table = tg.viz.trace_table(records)
    page = table._repr_html_()
    assert page.count("<tr>") == len(records) + 1
    assert "Sigmoid" in page and "leaf" in page
    assert repr(table).splitlines() == [str(r) for r in records]
