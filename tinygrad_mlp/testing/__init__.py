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
    fn: Callable[..., Any], *arrays: Any, second_order: bool = False, **options: Any
) -> None:
    """Assert that ``fn``'s gradients (and second derivatives if asked) match finite
    differences at ``arrays``; raises ``AssertionError`` carrying the gradcheck report
    (which Jacobian entry is wrong, both values; see docs/gradcheck.md).

    Every array (or Tensor) becomes a float64 Tensor that requires grad, in its own memory
    layout. ``options`` go to ``gradcheck`` (``eps``, ``atol``, ``rtol``, ``fast_mode``,
    ``nondet_tol``, ...). Use inside your own hypothesis tests with
    ``tinygrad_mlp.testing.strategies``.
    """
    inputs = [Tensor(np.asarray(a.data if isinstance(a, Tensor) else a, dtype=np.float64),
                     requires_grad=True) for a in arrays]
    try:
        gradcheck(fn, inputs, **options)
        if second_order:
            gradgradcheck(fn, inputs, **options)
    except GradcheckError as e:
        raise AssertionError(str(e)) from None


__all__ = ["check_gradients"]
