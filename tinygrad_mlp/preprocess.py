"""Turn any picture of a digit into a 28×28 MNIST-style image, the way MNIST was made.

MNIST digits are white on black, scaled to fit a 20×20 box (keeping the aspect ratio) and
placed in a 28×28 field so that their centre of mass sits at the centre. ``to_mnist``
repeats those steps for a user's image (any size, colour or polarity), so the network
sees the same kind of input it was trained on. Used by ``predict`` and ``serve``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

INK_THRESHOLD = 0.1  # pixels brighter than this (after normalising) count as ink


class ImageError(ValueError):
    """An image could not be read or holds no digit; the message names the file."""


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read ``.npy`` or an image file (PNG/JPEG/..., needs Pillow) as grayscale floats."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    if path.suffix.lower() == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as e:
            raise ImageError(f"{path}: not a readable .npy array ({e})") from None
        return grayscale(arr, source=str(path))
    try:
        from PIL import Image
    except ImportError:
        raise ImageError(
            f"{path}: reading images needs Pillow: pip install 'tinygrad_mlp[images]' "
            "(or save the image as a .npy array)"
        ) from None
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
                background = Image.new("RGBA", im.size, (255, 255, 255, 255))
                im = Image.alpha_composite(background, im.convert("RGBA"))
            arr = np.asarray(im.convert("L"), dtype=np.float32) / 255.0
    except (OSError, ValueError, SyntaxError) as e:
        raise ImageError(f"{path}: not a readable image ({e})") from None
    return arr


def grayscale(arr: np.ndarray, source: str = "image") -> np.ndarray:
    """A 2-D float array in [0, 1] from gray, RGB or RGBA data (uint8 or float)."""
    a = np.asarray(arr)
    if a.dtype.kind not in "biuf":
        raise ImageError(f"{source}: expected numbers, got dtype {a.dtype}")
    a = a.astype(np.float32)
    if a.ndim == 1 and a.size == 784:
        a = a.reshape(28, 28)
    if a.ndim == 3 and a.shape[-1] in (3, 4):
        rgb = a[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
        if a.shape[-1] == 4:  # composite over white, as an image viewer shows it
            alpha = a[..., 3] / (255.0 if a.max() > 1 else 1.0)
            rgb = rgb * alpha + (255.0 if a.max() > 1 else 1.0) * (1 - alpha)
        a = rgb
    if a.ndim != 2 or a.size == 0:
        raise ImageError(f"{source}: expected a 2-D image, got shape {np.shape(arr)}")
    if not np.all(np.isfinite(a)):
        raise ImageError(f"{source}: image contains NaN or infinite values")
    if a.max() > 1.0:
        a = a / 255.0
    return np.clip(a, 0.0, 1.0)


def _resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) weights: area averaging when shrinking, linear when enlarging."""
    if n_out <= n_in:  # each output pixel averages the input interval it covers
        edges = np.linspace(0, n_in, n_out + 1)
        lo, hi = edges[:-1, None], edges[1:, None]
        pix = np.arange(n_in)[None, :]
        overlap = np.clip(np.minimum(hi, pix + 1) - np.maximum(lo, pix), 0, None)
        return overlap / overlap.sum(axis=1, keepdims=True)
    centres = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    left = np.clip(np.floor(centres).astype(int), 0, n_in - 1)
    right = np.clip(left + 1, 0, n_in - 1)
    frac = np.clip(centres - left, 0, 1)
    w = np.zeros((n_out, n_in))
    w[np.arange(n_out), left] += 1 - frac
    w[np.arange(n_out), right] += frac
    return w


def resize(img: np.ndarray, height: int, width: int) -> np.ndarray:
    """Resample a 2-D image to (height, width), anti-aliased."""
    return _resample_matrix(img.shape[0], height) @ img @ _resample_matrix(img.shape[1], width).T


def to_mnist(img: np.ndarray, source: str = "image") -> np.ndarray:
    """A (28, 28) float32 image in [0, 1], white digit on black, prepared as MNIST was.

    Steps: grayscale; invert if the background is light (dark ink on paper); stretch the
    contrast; crop to the ink; scale into 20×20 keeping the aspect ratio; paste into 28×28
    with the centre of mass at the centre.

    >>> import numpy as np
    >>> canvas = np.ones((100, 60))          # white paper
    >>> canvas[20:80, 25:35] = 0.0           # a black vertical stroke: a "1"
    >>> out = to_mnist(canvas)
    >>> out.shape, float(out.max()), round(float(out[:, :10].max()), 2)
    ((28, 28), 1.0, 0.0)
    """
    a = grayscale(img, source)
    if np.median(_border(a)) > 0.5:  # light background: dark ink on paper, invert
        a = 1.0 - a
    a = np.clip(a - np.median(_border(a)), 0, None)  # background to exactly 0
    if a.max() <= 0:
        raise ImageError(f"{source}: the image is blank (no ink found)")
    a = a / a.max()
    rows = np.flatnonzero(a.max(axis=1) > INK_THRESHOLD)
    cols = np.flatnonzero(a.max(axis=0) > INK_THRESHOLD)
    a = a[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = a.shape
    scale = 20.0 / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = np.clip(resize(a, nh, nw), 0, 1)
    out = np.zeros((28, 28), np.float32)
    top, left = (28 - nh) // 2, (28 - nw) // 2
    out[top : top + nh, left : left + nw] = small
    mass = out.sum()
    cy = (out.sum(axis=1) @ np.arange(28)) / mass
    cx = (out.sum(axis=0) @ np.arange(28)) / mass
    return shift(out, int(round(14.0 - cy)), int(round(14.0 - cx)))  # MNIST: mass at (14, 14)


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])


def shift(img: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move a 2-D image by whole pixels, filling with zeros (nothing wraps around)."""
    out = np.zeros_like(img)
    h, w = img.shape
    ys, yd = (slice(0, h - dy), slice(dy, h)) if dy >= 0 else (slice(-dy, h), slice(0, h + dy))
    xs, xd = (slice(0, w - dx), slice(dx, w)) if dx >= 0 else (slice(-dx, w), slice(0, w + dx))
    out[yd, xd] = img[ys, xs]
    return out
