"""Tools for checking your own operations: hypothesis strategies and ``check_gradients``.

>>> import numpy as np
>>> from tinygrad_mlp.testing import check_gradients
>>> check_gradients(lambda x: (x * x).sum(), np.array([1.0, 2.0]))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tinygrad_mlp.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_mlp.tensor import Tensor


def check_gradients(
    fn: Callable[..., Any], *arrays: Any, second_order: bool = False, **tolerances: Any
) -> None:
    """Assert that ``fn``'s gradients (and second derivatives if asked) match finite
    differences at ``arrays``; raises ``AssertionError`` carrying the gradcheck report.

    Every array (or Tensor) becomes a float64 Tensor that requires grad. Use inside your
    own hypothesis tests with ``tinygrad_mlp.testing.strategies``.
    """
    inputs = [Tensor(np.asarray(a.data if isinstance(a, Tensor) else a, dtype=np.float64),
                     requires_grad=True) for a in arrays]
    try:
        gradcheck(fn, inputs, **tolerances)
        if second_order:
            gradgradcheck(fn, inputs, **tolerances)
    except GradcheckError as e:
        raise AssertionError(str(e)) from None


__all__ = ["check_gradients"]
