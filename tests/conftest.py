"""Shared test configuration: hypothesis profiles, chosen with ``HYPOTHESIS_PROFILE``.

    pytest                              # "default": quick, ~20 examples per property
    HYPOTHESIS_PROFILE=ci pytest        # "ci": >= 100 examples, failing blob printed
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("default", max_examples=20, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# ----- a tiny MNIST-format data set (real IDX files) that a small MLP learns in seconds ----


def _write_idx(path: Path, arr: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 8, arr.ndim) + struct.pack(f">{arr.ndim}I", *arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.astype(np.uint8).tobytes())


def synthetic_digits(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Images where digit d is a bright bar at row 2 + 2d: trivially learnable."""
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 40, (n, 28, 28))
    for i, d in enumerate(y):
        x[i, 2 + 2 * d : 4 + 2 * d, 4:24] = 255
    return x.astype(np.uint8), y.astype(np.uint8)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    """A tiny MNIST-format data set (real IDX files) that a small MLP learns in seconds."""
    root = tmp_path_factory.mktemp("mnist")
    rng = np.random.default_rng(0)
    x, y = synthetic_digits(600, rng)
    xt, yt = synthetic_digits(200, rng)
    _write_idx(root / "train-images-idx3-ubyte.gz", x)
    _write_idx(root / "train-labels-idx1-ubyte.gz", y)
    _write_idx(root / "t10k-images-idx3-ubyte.gz", xt)
    _write_idx(root / "t10k-labels-idx1-ubyte.gz", yt)
    return root
