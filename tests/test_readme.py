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
