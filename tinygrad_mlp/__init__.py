"""tinygrad_mlp: a small, fast, honest automatic-differentiation engine on numpy.

>>> import tinygrad_mlp as tg
>>> x = tg.Tensor([[1.0, -2.0]], requires_grad=True)
>>> y = tg.sigmoid(x).sum()
>>> y.backward()
>>> x.grad.shape
(1, 2)
"""

from tinygrad_mlp.tensor import Tensor, detect_anomaly, enable_grad, grad, is_grad_enabled, no_grad  # noqa: I001  (first: ops need Tensor)
from tinygrad_mlp.function import Context, Function
from tinygrad_mlp.gradcheck import GradcheckError, gradcheck, gradgradcheck
from tinygrad_mlp.jit import JitError, jit
from tinygrad_mlp.ops import (
    abs,
    add,
    argmax,
    argmin,
    broadcast_to,
    cat,
    clip,
    concatenate,
    div,
    exp,
    flatten,
    linear,
    log,
    log_softmax,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    pow,
    relu,
    reshape,
    sigmoid,
    softmax,
    sqrt,
    stack,
    sub,
    sum,
    tanh,
    tensor,
    transpose,
    where,
)
from tinygrad_mlp import nn, optim, viz
from tinygrad_mlp.nn.init import manual_seed
from tinygrad_mlp.serialization import load, save
from tinygrad_mlp.viz import trace

__version__ = "0.1.0"

__all__ = [
    "Context",
    "Function",
    "GradcheckError",
    "JitError",
    "Tensor",
    "abs",
    "add",
    "argmax",
    "argmin",
    "broadcast_to",
    "cat",
    "clip",
    "concatenate",
    "detect_anomaly",
    "div",
    "enable_grad",
    "exp",
    "flatten",
    "grad",
    "jit",
    "gradcheck",
    "gradgradcheck",
    "is_grad_enabled",
    "linear",
    "load",
    "log",
    "log_softmax",
    "manual_seed",
    "matmul",
    "max",
    "maximum",
    "mean",
    "min",
    "minimum",
    "mul",
    "neg",
    "nn",
    "no_grad",
    "optim",
    "pow",
    "relu",
    "reshape",
    "save",
    "sigmoid",
    "softmax",
    "sqrt",
    "stack",
    "sub",
    "sum",
    "tanh",
    "tensor",
    "trace",
    "transpose",
    "viz",
    "where",
]
