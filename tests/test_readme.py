"""The README's autograd example runs and prints what its comments say."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_example_runs_and_matches_its_comments(capsys):
    text = README.read_text()
    block = re.search(r"## Ten lines of autograd\s+```python\n(.*?)```", text, re.S).group(1)
    namespace: dict = {}
    exec(compile(block, str(README), "exec"), namespace)
    out = capsys.readouterr().out
    assert out.strip().endswith("True")
    x, W = namespace["x"].data, namespace["W"].data
    s = 1 / (1 + np.exp(-(x @ W.T)))
    expected = (s * (1 - s)).T @ x  # d/dW of sum(sigmoid(x W^T))
    np.testing.assert_allclose(namespace["W"].grad.data, expected)
    np.testing.assert_allclose(expected[0], [0.0746, -0.1491, 0.2983], atol=1e-4)
    assert namespace["W"].grad.dtype == np.float64


def test_readme_command_line_lists_every_command_and_option():
    """The README's usage block is the parser's: no flag missing, none invented."""
    from tinygrad_mlp import cli

    text = README.read_text()
    block = re.search(r"## The command line\s+```\n(.*?)```", text, re.S).group(1)
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name, command in sub.choices.items():
        assert f"tinygrad-mlp {name}" in block, name
        for action in command._actions:
            long = [o for o in action.option_strings if o.startswith("--")]
            if long and long[0] not in ("--help", "--debug") and action.help != "==SUPPRESS==":
                assert long[0] in block, (name, long[0])
    assert "--version" in block and "--debug" in text
    for flag in re.findall(r"\[(--[a-z-]+)", block):
        assert any(flag in c._option_string_actions for c in sub.choices.values()), flag


def test_install_hints_work_from_a_checkout():
    text = README.read_text()
    assert "pip install 'tinygrad_mlp[" not in text and 'pip install "tinygrad_mlp[' not in text
    assert 'pip install -e ".[dev]" && pytest' in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert 'pip install -e ".[dev]" && pytest' in ci  # CI runs the README's exact commands


def test_package_ships_its_licence_type_hints_and_changelog():
    import tomllib

    root = README.parent
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert "MIT License" in (root / project["project"]["license-files"][0]).read_text()
    assert "py.typed" in project["tool"]["setuptools"]["package-data"]["tinygrad_mlp"]
    assert (root / "tinygrad_mlp" / "py.typed").is_file()
    assert (root / "CHANGELOG.md").read_text().startswith("# Changelog")
    dev = " ".join(project["project"]["optional-dependencies"]["dev"])
    for needed in ("torch==2.13.0", "playwright", "pytest", "hypothesis"):
        assert needed in dev  # torch pinned exactly: pip then takes the local CPU wheel
