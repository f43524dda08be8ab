"""Neural-network building blocks with PyTorch's names: Module, layers, losses, init.

>>> import numpy as np, tinygrad_mlp as tg
>>> from tinygrad_mlp import nn
>>> _ = tg.manual_seed(0)
>>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
>>> loss = nn.CrossEntropyLoss()(net(np.ones((2, 2, 2), np.float32)), np.array([0, 2]))
>>> loss.backward()
>>> [p.grad.shape for p in net.parameters()]
[(8, 4), (8,), (3, 8), (3,)]
"""

from __future__ import annotations

from tinygrad_mlp.nn import functional, init
from tinygrad_mlp.nn.layers import (
    BCELoss,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Identity,
    Linear,
    LogSoftmax,
    MSELoss,
    NLLLoss,
    QuadraticLoss,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from tinygrad_mlp.nn.module import (
    IncompatibleKeys,
    Module,
    ModuleList,
    Parameter,
    Sequential,
    StateDictError,
)

__all__ = [
    "BCELoss",
    "CrossEntropyLoss",
    "Dropout",
    "Flatten",
    "Identity",
    "IncompatibleKeys",
    "Linear",
    "LogSoftmax",
    "MSELoss",
    "Module",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "QuadraticLoss",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Softmax",
    "StateDictError",
    "Tanh",
    "functional",
    "init",
]
