"""The backprop guide runs, its numbers are right, and its links point at the code.

``docs/backprop_guide.md`` is executed as a doctest (every printed number is the engine's
output). Those numbers are then checked against Nielsen's formulas written here in plain
numpy, independently of the engine, so a bug in the engine cannot hide behind a doctest
that merely records it.
"""

from __future__ import annotations

import doctest
import json
import re
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "docs" / "backprop_guide.md"
FLAGS = doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS
LINK = r"\[([^\]]+)\]\((\.\./[^)#]+)(?:#L(\d+))?\)"  # [text](../path#L12)


def _run_doctests(test: doctest.DocTest) -> tuple[int, int, str]:
    out: list[str] = []
    runner = doctest.DocTestRunner(optionflags=FLAGS)
    runner.run(test, out=out.append)
    result = runner.summarize(verbose=False)
    return result.failed, result.attempted, "".join(out)


def test_guide_runs_as_a_doctest():
    result = doctest.testfile(str(GUIDE), module_relative=False, optionflags=FLAGS,
                              verbose=False, report=False)
    if result.failed:  # run again, collecting the report for the assertion message
        text = GUIDE.read_text(encoding="utf-8")
        test = doctest.DocTestParser().get_doctest(text, {}, GUIDE.name, str(GUIDE), 0)
        _, _, report = _run_doctests(test)
        pytest.fail(f"{result.failed} example(s) of {GUIDE.name} failed:\n{report}")
    assert result.attempted >= 30


def test_gradcheck_page_runs_as_a_doctest():
    """docs/gradcheck.md: every report it shows is the one gradcheck prints."""
    page = ROOT / "docs" / "gradcheck.md"
    text = page.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {}, page.name, str(page), 0)
    failed, attempted, report = _run_doctests(test)
    assert failed == 0, f"{failed} example(s) of {page.name} failed:\n{report}"
    assert attempted >= 15


def test_convolution_page_runs_as_a_doctest():
    """docs/convolution.md: the backward of a convolution, every number printed by the code."""
    page = ROOT / "docs" / "convolution.md"
    test = doctest.DocTestParser().get_doctest(page.read_text(encoding="utf-8"), {}, page.name,
                                               str(page), 0)
    failed, attempted, report = _run_doctests(test)
    assert failed == 0, f"{failed} example(s) of {page.name} failed:\n{report}"
    assert attempted >= 15


def test_forward_and_reverse_page_runs_as_a_doctest():
    """docs/forward_and_reverse.md: pass counts and agreements printed by the code itself."""
    page = ROOT / "docs" / "forward_and_reverse.md"
    text = page.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {}, page.name, str(page), 0)
    failed, attempted, report = _run_doctests(test)
    assert failed == 0, f"{failed} example(s) of {page.name} failed:\n{report}"
    assert attempted >= 25
    assert "((10, 784), 784, 0)" in text and "((10, 784), 1, 10)" in text


def test_coming_from_pytorch_page_runs_and_its_names_exist():
    """docs/coming_from_pytorch.md: the port runs; every name its table gives exists."""
    import tinygrad_mlp as tg
    import tinygrad_mlp.nn.functional as F
    from tinygrad_mlp import func, nn, optim

    page = ROOT / "docs" / "coming_from_pytorch.md"
    text = page.read_text(encoding="utf-8")
    test = doctest.DocTestParser().get_doctest(text, {}, page.name, str(page), 0)
    failed, attempted, report = _run_doctests(test)
    assert failed == 0, f"{failed} example(s) of {page.name} failed:\n{report}"
    assert attempted >= 20
    spaces = {"tg": tg, "nn": nn, "F": F, "optim": optim, "tinygrad_mlp.func": func,
              "x": tg.Tensor}
    rows = [row.split("|") for row in text.splitlines() if row.startswith("| `")]
    # our column, and torch's column where ours says "the same" (nn.X and F.x read alike)
    cells = [r[2] for r in rows] + [r[1] for r in rows if "the same" in r[2]]
    names = re.findall(r"`(tg|nn|F|optim|tinygrad_mlp\.func|x)\.([\w.]+)", "".join(cells))
    assert len(names) > 80
    for space, dotted in names:
        obj = spaces[space]
        for part in dotted.split("."):
            assert hasattr(obj, part), f"the table names {space}.{dotted}, which does not exist"
            obj = getattr(obj, part)


def test_coming_from_pytorch_torch_script_runs_under_torch(capsys):
    """The PyTorch original on the page is real: it runs under torch as printed."""
    pytest.importorskip("torch")
    pytest.importorskip("safetensors")
    text = (ROOT / "docs" / "coming_from_pytorch.md").read_text(encoding="utf-8")
    (script,) = [b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "import torch" in b
                 and ">>>" not in b]
    exec(compile(script, "coming_from_pytorch.md (torch)", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"epoch {e}" for e in range(4)]
    assert float(lines[-1].split()[-1]) >= 0.95


@pytest.mark.parametrize("module", ["tinygrad_mlp.viz", "tinygrad_mlp.plots"])
def test_docstring_examples_run(module):
    import importlib

    mod = importlib.import_module(module)
    finder = doctest.DocTestFinder()
    failed = attempted = 0
    reports = []
    for test in finder.find(mod):
        f, a, report = _run_doctests(test)
        failed, attempted = failed + f, attempted + a
        reports.append(report)
    assert failed == 0, "".join(reports)
    assert attempted > 0


# ----- the numbers, from Nielsen's formulas in plain numpy -----------------------------------


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _expected_numbers() -> dict[str, object]:
    """Every labelled number the guide prints, computed without the engine."""
    x = np.array([1.0, 0.5])
    y = np.array([1.0, 0.0])
    w1 = np.array([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]])
    b1 = np.array([0.1, -0.1, 0.0])
    w2 = np.array([[0.7, -0.8, 0.9], [-0.2, 0.4, 0.1]])
    b2 = np.array([0.0, 0.2])
    eta = 3.0

    def forward(w1, b1, w2, b2):
        z1 = w1 @ x + b1
        a1 = _sigmoid(z1)
        z2 = w2 @ a1 + b2
        return z1, a1, z2, _sigmoid(z2)

    def gradients(w1, b1, w2, b2):
        """Backpropagation by Nielsen's BP1-BP4, one example (N = 1)."""
        z1, a1, z2, a2 = forward(w1, b1, w2, b2)
        delta2 = (a2 - y) * _sigmoid(z2) * (1 - _sigmoid(z2))  # BP1
        delta1 = (w2.T @ delta2) * _sigmoid(z1) * (1 - _sigmoid(z1))  # BP2
        return np.outer(delta1, x), delta1, np.outer(delta2, a1), delta2  # BP4, BP3

    def cost(a2):
        return 0.5 * np.sum((a2 - y) ** 2)  # (1/2N) Σ ||a - y||², N = 1

    z1, a1, z2, a2 = forward(w1, b1, w2, b2)
    dw1, db1, dw2, db2 = gradients(w1, b1, w2, b2)
    e = np.exp(z2 - z2.max())
    p = e / e.sum()
    new = [w - eta * g for w, g in zip((w1, b1, w2, b2), (dw1, db1, dw2, db2), strict=True)]
    numbers: dict[str, object] = {
        "z1": z1, "a1": a1, "z2": z2, "a2": a2, "C": cost(a2),
        # the gradient arriving at every node of C = 0.5 * sum((a2 - y) * (a2 - y))
        "dC/dC": 1.0, "dC/dt0": 0.5, "dC/dt1": [0.5, 0.5], "dC/dt2": a2 - y,
        "dC/da2": a2 - y, "dC/dz2": db2, "dC/da1": w2.T @ db2, "dC/dz1": db1,
        "dC/dW1": dw1, "dC/db1": db1, "dC/dW2": dw2, "dC/db2": db2,
        "delta2": db2, "delta1": db1,
        # softmax cross-entropy from the logits z2, target class 0
        "CE": -np.log(p[0]), "dCE/dz2": p - y, "dCE/dW2": np.outer(p - y, a1),
        # one SGD step
        "W2": new[2], "b2": new[3], "C after one step": cost(forward(*new)[3]),
    }
    params = [w1, b1, w2, b2]
    for step in range(1, 6):  # the five-step loop: cost before each update
        numbers[str(step)] = cost(forward(*params)[3])
        params = [w - eta * g for w, g in zip(params, gradients(*params), strict=True)]
    return numbers


def _printed_numbers() -> dict[str, object]:
    """``label value`` lines printed by the guide's examples (value: number or list)."""
    text = GUIDE.read_text(encoding="utf-8")
    printed: dict[str, object] = {}
    for example in doctest.DocTestParser().get_examples(text):
        for line in example.want.splitlines():
            m = re.fullmatch(r"(\S.*?) (\[.*\]|-?\d+(?:\.\d+)?)", line)
            if m:
                printed[m[1]] = json.loads(m[2])
    return printed


def test_guide_numbers_match_nielsens_formulas():
    printed = _printed_numbers()
    expected = _expected_numbers()
    missing = sorted(set(expected) - set(printed))
    assert not missing, f"the guide no longer prints {missing}"
    for label, value in expected.items():
        np.testing.assert_allclose(
            np.asarray(printed[label], dtype=float), np.asarray(value, dtype=float),
            atol=6e-5, rtol=0, err_msg=f"guide prints a wrong value for {label}",
        )


def test_guide_prose_arithmetic():
    """Numbers worked out in the text, recomputed."""
    text = GUIDE.read_text(encoding="utf-8")
    z2 = np.array([0.6231, 0.3541])
    p = np.exp(z2) / np.exp(z2).sum()
    exp = _expected_numbers()
    claims = [
        f"0.1·1 + 0.2·0.5 + 0.1 = {0.1 * 1 + 0.2 * 0.5 + 0.1:.1f}, and σ(0.3) = "
        f"{_sigmoid(0.3):.4f}",
        f"softmax(0.6231, 0.3541) = ({p[0]:.4f}, {p[1]:.4f})",
        f"its gradient {exp['dC/dW2'][0, 0]:.4g}".replace("-", "−"),
        f"0.7 − 3.0 · (−0.04556) = {0.7 - 3.0 * -0.04556:.4f}",
        f"from {exp['C']:.4f} to {exp['C after one step']:.4f}",
        "C = ½ ((0.6509 − 1)² + 0.5876²)",
        "σ′(z²) = a²(1 − a²) = ({:.4f}, {:.4f})".format(*(_sigmoid(z2) * (1 - _sigmoid(z2)))),
    ]
    for claim in claims:
        assert claim in text, claim
    assert 0.5 * ((0.6509 - 1) ** 2 + 0.5876**2) == pytest.approx(exp["C"], abs=1e-4)


# ----- the links point at the code they name ---------------------------------------------------


def _definition_line(lines: list[str], symbol: str) -> int | None:
    """1-based line where ``symbol`` (``Class``, ``func``, ``NAME`` or ``Class.method``) is
    defined, or None."""
    parts = symbol.split(".")
    start = 0
    for k, part in enumerate(parts):
        pattern = (
            rf"^(class|def)\s+{re.escape(part)}\b|^{re.escape(part)}\s*[:=]"
            if k == 0 else rf"^\s+def\s+{re.escape(part)}\b"
        )
        for i in range(start, len(lines)):
            if re.match(pattern, lines[i]):
                start = i
                break
        else:
            return None
    return start + 1


def _links() -> list[tuple[str, str, int | None]]:
    """(link text, target path, line anchor) of every relative link in the guide."""
    text = GUIDE.read_text(encoding="utf-8")
    out = []
    for m in re.finditer(LINK, text):
        out.append((m[1], m[2], int(m[3]) if m[3] else None))
    return out


def test_guide_links_point_at_the_named_definitions():
    links = _links()
    assert len(links) >= 20
    for label, target, line in links:
        path = (GUIDE.parent / target).resolve()
        assert path.is_file(), f"{label}: {target} does not exist"
        if line is None:
            continue
        symbol = label.strip("`").removeprefix("tg.")
        source = path.read_text(encoding="utf-8").splitlines()
        actual = _definition_line(source, symbol)
        assert actual is not None, f"{symbol} is not defined in {target}"
        assert actual == line, (
            f"docs/backprop_guide.md links {symbol} to {target}#L{line}, but it is now "
            f"defined at line {actual}: run `python tests/test_docs.py --fix-links`"
        )


def test_guide_tells_the_seeds_story():
    text = GUIDE.read_text(encoding="utf-8")
    for phrase in ("784 input neurons", "sigmoid", "10 output neurons", "(1/2N) Σₙ ‖aₙ − yₙ‖²",
                   "cross-entropy", "BP1", "BP2", "BP3", "BP4", "detect_anomaly"):
        assert phrase in text, phrase
    steps = ["opt.zero_grad()", "out = model(x)", "loss = F.quadratic_loss(out, y)",
             "loss.backward()", "opt.step()"]
    positions = [text.index(s, text.index("## 9.")) for s in steps]
    assert positions == sorted(positions)
    # every code block is preceded by prose saying why
    assert text.count("*Why") >= 8


def fix_links() -> list[str]:
    """Rewrite the guide's ``#L`` anchors to where each linked symbol is defined now."""
    changes: list[str] = []

    def fix(m: re.Match) -> str:
        label, target, line = m[1], m[2], m[3]
        if line is None:
            return m[0]
        symbol = label.strip("`").removeprefix("tg.")
        source = (GUIDE.parent / target).resolve().read_text(encoding="utf-8").splitlines()
        actual = _definition_line(source, symbol)
        if actual is None:
            raise SystemExit(f"{symbol} is no longer defined in {target}: fix the guide by hand")
        if actual != int(line):
            changes.append(f"{symbol}: {target}#L{line} -> #L{actual}")
        return f"[{label}]({target}#L{actual})"

    text = GUIDE.read_text(encoding="utf-8")
    GUIDE.write_text(re.sub(LINK, fix, text), encoding="utf-8")
    return changes


if __name__ == "__main__":
    import sys

    if sys.argv[1:] != ["--fix-links"]:
        raise SystemExit("usage: python tests/test_docs.py --fix-links")
    print("\n".join(fix_links()) or "all links are up to date")
