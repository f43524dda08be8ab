"""Optimizers with PyTorch's update formulas: SGD, Adam, AdamW, RMSprop, Adagrad.

An optimizer holds ``param_groups`` (lists of parameters with their hyperparameters,
e.g. ``lr``, which a schedule may change between steps) and a per-parameter ``state``
(momentum buffers, moments, step counts). ``step()`` reads each ``p.grad`` and updates
``p.data`` **in place** (the array keeps its identity, so anything holding ``p`` or
``p.data`` sees the new values), with numpy ``out=`` arguments and one scratch buffer per
parameter, so a step allocates nothing: this is the training loop's hot path. Each update
ends with ``p._bump_version()``, so a value saved for backward that a step changed is
reported by the next backward instead of giving a silently wrong gradient. Gradients are
only read, never modified (another reference to them may exist). Every optimizer takes
``maximize=True`` (ascend instead of descend), as torch's.

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

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from tinygrad_mlp.tensor import Tensor, enable_grad

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop"]


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, (de)serialisation.

    Subclasses implement ``_update_group(group)``.

    Parameters
    ----------
    params : iterable of Tensors, or of dicts
        Parameters to optimise, or groups ``{"params": [...], "lr": ...}`` whose options
        override ``defaults``.
    defaults : dict
        Hyperparameters of every group that does not set its own.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        if isinstance(params, (Tensor, dict)):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors "
                f"or dicts, but got {type(params).__name__}"
            )
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        self._scratch: dict[Tensor, list[np.ndarray]] = {}
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, g in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {v}" for k, v in sorted(g.items()) if k != "params"]
        return "\n".join(lines) + "\n)"

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with optional per-group hyperparameters)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param group must be a dict, got {type(param_group).__name__}")
        params = param_group.get("params")
        if isinstance(params, Tensor):
            params = [params]
        elif params is None or isinstance(params, (set, dict)):
            raise TypeError("param group needs 'params': a list of Tensors (sets are unordered)")
        params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, got {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (use .detach() or a Parameter)")
            if p.dtype.kind not in "fc":
                raise TypeError(f"optimizer can only optimize floating tensors, got {p.dtype}")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        ids = [id(p) for p in params]
        if len(set(ids)) != len(ids) or seen & set(ids):
            raise ValueError("some parameters appear more than once in the optimizer's groups")
        group = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}}
        self._check_hyperparameters(group)
        group["params"] = params
        self.param_groups.append(group)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        """Raise ValueError for invalid options (subclasses extend)."""
        if not group.get("lr", 0.0) >= 0.0:
            raise ValueError(f"invalid learning rate: {group.get('lr')}")
        if not group.get("weight_decay", 0.0) >= 0.0:
            raise ValueError(f"invalid weight_decay value: {group.get('weight_decay')}")

    @property
    def lr(self) -> float:
        """Learning rate of the first group; setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value: float) -> None:
        for g in self.param_groups:
            g["lr"] = value

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget every parameter's gradient (None; fresh zeros with ``set_to_none=False``)."""
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is not None:
                    p.grad = None if set_to_none else Tensor._make(np.zeros_like(p.data), None)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient; returns ``closure()`` if given."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update_group(group)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        raise NotImplementedError

    # ----- helpers for the update rules ---------------------------------------------------
    @staticmethod
    def _grad(p: Tensor, maximize: bool = False) -> np.ndarray | None:
        """The gradient values of ``p`` (read only; negated, as a copy, to maximize), or None."""
        g = p.grad
        if g is None:
            return None
        arr = g.data
        d = p.data
        if arr.shape != d.shape:
            raise ValueError(
                f"gradient of shape {arr.shape} does not match its parameter's shape {d.shape}"
            )
        arr = arr if arr.dtype == d.dtype else arr.astype(d.dtype)
        return -arr if maximize else arr

    def _tmp(self, p: Tensor, k: int = 0) -> np.ndarray:
        """Scratch buffer ``k`` of ``p``'s shape and dtype (allocated once, reused)."""
        bufs = self._scratch.get(p)
        d = p.data
        if bufs is not None and len(bufs) > k:
            buf = bufs[k]
            if buf.shape == d.shape and buf.dtype == d.dtype:
                return buf
        if bufs is None:
            bufs = self._scratch[p] = []
        while len(bufs) <= k:
            bufs.append(np.empty_like(d))
        bufs[k] = np.empty_like(d)
        return bufs[k]

    def _with_weight_decay(self, p: Tensor, grad: np.ndarray, wd: float) -> np.ndarray:
        """grad + wd·p (L2 weight decay) in scratch buffer 1; ``grad`` itself when wd = 0."""
        if wd == 0:
            return grad
        g = self._tmp(p, 1)
        np.multiply(p.data, wd, out=g)
        g += grad
        return g

    # ----- state_dict ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {...}}, "param_groups": [{hyperparameters, "params": [...]}]}``.

        Parameters are numbered in group order; buffers are copies. The result contains
        only arrays, numbers, tuples and lists, so ``tg.save`` can store it.

        >>> import numpy as np
        >>> from tinygrad_mlp import nn, optim
        >>> opt = optim.Adam([nn.Parameter(np.zeros(2, np.float32))])
        >>> opt.state_dict()["param_groups"][0]["params"]
        [0]
        """
        index: dict[int, int] = {}
        groups = []
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            packed["params"] = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state: dict[int, dict[str, Any]] = {}
        for p, s in self.state.items():
            if id(p) in index:
                state[index[id(p)]] = {
                    k: (np.array(v, copy=True) if isinstance(v, np.ndarray) else v)
                    for k, v in s.items()
                }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore buffers, step counts and hyperparameters saved by ``state_dict``.

        The optimizer must have the same groups with the same numbers of parameters;
        buffers must have their parameters' shapes. Nothing changes if a check fails.
        """
        try:
            saved_groups = list(state_dict["param_groups"])
            saved_state = dict(state_dict["state"])
        except (KeyError, TypeError):
            raise ValueError(
                "optimizer state_dict must be a dict with 'state' and 'param_groups'"
            ) from None
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter group(s), "
                f"this optimizer has {len(self.param_groups)}"
            )
        params: dict[int, Tensor] = {}
        for i, (mine, saved) in enumerate(zip(self.param_groups, saved_groups, strict=True)):
            ids = list(saved.get("params", []))
            if len(ids) != len(mine["params"]):
                raise ValueError(
                    f"parameter group {i}: loaded state dict has {len(ids)} parameter(s), "
                    f"this optimizer has {len(mine['params'])}"
                )
            params.update({int(k): p for k, p in zip(ids, mine["params"], strict=True)})
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, entry in saved_state.items():
            if int(key) not in params:
                raise ValueError(f"state for parameter {key} does not belong to any group")
            p = params[int(key)]
            restored: dict[str, Any] = {}
            for name, value in dict(entry).items():
                if isinstance(value, (np.ndarray, Tensor)):
                    arr = np.asarray(value.data if isinstance(value, Tensor) else value)
                    if arr.shape != p.data.shape:
                        raise ValueError(
                            f"state {name!r} of parameter {key} has shape {arr.shape}, "
                            f"the parameter has shape {p.data.shape}"
                        )
                    restored[name] = arr.astype(p.data.dtype, copy=True)
                elif name == "step":
                    restored[name] = int(value)
                else:
                    restored[name] = value
            new_state[p] = restored
        for mine, saved in zip(self.param_groups, saved_groups, strict=True):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = tuple(v) if isinstance(v, list) else v
        self.state = new_state


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov, weight decay.

    PyTorch's rule, with g = grad + weight_decay·p::

        b ← g on the first step, else momentum·b + (1 − dampening)·g
        g ← g + momentum·b if nesterov else b          (when momentum ≠ 0)
        p ← p − lr·g

    Parameters
    ----------
    params : iterable of Tensors or dicts
    lr : float
    momentum, weight_decay, dampening : float, default 0
    nesterov : bool, default False

    >>> import numpy as np
    >>> from tinygrad_mlp import nn, optim
    >>> p = nn.Parameter(np.ones(2, np.float32))
    >>> opt = optim.SGD([p], lr=0.1, momentum=0.9)
    >>> opt.param_groups[0]["lr"]
    0.1
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        dampening: float = 0.0,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        super()._check_hyperparameters(group)
        if not group["momentum"] >= 0.0:
            raise ValueError(f"invalid momentum value: {group['momentum']}")
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        dampening, nesterov = group["dampening"], group["nesterov"]
        if momentum == 0 and wd == 0 and not group.get("maximize"):  # plain p -= lr·g: lean
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                grad, d = g.data, p.data
                if grad.shape != d.shape or (grad.dtype is not d.dtype and grad.dtype != d.dtype):
                    grad = self._grad(p)  # a clear error, or a cast
                d -= lr * grad  # in place; lr·g is the one temporary
                p._bump_version()
            return
        for p in group["params"]:
            grad = self._grad(p, group.get("maximize", False))
            if grad is None:
                continue
            d = p.data
            tmp = self._tmp(p)
            g = grad
            if wd != 0:
                np.multiply(d, wd, out=tmp)
                tmp += grad
                g = tmp
            if momentum != 0:
                state = self.state.get(p)
                if state is None:
                    state = self.state[p] = {}
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = state["momentum_buffer"] = np.array(g, copy=True)
                else:
                    buf *= momentum
                    if dampening == 0:
                        buf += g
                    else:
                        np.multiply(g, 1 - dampening, out=tmp)
                        buf += tmp
                if nesterov:
                    if g is tmp:
                        extra = self._tmp(p, 1)
                        np.multiply(buf, momentum, out=extra)
                        tmp += extra
                    else:
                        np.multiply(buf, momentum, out=tmp)
                        tmp += g
                    g = tmp
                else:
                    g = buf
            np.multiply(g, lr, out=tmp)
            d -= tmp
            p._bump_version()


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's formulation, with optional weight decay / AMSGrad.

    With g = grad + weight_decay·p (L2 decay; with ``decoupled_weight_decay`` instead
    p ← p·(1 − lr·weight_decay) before the update, as AdamW) and t the step count::

        m ← m + (1 − β₁)(g − m)          v ← β₂·v + (1 − β₂)·g²
        p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps)

    (with ``amsgrad``, √v uses the running maximum of v).

    Parameters
    ----------
    params : iterable of Tensors or dicts
    lr : float, default 1e-3
    betas : (float, float), default (0.9, 0.999)
    eps : float, default 1e-8
    weight_decay : float, default 0
    amsgrad : bool, default False
    decoupled_weight_decay : bool, default False
        Decay the weights directly instead of adding to the gradient (AdamW).

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn, optim
    >>> p = nn.Parameter(np.ones(2))
    >>> p.grad = tg.Tensor(np.ones(2))
    >>> optim.Adam([p], lr=0.1).step()  # the first step moves each weight by ~lr
    >>> p.data.round(6)
    array([0.9, 0.9])
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        *,
        decoupled_weight_decay: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        super()._check_hyperparameters(group)
        betas = group["betas"] = tuple(group["betas"])
        if len(betas) != 2 or not all(0.0 <= b < 1.0 for b in betas):
            raise ValueError(f"invalid betas {betas}: each must be in [0, 1)")
        if not group["eps"] >= 0.0:
            raise ValueError(f"invalid epsilon value: {group['eps']}")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, wd, amsgrad = group["lr"], group["eps"], group["weight_decay"], group["amsgrad"]
        decoupled = group.get("decoupled_weight_decay", False)
        beta1, beta2 = group["betas"]
        for p in group["params"]:
            grad = self._grad(p, group.get("maximize", False))
            if grad is None:
                continue
            d = p.data
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {
                    "step": 0,
                    "exp_avg": np.zeros_like(d),
                    "exp_avg_sq": np.zeros_like(d),
                }
            if amsgrad and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = np.zeros_like(d)
            state["step"] += 1
            step = state["step"]
            m, v = state["exp_avg"], state["exp_avg_sq"]
            tmp = self._tmp(p)
            if decoupled and wd != 0:
                d *= 1 - lr * wd
                g = grad
            else:
                g = self._with_weight_decay(p, grad, wd)
            np.subtract(g, m, out=tmp)  # m.lerp_(g, 1 - beta1)
            tmp *= 1 - beta1
            m += tmp
            v *= beta2  # v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            np.multiply(g, 1 - beta2, out=tmp)
            tmp *= g
            v += tmp
            step_size = lr / (1 - beta1**step)
            bias_correction2_sqrt = math.sqrt(1 - beta2**step)
            if amsgrad:
                np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                np.sqrt(state["max_exp_avg_sq"], out=tmp)
            else:
                np.sqrt(v, out=tmp)
            tmp /= bias_correction2_sqrt
            tmp += eps
            np.divide(m, tmp, out=tmp)
            tmp *= step_size
            d -= tmp
            p._bump_version()


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    ``p ← p·(1 − lr·weight_decay)``, then the Adam update with the plain gradient.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn, optim
    >>> p = nn.Parameter(np.ones(2))
    >>> p.grad = tg.Tensor(np.zeros(2))
    >>> optim.AdamW([p], lr=0.1, weight_decay=0.5).step()  # no gradient: only the decay
    >>> p.data
    array([0.95, 0.95])
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad,
                         decoupled_weight_decay=True, maximize=maximize)


class RMSprop(Optimizer):
    """RMSprop (Hinton), PyTorch's formulation, with optional momentum and centering.

    With g = grad + weight_decay·p::

        v ← α·v + (1 − α)·g²
        m̄ ← α·m̄ + (1 − α)·g,  v̂ = v − m̄²     (centered), else v̂ = v
        b ← momentum·b + g / (√v̂ + eps);  p ← p − lr·b      (momentum > 0)
        p ← p − lr·g / (√v̂ + eps)                           (otherwise)

    Parameters
    ----------
    params : iterable of Tensors or dicts
    lr : float, default 1e-2
    alpha : float, default 0.99
        Smoothing constant of the squared-gradient average.
    eps : float, default 1e-8
    weight_decay, momentum : float, default 0
    centered : bool, default False
        Normalise by an estimate of the gradient's variance instead of its second moment.

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn, optim
    >>> p = nn.Parameter(np.ones(2))
    >>> p.grad = tg.Tensor(np.ones(2))
    >>> optim.RMSprop([p], lr=0.01).step()  # first step: g/√(0.01 g²) = 10
    >>> p.data.round(6)
    array([0.9, 0.9])
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        super()._check_hyperparameters(group)
        if not group["eps"] >= 0.0:
            raise ValueError(f"invalid epsilon value: {group['eps']}")
        if not group["momentum"] >= 0.0:
            raise ValueError(f"invalid momentum value: {group['momentum']}")
        if not group["alpha"] >= 0.0:
            raise ValueError(f"invalid alpha value: {group['alpha']}")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = group["lr"], group["alpha"], group["eps"]
        wd, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
        for p in group["params"]:
            grad = self._grad(p, group.get("maximize", False))
            if grad is None:
                continue
            d = p.data
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {"step": 0, "square_avg": np.zeros_like(d)}
                if momentum > 0:
                    state["momentum_buffer"] = np.zeros_like(d)
                if centered:
                    state["grad_avg"] = np.zeros_like(d)
            state["step"] += 1
            tmp = self._tmp(p)
            g = self._with_weight_decay(p, grad, wd)
            v = state["square_avg"]
            v *= alpha  # v.mul_(alpha).addcmul_(g, g, value=1 - alpha)
            np.multiply(g, 1 - alpha, out=tmp)
            tmp *= g
            v += tmp
            if centered:
                m = state["grad_avg"]
                np.subtract(g, m, out=tmp)  # m.lerp_(g, 1 - alpha)
                tmp *= 1 - alpha
                m += tmp
                np.multiply(m, m, out=tmp)
                np.subtract(v, tmp, out=tmp)
                np.sqrt(tmp, out=tmp)
            else:
                np.sqrt(v, out=tmp)
            tmp += eps
            np.divide(g, tmp, out=tmp)
            if momentum > 0:
                buf = state["momentum_buffer"]
                buf *= momentum
                buf += tmp
                np.multiply(buf, lr, out=tmp)
            else:
                tmp *= lr
            d -= tmp
            p._bump_version()


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), PyTorch's formulation.

    With g = grad + weight_decay·p and t the step count::

        s ← s + g²;   p ← p − lr/(1 + (t − 1)·lr_decay) · g / (√s + eps)

    Parameters
    ----------
    params : iterable of Tensors or dicts
    lr : float, default 1e-2
    lr_decay, weight_decay : float, default 0
    initial_accumulator_value : float, default 0
        Starting value of s.
    eps : float, default 1e-10

    >>> import numpy as np, tinygrad_mlp as tg
    >>> from tinygrad_mlp import nn, optim
    >>> p = nn.Parameter(np.ones(2))
    >>> p.grad = tg.Tensor(np.full(2, 3.0))
    >>> optim.Adagrad([p], lr=0.5).step()  # first step moves each weight by lr
    >>> p.data
    array([0.5, 0.5])
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
        *,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        super().__init__(params, defaults)

    def _check_hyperparameters(self, group: dict[str, Any]) -> None:
        super()._check_hyperparameters(group)
        if not group["lr_decay"] >= 0.0:
            raise ValueError(f"invalid lr_decay value: {group['lr_decay']}")
        if not group["initial_accumulator_value"] >= 0.0:
            raise ValueError(
                f"invalid initial_accumulator_value: {group['initial_accumulator_value']}"
            )
        if not group["eps"] >= 0.0:
            raise ValueError(f"invalid epsilon value: {group['eps']}")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, lr_decay, wd, eps = group["lr"], group["lr_decay"], group["weight_decay"], group["eps"]
        for p in group["params"]:
            grad = self._grad(p, group.get("maximize", False))
            if grad is None:
                continue
            d = p.data
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {
                    "step": 0,
                    "sum": np.full_like(d, group["initial_accumulator_value"]),
                }
            state["step"] += 1
            tmp = self._tmp(p)
            g = self._with_weight_decay(p, grad, wd)
            clr = lr / (1 + (state["step"] - 1) * lr_decay)
            s = state["sum"]
            np.multiply(g, g, out=tmp)
            s += tmp
            np.sqrt(s, out=tmp)
            tmp += eps
            np.divide(g, tmp, out=tmp)
            tmp *= clr
            d -= tmp
            p._bump_version()
