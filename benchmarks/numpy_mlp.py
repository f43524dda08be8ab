"""The floor: a hand-written numpy MLP training step, no autograd, no graph.

This is what a careful person writes by hand for the benchmark's networks, with the same
math as the autograd contenders in ``mlp.py``:

* forward ``z = x @ W.T + b`` (PyTorch layout, W: (out, in)), activation in place;
* quadratic cost ``(1/2N) Σ ||a − y||²`` with delta ``(a − y)·σ'(z) / N``, or softmax
  cross-entropy from the logits with the fused gradient ``(softmax(z) − onehot) / N``;
* backward ``gW = δᵀ a_prev``, ``gb = Σ δ``, ``δ_prev = (δ @ W) · act'(a_prev)``;
* SGD ``W -= lr·gW`` or Adam (PyTorch's formulation), updated in place.

Every per-step array (activations, deltas, gradients, scratch) is allocated once per batch
size and reused, so the step is a fixed sequence of BLAS calls and in-place ufuncs. Nothing
here imports tinygrad_mlp: the floor must not depend on the thing it measures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["NumpyMLP", "adam_update"]


def adam_update(
    p: np.ndarray,
    g: np.ndarray,
    m: np.ndarray,
    v: np.ndarray,
    tmp: np.ndarray,
    step: int,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
) -> None:
    """One Adam update of ``p`` in place (PyTorch's formula; ``step`` counts from 1)::

        m ← β₁m + (1 − β₁)g      v ← β₂v + (1 − β₂)g²
        p ← p − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + eps)
    """
    b1, b2 = betas
    m *= b1
    np.multiply(g, 1.0 - b1, out=tmp)
    m += tmp
    v *= b2
    np.multiply(g, g, out=tmp)
    tmp *= 1.0 - b2
    v += tmp
    np.sqrt(v, out=tmp)
    tmp *= 1.0 / math.sqrt(1.0 - b2**step)
    tmp += eps
    np.divide(m, tmp, out=tmp)
    tmp *= lr / (1.0 - b1**step)
    p -= tmp


class NumpyMLP:
    """A fully connected network trained by hand-written backprop.

    Parameters
    ----------
    weights : sequence of (W, b)
        Initial parameters, W of shape (out, in) (copied; the caller's arrays are not touched).
    activation : "sigmoid" or "relu"
        Hidden activation. With ``loss="quadratic"`` it is applied to the output layer too
        (Nielsen's network); with ``"cross_entropy"`` the output layer gives logits.
    loss : "quadratic" or "cross_entropy"
    optimizer : "sgd" or "adam"
    lr : float

    ``step(x, y, onehot)`` runs forward, loss, backward and the update for one batch and
    returns the loss computed *before* the update (a float32 scalar).
    """

    def __init__(
        self,
        weights: Sequence[tuple[np.ndarray, np.ndarray]],
        activation: str = "sigmoid",
        loss: str = "cross_entropy",
        optimizer: str = "sgd",
        lr: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        if activation not in ("sigmoid", "relu"):
            raise ValueError(f"activation must be 'sigmoid' or 'relu', got {activation!r}")
        if loss not in ("quadratic", "cross_entropy"):
            raise ValueError(f"loss must be 'quadratic' or 'cross_entropy', got {loss!r}")
        if optimizer not in ("sgd", "adam"):
            raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
        self.W = [np.array(w, dtype=np.float32, order="C") for w, _ in weights]
        self.b = [np.array(b, dtype=np.float32) for _, b in weights]
        self.activation, self.loss, self.optimizer = activation, loss, optimizer
        self.lr, self.betas, self.eps = lr, betas, eps
        self.t = 0
        params = self.W + self.b
        self.gW = [np.empty_like(w) for w in self.W]
        self.gb = [np.empty_like(b) for b in self.b]
        if optimizer == "adam":
            self.m = [np.zeros_like(p) for p in params]
            self.v = [np.zeros_like(p) for p in params]
            self.tmp = [np.empty_like(p) for p in params]
        self._n = -1

    # ----- buffers ------------------------------------------------------------------------
    def _alloc(self, n: int) -> None:
        """Activation, delta and scratch buffers for batch size ``n`` (once per size)."""
        self._n = n
        self.a = [np.empty((n, w.shape[0]), np.float32) for w in self.W]  # post-activation
        self.d = [np.empty((n, w.shape[0]), np.float32) for w in self.W]  # deltas
        self.s = [np.empty((n, w.shape[0]), np.float32) for w in self.W]  # scratch
        self.mask = [np.empty((n, w.shape[0]), bool) for w in self.W]
        self.rows = np.arange(n)
        self.col = np.empty((n, 1), np.float32)

    @staticmethod
    def _sigmoid_(z: np.ndarray) -> None:
        np.negative(z, out=z)
        np.exp(z, out=z)
        z += 1.0
        np.reciprocal(z, out=z)

    def _act_grad_(self, delta: np.ndarray, a: np.ndarray, scratch: np.ndarray,
                   mask: np.ndarray) -> None:
        """delta *= act'(z), written in terms of the activation's output a."""
        if self.activation == "sigmoid":
            np.subtract(1.0, a, out=scratch)
            scratch *= a
            delta *= scratch
        else:
            np.greater(a, 0.0, out=mask)
            np.multiply(delta, mask, out=delta)

    # ----- one training step --------------------------------------------------------------
    def step(self, x: np.ndarray, y: np.ndarray, onehot: np.ndarray) -> np.float32:
        n = x.shape[0]
        if n != self._n:
            self._alloc(n)
        W, b, a, d = self.W, self.b, self.a, self.d
        last = len(W) - 1
        quadratic = self.loss == "quadratic"

        # forward
        prev = x
        for i in range(last + 1):
            z = np.matmul(prev, W[i].T, out=a[i])
            z += b[i]
            if i < last or quadratic:
                if self.activation == "sigmoid":
                    self._sigmoid_(z)
                else:
                    np.maximum(z, 0.0, out=z)
            prev = z

        # loss and the output delta
        out, dl = a[last], d[last]
        if quadratic:
            np.subtract(out, onehot, out=dl)
            loss = np.float32(0.5 / n) * np.vdot(dl, dl)
            dl *= 1.0 / n
            self._act_grad_(dl, out, self.s[last], self.mask[last])
        else:
            z = out
            np.max(z, axis=1, keepdims=True, out=self.col)
            z -= self.col                                 # shifted logits
            zy = z[self.rows, y]
            np.exp(z, out=dl)
            np.sum(dl, axis=1, keepdims=True, out=self.col)
            loss = np.log(self.col).mean(dtype=np.float32) - zy.mean(dtype=np.float32)
            self.col *= n                                 # p/N = e / (N·Σe)
            np.divide(dl, self.col, out=dl)
            dl[self.rows, y] -= 1.0 / n                   # (p − onehot)/N

        # backward + update, top layer first (W[i] is read for δ_prev before it changes)
        self.t += 1
        for i in range(last, -1, -1):
            delta = d[i]
            a_prev = a[i - 1] if i else x
            np.matmul(delta.T, a_prev, out=self.gW[i])
            np.sum(delta, axis=0, out=self.gb[i])
            if i:
                np.matmul(delta, W[i], out=d[i - 1])
                self._act_grad_(d[i - 1], a[i - 1], self.s[i - 1], self.mask[i - 1])
            self._update(i)
        return np.float32(loss)

    def _update(self, i: int) -> None:
        if self.optimizer == "sgd":
            gW, gb = self.gW[i], self.gb[i]
            gW *= self.lr
            self.W[i] -= gW
            gb *= self.lr
            self.b[i] -= gb
            return
        k = len(self.W)
        for j, p, g in ((i, self.W[i], self.gW[i]), (k + i, self.b[i], self.gb[i])):
            adam_update(p, g, self.m[j], self.v[j], self.tmp[j], self.t, self.lr,
                        self.betas, self.eps)

    def parameters(self) -> list[np.ndarray]:
        """Current values, in ``[W0, b0, W1, b1, ...]`` order."""
        return [t for pair in zip(self.W, self.b, strict=True) for t in pair]
