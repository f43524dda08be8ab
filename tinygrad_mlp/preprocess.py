"""Turn any picture of a digit into a 28×28 MNIST-style image, the way MNIST was made.

MNIST digits are white on black, scaled to fit a 20×20 box (keeping the aspect ratio) and
placed in a 28×28 field so that their centre of mass sits at the centre. ``to_mnist``
repeats those steps for a user's image (any size, colour or polarity), so the network
sees the same kind of input it was trained on. Used by ``predict`` and ``serve``.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np

INK_THRESHOLD = 0.1  # pixels brighter than this (after normalising) count as ink
#: The most pixels an image may have (a 16-megapixel photo fits); checked before decoding.
MAX_PIXELS = 4096 * 4096
MIN_CONTRAST = 0.15  # ink fainter than this against the paper is not read (ink_problem)
MIN_EXTENT = 0.1  # nor ink spanning less than this fraction of the image's longer side


class ImageError(ValueError):
    """An image could not be read or holds no digit; the message names the file."""


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read ``.npy`` or an image file (PNG/JPEG/..., needs Pillow) as grayscale floats.

    The size is checked before the pixels are decoded: at most ``MAX_PIXELS``.
    """
    path = Path(path)
    if not path.is_file():
        problem = "a directory, not an image" if path.is_dir() else "no such file"
        raise ImageError(f"{path}: {problem}")
    if path.suffix.lower() == ".npy":
        return grayscale(_read_npy(path), source=str(path))
    try:
        from PIL import Image
    except ImportError:
        raise ImageError(
            f"{path}: reading images needs Pillow: pip install Pillow (or, in a checkout, "
            'pip install -e ".[images]"), or save the image as a .npy array'
        ) from None
    try:
        with warnings.catch_warnings():  # Pillow warns of big images; we refuse them below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                return from_pil(im, str(path))
    except Image.DecompressionBombError as e:  # Pillow refuses before we see the size
        raise ImageError(f"{path}: too many pixels ({e}); at most {MAX_PIXELS:,} are "
                         "read") from None
    except (OSError, ValueError, SyntaxError) as e:
        if isinstance(e, ImageError):
            raise
        raise ImageError(f"{path}: not a readable image ({e})") from None


def check_size(width: int, height: int, source: str = "image") -> None:
    """Refuse an image of more than ``MAX_PIXELS`` pixels (before it is decoded).

    >>> check_size(4096, 4096)  # a 16-megapixel photo fits
    >>> check_size(5000, 4000, "scan.png")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tinygrad_mlp.preprocess.ImageError: scan.png: 5000x4000 = 20,000,000 pixels; at most ...
    """
    if width * height > MAX_PIXELS:
        raise ImageError(f"{source}: {width}x{height} = {width * height:,} pixels; at most "
                         f"{MAX_PIXELS:,} are read")


def from_pil(im: Any, source: str = "image") -> np.ndarray:
    """A 2-D float array in [0, 1] from an opened Pillow image, any mode or bit depth.

    The size is checked first, so a small file that decodes to a huge image (a
    "decompression bomb") is refused before its pixels exist. 16-bit grayscale keeps its
    full range (Pillow's conversion to 8 bits would clip it to white); transparent pixels
    count as white paper, as an image viewer shows them.

    >>> import numpy as np
    >>> from PIL import Image  # the images extra
    >>> im = Image.fromarray(np.full((2, 3), 32768, np.uint16))
    >>> im.mode, round(float(from_pil(im).max()), 3)
    ('I;16', 0.5)
    """
    check_size(*im.size, source)
    if im.mode.startswith("I"):  # 16- or 32-bit integer grayscale: 65535 is white
        a = np.asarray(im, dtype=np.float64)
        if "transparency" in im.info:
            a[a == im.info["transparency"]] = 65535.0
        return grayscale(np.clip(a / 65535.0, 0.0, 1.0), source)
    if im.mode == "F":
        return grayscale(np.asarray(im), source)
    if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
        from PIL import Image

        background = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(background, im.convert("RGBA"))
    return np.asarray(im.convert("L"), dtype=np.float32) / 255.0


def _read_npy(path: Path) -> np.ndarray:
    """An ``.npy`` array, its declared shape checked before anything is allocated."""
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                           (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if read_header is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, _, dtype = read_header(f)
            if math.prod(shape) > 4 * MAX_PIXELS:  # RGBA at most
                raise ImageError(f"{path}: an array of shape {shape}: more than "
                                 f"{MAX_PIXELS:,} pixels")
            if dtype.hasobject:
                raise ValueError("object arrays are not read")
            f.seek(0)
            return np.load(f, allow_pickle=False)
    except ImageError:
        raise
    except (ValueError, OSError, EOFError) as e:
        raise ImageError(f"{path}: not a readable .npy array ({e})") from None


def grayscale(arr: np.ndarray, source: str = "image") -> np.ndarray:
    """A 2-D float array in [0, 1] from gray, RGB or RGBA data (uint8, uint16 or float).

    uint16 arrays are scaled by 65535; others by the smallest of 1, 255 or 65535 that
    holds their values (so 0/1 masks, 8-bit and 16-bit data all read right).
    """
    a = np.asarray(arr)
    if a.dtype.kind not in "biuf":
        raise ImageError(f"{source}: expected numbers, got dtype {a.dtype}")
    if a.dtype == np.uint16:
        full = 65535.0
    else:
        top = float(np.max(a, initial=0.0, where=np.isfinite(a)))
        full = next((f for f in (1.0, 255.0, 65535.0) if top <= f), top)
    a = a.astype(np.float32)
    if a.ndim == 1 and a.size == 784:
        a = a.reshape(28, 28)
    if a.ndim == 3 and a.shape[-1] in (3, 4):
        rgb = a[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)
        if a.shape[-1] == 4:  # composite over white, as an image viewer shows it
            alpha = a[..., 3] / full
            rgb = rgb * alpha + full * (1 - alpha)
        a = rgb
    if a.ndim != 2 or a.size == 0:
        raise ImageError(f"{source}: expected a 2-D image, got shape {np.shape(arr)}")
    if not np.all(np.isfinite(a)):
        raise ImageError(f"{source}: image contains NaN or infinite values")
    return np.clip(a / np.float32(full), 0.0, 1.0)


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
    a = _ink(img, source)
    if a.max() <= 0:
        raise ImageError(f"{source}: the image is blank (no ink found)")
    a = a / a.max()
    rows, cols = _ink_rows_cols(a)
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


def ink_problem(img: np.ndarray, source: str = "image") -> str | None:
    """Why a drawing is too little to read, or None: ``"blank"`` (no ink), ``"faint"``
    (ink differs from the paper by less than ``MIN_CONTRAST``) or ``"small"`` (the ink
    spans less than ``MIN_EXTENT`` of the image's longer side: a dot, not a digit).

    ``to_mnist`` would still stretch such a drawing into a digit-sized blob and the network
    would answer confidently; the draw-a-digit page asks for a bigger drawing instead.

    >>> import numpy as np
    >>> canvas = np.zeros((280, 280)); canvas[140:150, 140:150] = 1.0
    >>> ink_problem(canvas), ink_problem(np.zeros((28, 28)))
    ('small', 'blank')
    """
    a = _ink(img, source)
    contrast = float(a.max())
    if contrast <= 0:
        return "blank"
    if contrast < MIN_CONTRAST:
        return "faint"
    rows, cols = _ink_rows_cols(a / contrast)
    extent = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1) / max(a.shape)
    return "small" if extent < MIN_EXTENT else None


def _ink(img: np.ndarray, source: str) -> np.ndarray:
    """Grayscale ink on a background of exactly 0 (light paper is inverted first)."""
    a = grayscale(img, source)
    if np.median(_border(a)) > 0.5:  # light background: dark ink on paper, invert
        a = 1.0 - a
    return np.clip(a - np.median(_border(a)), 0, None)


def _ink_rows_cols(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the rows and columns holding ink, in an image scaled to max 1."""
    return (np.flatnonzero(a.max(axis=1) > INK_THRESHOLD),
            np.flatnonzero(a.max(axis=0) > INK_THRESHOLD))


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
