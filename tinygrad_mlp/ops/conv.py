"""Convolution and pooling over images in NCHW layout (PyTorch's), as graph ops.

A convolution is a matrix product in disguise. ``_im2col`` copies every receptive field
of the (padded) input into one column of a matrix ``cols`` of shape (C·kH·kW, N·OH·OW);
then ``y = W @ cols`` with the weight flattened to (O, C·kH·kW), one float32 BLAS call.
Its backward is two more products, each itself a graph op so that second derivatives
work (the three ops form a closed family, each one's backward made of the others)::

    Conv2d          y  = conv(x, W)              dx = ConvInputGrad(g, W)
                                                 dW = ConvWeightGrad(x, g)
    ConvInputGrad   dx = col2im(Wᵀ @ g)          (a transposed convolution)
    ConvWeightGrad  dW = g @ colsᵀ

``ConvInputGrad`` is a *correlation of g with the flipped kernel* (docs/convolution.md
works it out on a tiny example): each input pixel receives g from every output whose
window covered it, weighted by the kernel entry that touched it. ``_col2im`` does that
scatter with one strided add per kernel tap.

Pooling: ``MaxPool2d`` remembers, for each output, which kernel tap held its window's
first maximum (PyTorch's tie rule), so its backward scatters g to those pixels
(``PoolScatter``) and that scatter's backward gathers from them (``PoolGather``).
``AvgPool2d`` is a window sum times a constant, its backward (``AvgPoolSpread``) spreads
g evenly over each window; again each is the other's backward.

Every op here takes a ``geom`` option (a :class:`Geometry`, built and checked by the
functional forms ``conv2d``/``max_pool2d``/``avg_pool2d`` below) and checks its input
shapes against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from tinygrad_mlp.function import Context, Function
from tinygrad_mlp.tensor import Tensor

__all__ = [
    "AvgPool2d",
    "AvgPoolSpread",
    "Conv2d",
    "ConvInputGrad",
    "ConvWeightGrad",
    "Geometry",
    "MaxPool2d",
    "PoolGather",
    "PoolScatter",
    "avg_pool2d",
    "conv2d",
    "max_pool2d",
]


class Geometry(NamedTuple):
    """Where each output's window sits on the input (all ints; hashable, a jit constant)."""

    x_shape: tuple[int, int, int, int]  # (N, C, H, W)
    kernel: tuple[int, int]  # (kH, kW)
    stride: tuple[int, int]
    dilation: tuple[int, int]
    pads: tuple[int, int, int, int]  # (top, bottom, left, right)
    out: tuple[int, int]  # (OH, OW)
    groups: int = 1


def _two(value: Any, name: str, who: str, minimum: int) -> tuple[int, int]:
    """An int or a pair of ints as a pair, checked to be ≥ ``minimum``."""
    pair = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, np.integer)) for v in pair):
        raise ValueError(f"{who}: {name} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"{who}: {name} must be >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _image_shape(shape: tuple[int, ...], who: str) -> tuple[int, int, int, int]:
    if len(shape) != 4:
        raise ValueError(f"{who}: expected a 4-D input (N, C, H, W), got shape {shape}")
    return shape  # type: ignore[return-value]


def _place(shape: tuple[int, int, int, int], kernel: tuple[int, int], stride: tuple[int, int],
           dilation: tuple[int, int], pads: tuple[int, int, int, int], groups: int,
           who: str) -> Geometry:
    """The Geometry, after checking the windows fit: at least one output per side."""
    h, w = shape[2] + pads[0] + pads[1], shape[3] + pads[2] + pads[3]
    reach = (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)
    if reach[0] > h or reach[1] > w:
        raise ValueError(
            f"{who}: kernel {kernel} (dilation {dilation}) spans {reach[0]}×{reach[1]}, "
            f"larger than the padded input {h}×{w} (input shape {shape}, padding {pads})"
        )
    out = ((h - reach[0]) // stride[0] + 1, (w - reach[1]) // stride[1] + 1)
    return Geometry(tuple(shape), kernel, stride, dilation, pads, out, groups)  # type: ignore[arg-type]


def conv_geometry(x_shape: tuple[int, ...], w_shape: tuple[int, ...], stride: Any = 1,
                  padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Geometry:
    """Check a convolution's arguments as ``torch.nn.functional.conv2d`` does; the Geometry."""
    who = "conv2d"
    n, c, _, _ = _image_shape(tuple(x_shape), who)
    if len(w_shape) != 4:
        raise ValueError(f"{who}: weight must be 4-D (O, C/groups, kH, kW), got shape {w_shape}")
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{who}: groups must be a positive int, got {groups!r}")
    o, cg, kh, kw = w_shape
    if c % groups or o % groups:
        raise ValueError(f"{who}: in_channels {c} and out_channels {o} must both be divisible "
                         f"by groups={groups}")
    if cg * groups != c:
        raise ValueError(f"{who}: input of shape {tuple(x_shape)} has {c} channels but weight of "
                         f"shape {tuple(w_shape)} with groups={groups} expects {cg * groups}")
    stride = _two(stride, "stride", who, 1)
    dilation = _two(dilation, "dilation", who, 1)
    if kh < 1 or kw < 1:
        raise ValueError(f"{who}: kernel size must be positive, got weight shape {w_shape}")
    if isinstance(padding, str):
        if padding == "valid":
            pads = (0, 0, 0, 0)
        elif padding == "same":
            if stride != (1, 1):
                raise ValueError(f"{who}: padding='same' is not supported for strided "
                                 f"convolutions (stride {stride})")
            th, tw = dilation[0] * (kh - 1), dilation[1] * (kw - 1)
            pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)  # extra on the bottom/right
        else:
            raise ValueError(f"{who}: padding must be an int, a pair, 'same' or 'valid', "
                             f"got {padding!r}")
    else:
        ph, pw = _two(padding, "padding", who, 0)
        pads = (ph, ph, pw, pw)
    return _place((n, c, x_shape[2], x_shape[3]), (kh, kw), stride, dilation, pads, int(groups),
                  who)


def pool_geometry(x_shape: tuple[int, ...], kernel_size: Any, stride: Any = None,
                  padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False,
                  who: str = "max_pool2d") -> Geometry:
    """Check a pooling's arguments as PyTorch does (stride defaults to the kernel size).

    ``ceil_mode`` rounds the output size up, as PyTorch: one more window per side when
    the last one would start inside the input (or its left/top padding); it reaches past
    the padding, so the Geometry pads the bottom/right further (``pads`` then differ).
    """
    shape = _image_shape(tuple(x_shape), who)
    kernel = _two(kernel_size, "kernel_size", who, 1)
    stride = kernel if stride is None or stride == () else _two(stride, "stride", who, 1)
    dilation = _two(dilation, "dilation", who, 1)
    pad = _two(padding, "padding", who, 0)
    if 2 * pad[0] > kernel[0] or 2 * pad[1] > kernel[1]:
        raise ValueError(f"{who}: padding {padding!r} should be at most half of kernel size "
                         f"{kernel}")
    extra = [0, 0]
    if ceil_mode:
        for a in (0, 1):
            size, p, s = shape[2 + a], pad[a], stride[a]
            reach = dilation[a] * (kernel[a] - 1) + 1
            out = -(-(size + 2 * p - reach) // s) + 1  # rounded up
            if (out - 1) * s >= size + p:  # the last window would start in the right padding
                out -= 1
            extra[a] = max(0, (out - 1) * s + reach - (size + 2 * p))
    pads = (pad[0], pad[0] + extra[0], pad[1], pad[1] + extra[1])
    return _place(shape, kernel, stride, dilation, pads, 1, who)


def _check(arr: np.ndarray, shape: tuple[int, ...], who: str, what: str) -> None:
    if tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{who}: {what} has shape {tuple(arr.shape)}, expected {tuple(shape)}")


# ----- the numpy kernels ----------------------------------------------------------------------


def _taps(geom: Geometry) -> list[tuple[int, int, slice, slice]]:
    """(kh, kw, rows, cols): the slice of the padded input that kernel tap (kh, kw) reads
    for all outputs at once (stride steps, offset by the dilated tap position)."""
    (sh, sw), (dh, dw), (oh, ow) = geom.stride, geom.dilation, geom.out
    return [(i, j, slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),
             slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))
            for i in range(geom.kernel[0]) for j in range(geom.kernel[1])]


def _pad(x: np.ndarray, pads: tuple[int, int, int, int], value: float = 0.0) -> np.ndarray:
    if not any(pads):
        return x
    t, b, left, r = pads
    return np.pad(x, ((0, 0), (0, 0), (t, b), (left, r)), constant_values=value)


def _im2col(x: np.ndarray, geom: Geometry) -> np.ndarray:
    """cols[(c, i, j), (n, oh, ow)] = padded x[n, c, oh·sh + i·dh, ow·sw + j·dw]: one copy of
    a strided view, laid out so each row's inner run walks along an image row."""
    xp = _pad(x, geom.pads)
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (oh, ow) = geom.kernel, geom.stride, geom.dilation, geom.out
    s_n, s_c, s_h, s_w = xp.strides
    view = as_strided(xp, (c, kh, kw, n, oh, ow),
                      (s_c, s_h * dh, s_w * dw, s_n, s_h * sh, s_w * sw), writeable=False)
    return view.reshape(c * kh * kw, n * oh * ow)


def _col2im(cols: np.ndarray, geom: Geometry) -> np.ndarray:
    """The adjoint of ``_im2col``: add each column entry back onto the pixel it came from."""
    n, c, h, w = geom.x_shape
    t, b, left, r = geom.pads
    cols = cols.reshape(c, *geom.kernel, n, *geom.out)
    acc = np.zeros((c, n, h + t + b, w + left + r), dtype=cols.dtype)  # channels first
    for i, j, rows, columns in _taps(geom):
        acc[:, :, rows, columns] += cols[:, i, j]
    return np.ascontiguousarray(acc[:, :, t : t + h, left : left + w].transpose(1, 0, 2, 3))


def _by_group(g: np.ndarray, groups: int) -> np.ndarray:
    """g (N, O, OH, OW) as (groups, O/groups, N·OH·OW): the left operand of the products."""
    n, o = g.shape[:2]
    return g.transpose(1, 0, 2, 3).reshape(groups, o // groups, -1)


def _conv_forward(cols: np.ndarray, w: np.ndarray, geom: Geometry) -> np.ndarray:
    """y (N, O, OH, OW) = W @ cols per group, as a transposed view (O, N, OH, OW)."""
    groups, o = geom.groups, w.shape[0]
    y = w.reshape(groups, o // groups, -1) @ cols.reshape(groups, -1, cols.shape[1])
    return y.reshape(o, geom.x_shape[0], *geom.out).transpose(1, 0, 2, 3)


def _input_grad(g: np.ndarray, w: np.ndarray, geom: Geometry) -> np.ndarray:
    """dx = col2im(Wᵀ @ g) per group, a few images at a time: each chunk's columns (about
    8 MB) are still in cache when col2im reads them back, which makes this ~1.5× faster
    than one product over the whole batch."""
    groups, n = geom.groups, geom.x_shape[0]
    wt = w.reshape(groups, w.shape[0] // groups, -1).transpose(0, 2, 1)
    per_image = wt.shape[0] * wt.shape[1] * geom.out[0] * geom.out[1] * g.itemsize
    step = max(1, (8 << 20) // max(per_image, 1))
    if step >= n:
        return _col2im(wt @ _by_group(g, groups), geom)
    dx = np.empty(geom.x_shape, np.result_type(g, w))
    for a in range(0, n, step):
        part = geom._replace(x_shape=(min(step, n - a), *geom.x_shape[1:]))
        dx[a : a + step] = _col2im(wt @ _by_group(g[a : a + step], groups), part)
    return dx


def _weight_grad(cols: np.ndarray, g: np.ndarray, geom: Geometry) -> np.ndarray:
    """dW = g @ colsᵀ per group, shaped (O, C/groups, kH, kW); computed as (cols @ gᵀ)ᵀ,
    which BLAS does ~20 % faster for these long, thin operands."""
    groups = geom.groups
    dwt = cols.reshape(groups, -1, cols.shape[1]) @ _by_group(g, groups).transpose(0, 2, 1)
    c = geom.x_shape[1]
    return np.ascontiguousarray(dwt.transpose(0, 2, 1)).reshape(g.shape[1], c // groups,
                                                                 *geom.kernel)


# ----- dispatch: the same rule on arrays (fast) or Tensors (create_graph) ---------------------


def _apply_or_run(cls: type[Function], *args: Any, **options: Any) -> Any:
    """``cls.apply`` when any argument is a Tensor (the rule is being recorded), else the
    forward on plain arrays without building a graph node."""
    if any(isinstance(a, Tensor) for a in args):
        return cls.apply(*[a if isinstance(a, Tensor) else Tensor(a) for a in args], **options)
    return cls.forward(Context(cls), *args, **options)


def _bilinear_jvp(cls: type[Function], ctx: Context, ta: Any, tb: Any) -> Any:
    """Tangent of an op linear in each of its two inputs a, b: op(ȧ, b) + op(a, ḃ)."""
    a, b = ctx.primals[:2]
    terms = [_apply_or_run(cls, ta, b, geom=ctx.geom) if ta is not None else None,
             _apply_or_run(cls, a, tb, geom=ctx.geom) if tb is not None else None]
    terms = [t for t in terms if t is not None]
    if not terms:
        return np.zeros_like(ctx.result)
    return terms[0] + terms[1] if len(terms) == 2 else terms[0]


# ----- convolution -----------------------------------------------------------------------------


class Conv2d(Function):
    """y[n, o] = Σ_c Σ_ij W[o, c, i, j] · x[n, c, oh·s + i·d, ow·s + j·d] + b[o] (groups split
    c and o into blocks that only see each other).

    dx = ConvInputGrad(g, W) (g correlated with the flipped kernel), dW = ConvWeightGrad(x, g)
    (g correlated with x), db = Σ_{n,oh,ow} g.  jvp: dy = conv(ẋ, W) + conv(x, Ẇ) + ḃ.
    """

    @staticmethod
    def forward(ctx, x, w, b=None, geom=None):
        _check(x, geom.x_shape, "conv2d", "input")
        o = w.shape[0]
        _check(w, (o, geom.x_shape[1] // geom.groups, *geom.kernel), "conv2d", "weight")
        if b is not None:
            _check(b, (o,), "conv2d", "bias")
        ctx.geom = geom
        cols = _im2col(x, geom)
        ctx.save_for_backward(x, w, cols)
        y = _conv_forward(cols, w, geom)
        out = np.empty(y.shape, np.result_type(y, b) if b is not None else y.dtype)
        if b is not None:
            return np.add(y, b.reshape(1, o, 1, 1), out=out)
        np.copyto(out, y)
        return out

    @staticmethod
    def backward(ctx, g):
        x, w, cols = ctx.saved_tensors
        need, geom = ctx.needs_input_grad, ctx.geom
        dx = _apply_or_run(ConvInputGrad, g, w, geom=geom) if need[0] else None
        dw = None
        if need[1]:
            if isinstance(g, Tensor):
                dw = ConvWeightGrad.apply(x, g, geom=geom)
            else:  # the columns forward made: no second im2col
                dw = _weight_grad(cols, g, geom)
        if len(need) == 2:
            return dx, dw
        return dx, dw, (g.sum(axis=(0, 2, 3)) if need[2] else None)

    @staticmethod
    def jvp(ctx, *tangents):
        dy = _bilinear_jvp(Conv2d, ctx, tangents[0], tangents[1])
        if len(tangents) == 3 and tangents[2] is not None:
            dy = dy + tangents[2].reshape((1, -1, 1, 1))
        return dy


class ConvInputGrad(Function):
    """dx = conv2d's input gradient for upstream g: col2im(Wᵀ @ g), a transposed convolution.

    Linear in g and in W: <a, ConvInputGrad(g, W)> = <conv(a, W), g>, so for an upstream a:
    dg = conv(a, W), dW = ConvWeightGrad(a, g).  jvp: ConvInputGrad(ġ, W) + ConvInputGrad(g, Ẇ).
    """

    @staticmethod
    def forward(ctx, g, w, geom=None):
        _check(g, (geom.x_shape[0], w.shape[0], *geom.out), "conv2d backward", "gradient")
        ctx.geom = geom
        ctx.save_for_backward(g, w)
        return _input_grad(g, w, geom)

    @staticmethod
    def backward(ctx, a):
        g, w = ctx.saved_tensors
        need, geom = ctx.needs_input_grad, ctx.geom
        return (_apply_or_run(Conv2d, a, w, geom=geom) if need[0] else None,
                _apply_or_run(ConvWeightGrad, a, g, geom=geom) if need[1] else None)

    @staticmethod
    def jvp(ctx, tg_, tw):
        return _bilinear_jvp(ConvInputGrad, ctx, tg_, tw)


class ConvWeightGrad(Function):
    """dW = conv2d's weight gradient for input x and upstream g: g @ im2col(x)ᵀ.

    Linear in x and in g: <a, ConvWeightGrad(x, g)> = <conv(x, a), g>, so for an upstream a:
    dx = ConvInputGrad(g, a), dg = conv(x, a).  jvp: ConvWeightGrad(ẋ, g) + ConvWeightGrad(x, ġ).
    """

    @staticmethod
    def forward(ctx, x, g, geom=None):
        _check(x, geom.x_shape, "conv2d backward", "input")
        ctx.geom = geom
        ctx.save_for_backward(x, g)
        return _weight_grad(_im2col(x, geom), g, geom)

    @staticmethod
    def backward(ctx, a):
        x, g = ctx.saved_tensors
        need, geom = ctx.needs_input_grad, ctx.geom
        return (_apply_or_run(ConvInputGrad, g, a, geom=geom) if need[0] else None,
                _apply_or_run(Conv2d, x, a, geom=geom) if need[1] else None)

    @staticmethod
    def jvp(ctx, tx, tg_):
        return _bilinear_jvp(ConvWeightGrad, ctx, tx, tg_)


# ----- max pooling ---------------------------------------------------------------------------


def _spread(parts: Any, geom: Geometry, dtype: Any) -> np.ndarray:
    """The adjoint of reading the taps: add ``parts(k)`` (one array per output, for kernel tap
    k) onto the input pixels tap k read, then drop the padding."""
    n, c, h, w = geom.x_shape
    t, b, left, r = geom.pads
    acc = np.zeros((n, c, h + t + b, w + left + r), dtype)
    for k, (_, _, rows, cols) in enumerate(_taps(geom)):
        acc[:, :, rows, cols] += parts(k)
    return acc[:, :, t : t + h, left : left + w]


def _overlapping(geom: Geometry) -> bool:
    """Can two windows share an input pixel (so a scatter must add, not just write)?"""
    (kh, kw), (sh, sw), (dh, dw) = geom.kernel, geom.stride, geom.dilation
    return sh < dh * (kh - 1) + 1 or sw < dw * (kw - 1) + 1


def _winners(ctx: Context) -> np.ndarray:
    """Per max-pool output, the index of the kernel tap that won: the first one equal to the
    maximum (or NaN), found by scanning the taps backwards so earlier ones overwrite later
    ones. Worked out when a gradient first needs it (inference never pays for it)."""
    if ctx.tap is None:
        xp, y = ctx.padded, ctx.pooled
        taps = _taps(ctx.geom)
        last = len(taps) - 1
        tap = np.full(y.shape, last, np.int8 if last < 127 else np.int32)
        nan = y.dtype.kind == "f" and np.isnan(y).any()
        for k in range(last - 1, -1, -1):
            v = xp[:, :, taps[k][2], taps[k][3]]
            hit = v == y
            if nan:
                hit |= np.isnan(v)
            tap -= (tap - k) * hit  # tap = k where hit (arithmetic: ~5× faster than copyto)
        ctx.tap, ctx.padded, ctx.pooled = tap, None, None
    return ctx.tap


class MaxPool2d(Function):
    """y = the largest x in each window (padding counts as −∞);  dx = g sent to that element.

    The winner of each window is the first maximum in its row-major scan, as PyTorch (see
    ``_winners``); a window wholly in the padding gives −∞ and its gradient lands on the
    padding, which is dropped (as PyTorch: no gradient).
    dx = PoolScatter(g), and jvp: ẏ = PoolGather(ẋ) with the same winners.
    """

    @staticmethod
    def forward(ctx, x, geom=None):
        _check(x, geom.x_shape, "max_pool2d", "input")
        fill = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
        xp = _pad(x, geom.pads, fill)
        taps = _taps(geom)
        y = xp[:, :, taps[0][2], taps[0][3]].copy()
        for _, _, rows, cols in taps[1:]:  # one elementwise maximum per tap (NaN propagates)
            np.maximum(y, xp[:, :, rows, cols], out=y)
        ctx.geom, ctx.tap, ctx.padded, ctx.pooled = geom, None, xp, y
        return y

    @staticmethod
    def backward(ctx, g):
        return _apply_or_run(PoolScatter, g, tap=_winners(ctx), geom=ctx.geom)

    @staticmethod
    def jvp(ctx, tx):
        return _apply_or_run(PoolGather, tx, tap=_winners(ctx), geom=ctx.geom)


class PoolScatter(Function):
    """dx = zeros of the input's shape with each g added at its window's winning tap (the
    max-pool backward; overlapping windows may send several g to one pixel: they add up).

    Linear in g: its backward is PoolGather with the same winners, and jvp: PoolScatter(ġ).
    """

    @staticmethod
    def forward(ctx, g, tap=None, geom=None):
        _check(g, tap.shape, "max_pool2d backward", "gradient")
        ctx.tap, ctx.geom = tap, geom
        if _overlapping(geom):
            return _spread(lambda k: np.where(tap == k, g, 0), geom, g.dtype)
        n, c, h, w = geom.x_shape  # each pixel in one window at most: write, do not add
        t, b, left, r = geom.pads
        out = np.zeros((n, c, h + t + b, w + left + r), g.dtype)
        for k, (_, _, rows, cols) in enumerate(_taps(geom)):
            np.multiply(g, tap == k, out=out[:, :, rows, cols])
        return out[:, :, t : t + h, left : left + w]

    @staticmethod
    def backward(ctx, a):
        return _apply_or_run(PoolGather, a, tap=ctx.tap, geom=ctx.geom)

    @staticmethod
    def jvp(ctx, tg_):
        return _apply_or_run(PoolScatter, tg_, tap=ctx.tap, geom=ctx.geom)


class PoolGather(Function):
    """y = a at each window's winning tap (max-pool's selection, with the winners fixed;
    padding reads as 0);  da = PoolScatter(g).  jvp: PoolGather(ȧ)."""

    @staticmethod
    def forward(ctx, a, tap=None, geom=None):
        _check(a, geom.x_shape, "max_pool2d", "input")
        ctx.tap, ctx.geom = tap, geom
        ap = _pad(a, geom.pads)
        y = np.zeros(tap.shape, a.dtype)
        for k, (_, _, rows, cols) in enumerate(_taps(geom)):
            np.copyto(y, ap[:, :, rows, cols], where=tap == k)
        return y

    @staticmethod
    def backward(ctx, g):
        return _apply_or_run(PoolScatter, g, tap=ctx.tap, geom=ctx.geom)

    @staticmethod
    def jvp(ctx, ta):
        return _apply_or_run(PoolGather, ta, tap=ctx.tap, geom=ctx.geom)


# ----- average pooling ------------------------------------------------------------------------


def _avg_scale(geom: Geometry, count_include_pad: bool, divisor_override: int | None) -> Any:
    """1 / (what each window's sum is divided by): a number, or per output position an
    (OH, OW) array when padding is not counted."""
    if divisor_override is not None:
        return 1.0 / divisor_override
    t, b, left, r = geom.pads
    if (count_include_pad and (t, left) == (b, r)) or not any(geom.pads):
        return 1.0 / (geom.kernel[0] * geom.kernel[1])
    if count_include_pad:  # ceil_mode: the padding counts, what lies beyond it does not
        h, w = geom.x_shape[2] + 2 * t, geom.x_shape[3] + 2 * left
        ones = np.pad(np.ones((1, 1, h, w)), ((0, 0), (0, 0), (0, b - t), (0, r - left)))
    else:
        ones = _pad(np.ones((1, 1, *geom.x_shape[2:])), geom.pads)
    counts = sum(ones[0, 0, rows, cols] for _, _, rows, cols in _taps(geom))
    return 1.0 / counts


class AvgPool2d(Function):
    """y = (Σ of x over each window) · scale, padding counting as zeros; scale = 1/(kH·kW),
    or 1/(number of real pixels) without ``count_include_pad``, or 1/``divisor_override``.

    Linear: dx = AvgPoolSpread(g) (each g·scale shared by its window's pixels);
    jvp: ẏ = AvgPool2d(ẋ).
    """

    @staticmethod
    def forward(ctx, x, geom=None, count_include_pad=True, divisor_override=None):
        _check(x, geom.x_shape, "avg_pool2d", "input")
        ctx.options = dict(geom=geom, count_include_pad=count_include_pad,
                           divisor_override=divisor_override)
        xp = _pad(x, geom.pads)
        total = np.zeros((*x.shape[:2], *geom.out), dtype=np.result_type(x, np.float32))
        for _, _, rows, cols in _taps(geom):
            total += xp[:, :, rows, cols]
        total *= np.asarray(_avg_scale(geom, count_include_pad, divisor_override), total.dtype)
        return total

    @staticmethod
    def backward(ctx, g):
        return _apply_or_run(AvgPoolSpread, g, **ctx.options)

    @staticmethod
    def jvp(ctx, tx):
        return _apply_or_run(AvgPool2d, tx, **ctx.options)


class AvgPoolSpread(Function):
    """dx = each g[n, c, oh, ow]·scale added to every pixel of its window (the average-pool
    backward); its own backward is AvgPool2d again, and jvp: AvgPoolSpread(ġ)."""

    @staticmethod
    def forward(ctx, g, geom=None, count_include_pad=True, divisor_override=None):
        _check(g, (*geom.x_shape[:2], *geom.out), "avg_pool2d backward", "gradient")
        ctx.options = dict(geom=geom, count_include_pad=count_include_pad,
                           divisor_override=divisor_override)
        share = g * np.asarray(_avg_scale(geom, count_include_pad, divisor_override), g.dtype)
        return _spread(lambda k: share, geom, share.dtype)

    @staticmethod
    def backward(ctx, a):
        return _apply_or_run(AvgPool2d, a, **ctx.options)

    @staticmethod
    def jvp(ctx, tg_):
        return _apply_or_run(AvgPoolSpread, tg_, **ctx.options)


# ----- public functional forms ------------------------------------------------------------


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def conv2d(x: Any, weight: Any, bias: Any = None, stride: int | Sequence[int] = 1,
           padding: int | Sequence[int] | str = 0, dilation: int | Sequence[int] = 1,
           groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch) of ``x`` (N, C, H, W) with ``weight``
    (O, C/groups, kH, kW), plus ``bias`` (O,); output (N, O, OH, OW).

    ``padding`` is an int, a pair, "valid" (none) or "same" (output as large as the input;
    stride 1 only; an odd total goes on the bottom/right, as PyTorch). ``groups`` splits
    the channels into independent blocks (``groups=C`` is a depthwise convolution).

    >>> import numpy as np, tinygrad_mlp.nn.functional as F
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> F.conv2d(x, np.ones((1, 1, 2, 2), np.float32), stride=2).data[0, 0]
    array([[10., 18.],
           [42., 50.]], dtype=float32)
    """
    x, weight = _as_tensor(x), _as_tensor(weight)
    geom = conv_geometry(x.shape, weight.shape, stride, padding, dilation, groups)
    if bias is None:
        return Conv2d.apply(x, weight, geom=geom)
    return Conv2d.apply(x, weight, _as_tensor(bias), geom=geom)


def max_pool2d(x: Any, kernel_size: int | Sequence[int], stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False,
               return_indices: bool = False) -> Tensor | tuple[Tensor, Tensor]:
    """The maximum of each ``kernel_size`` window (stride defaults to the kernel size).

    With ``return_indices`` also where each maximum was, as PyTorch: the flat position in
    its (H, W) plane (int64, not differentiable).

    >>> import numpy as np, tinygrad_mlp.nn.functional as F
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> F.max_pool2d(x, 2).data[0, 0]
    array([[ 5.,  7.],
           [13., 15.]], dtype=float32)
    >>> F.max_pool2d(x, 2, return_indices=True)[1].data[0, 0]
    array([[ 5,  7],
           [13, 15]])
    """
    x = _as_tensor(x)
    geom = pool_geometry(x.shape, kernel_size, stride, padding, dilation, ceil_mode)
    y = MaxPool2d.apply(x, geom=geom)
    if not return_indices:
        return y
    ctx = Context(MaxPool2d)
    MaxPool2d.forward(ctx, x.data, geom=geom)
    i, j = np.divmod(_winners(ctx).astype(np.int64), geom.kernel[1])
    rows = (np.arange(geom.out[0]) * geom.stride[0] - geom.pads[0])[:, None] + i * geom.dilation[0]
    cols = np.arange(geom.out[1]) * geom.stride[1] - geom.pads[2] + j * geom.dilation[1]
    return y, Tensor(rows * x.shape[3] + cols)


def avg_pool2d(x: Any, kernel_size: int | Sequence[int], stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """The mean of each ``kernel_size`` window (stride defaults to the kernel size); padding
    counts as zeros in the mean unless ``count_include_pad=False``.

    >>> import numpy as np, tinygrad_mlp.nn.functional as F
    >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
    >>> F.avg_pool2d(x, 2).data[0, 0]
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """
    if divisor_override is not None and (not isinstance(divisor_override, int)
                                         or divisor_override < 1):
        raise ValueError(f"avg_pool2d: divisor_override must be a positive int, "
                         f"got {divisor_override!r}")
    x = _as_tensor(x)
    geom = pool_geometry(x.shape, kernel_size, stride, padding, 1, ceil_mode, who="avg_pool2d")
    return AvgPool2d.apply(x, geom=geom, count_include_pad=bool(count_include_pad),
                           divisor_override=divisor_override)
