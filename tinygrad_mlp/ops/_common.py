"""Helpers that op rules share: each works on numpy arrays and on Tensors alike."""

from __future__ import annotations

from typing import Any

import numpy as np

from tinygrad_mlp.tensor import Tensor


def _arr(x: Any) -> np.ndarray:
    """``x`` as an ndarray (ufuncs return numpy scalars for 0-d inputs)."""
    return x if type(x) is np.ndarray else np.asarray(x)

def _exp(x: Any) -> Any:
    return x.exp() if isinstance(x, Tensor) else np.exp(x)

def _log(x: Any) -> Any:
    return x.log() if isinstance(x, Tensor) else np.log(x)

def _values(x: Any) -> Any:
    return x.data if isinstance(x, Tensor) else x

def _tsum(*terms: Any) -> Any:
    """Sum of the tangent terms that are not None (None: a zero tangent), for jvp rules."""
    live = [t for t in terms if t is not None]
    if not live:
        return None
    total = live[0]
    for t in live[1:]:
        total = total + t
    return total
