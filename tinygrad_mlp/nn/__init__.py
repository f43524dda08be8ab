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

from tinygrad_mlp.nn import functional, init, utils
from tinygrad_mlp.nn.conv import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Conv2d,
    LayerNorm,
    MaxPool2d,
    Unflatten,
)
from tinygrad_mlp.nn.layers import (
    CELU,
    ELU,
    GELU,
    SELU,
    BCELoss,
    BCEWithLogitsLoss,
    CosineSimilarity,
    CrossEntropyLoss,
    Dropout,
    Flatten,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    HuberLoss,
    Identity,
    KLDivLoss,
    L1Loss,
    LeakyReLU,
    Linear,
    LogSigmoid,
    LogSoftmax,
    Mish,
    MSELoss,
    NLLLoss,
    QuadraticLoss,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    SmoothL1Loss,
    Softmax,
    Softplus,
    Softsign,
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
    "AvgPool2d",
    "BCELoss",
    "BCEWithLogitsLoss",
    "BatchNorm1d",
    "BatchNorm2d",
    "CELU",
    "Conv2d",
    "CosineSimilarity",
    "CrossEntropyLoss",
    "Dropout",
    "ELU",
    "Flatten",
    "GELU",
    "Hardsigmoid",
    "Hardswish",
    "Hardtanh",
    "HuberLoss",
    "Identity",
    "IncompatibleKeys",
    "KLDivLoss",
    "L1Loss",
    "LayerNorm",
    "LeakyReLU",
    "Linear",
    "LogSigmoid",
    "LogSoftmax",
    "MSELoss",
    "MaxPool2d",
    "Mish",
    "Module",
    "ModuleList",
    "NLLLoss",
    "Parameter",
    "QuadraticLoss",
    "ReLU",
    "ReLU6",
    "SELU",
    "Sequential",
    "SiLU",
    "Sigmoid",
    "SmoothL1Loss",
    "Softmax",
    "Softplus",
    "Softsign",
    "StateDictError",
    "Tanh",
    "Unflatten",
    "functional",
    "init",
    "utils",
]
