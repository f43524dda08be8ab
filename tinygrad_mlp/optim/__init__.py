"""Optimizers and learning-rate schedules with PyTorch's names and update formulas.

    optimizers.py     Optimizer (groups, state, state_dict), SGD, Adam, AdamW, RMSprop,
                      Adagrad: in-place updates, each formula in its class docstring
    lr_scheduler.py   StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LambdaLR,
                      LinearLR, ConstantLR, SequentialLR, OneCycleLR, ReduceLROnPlateau
                      (``optim.lr_scheduler.X``, as torch)

The schedules are also importable from here (``optim.StepLR``).

>>> import numpy as np, tinygrad_mlp as tg
>>> from tinygrad_mlp import nn, optim
>>> w = nn.Parameter(np.array([1.0, -2.0], dtype=np.float32))
>>> opt = optim.SGD([w], lr=0.1)
>>> (w * w).sum().backward()
>>> opt.step()
>>> w.data
array([ 0.8, -1.6], dtype=float32)
"""

from __future__ import annotations

from tinygrad_mlp.optim import lr_scheduler
from tinygrad_mlp.optim.lr_scheduler import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)
from tinygrad_mlp.optim.optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop

__all__ = [
    "SGD",
    "Adagrad",
    "Adam",
    "AdamW",
    "ConstantLR",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LambdaLR",
    "LinearLR",
    "MultiStepLR",
    "OneCycleLR",
    "Optimizer",
    "RMSprop",
    "ReduceLROnPlateau",
    "SequentialLR",
    "StepLR",
    "lr_scheduler",
]
