"""MNIST loading, downloading and mini-batching.

This module depends only on numpy and the standard library; it does not import the rest of
:mod:`tinygrad_mlp`.

* :func:`read_idx` parses one IDX file (gzipped or raw) and validates its structure.
* :func:`download_mnist` fetches missing MNIST files from :data:`MIRRORS`, verifying each against
  the pinned SHA-256 in :data:`SHA256` before it is atomically moved into the cache directory.
* :func:`load_mnist` finds (and, if allowed, downloads) the four MNIST files and returns them as
  ready-to-train numpy arrays.
* :class:`DataLoader` iterates over ``(x, y)`` in (optionally shuffled) mini-batches.

The data directory is, in order of precedence: the ``root`` argument, the ``$TINYGRAD_MLP_DATA``
environment variable, then ``~/.cache/tinygrad_mlp/mnist``.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import math
import os
import secrets
import struct
import sys
import urllib.error
import urllib.request
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "DEFAULT_ROOT",
    "ENV_VAR",
    "FILES",
    "MIRRORS",
    "SHA256",
    "DataLoader",
    "MNISTError",
    "MNISTMissingError",
    "download_mnist",
    "load_mnist",
    "load_mnist_test",
    "mnist_root",
    "read_idx",
]

#: Environment variable naming the directory that holds (or receives) the MNIST files.
ENV_VAR = "TINYGRAD_MLP_DATA"

#: Directory used when neither ``root`` nor ``$TINYGRAD_MLP_DATA`` is given.
DEFAULT_ROOT = Path("~/.cache/tinygrad_mlp/mnist")

#: The four MNIST files, by their uncompressed names (a ``.gz`` copy is equally accepted).
FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)

#: Base URLs tried in order; each serves ``<name>.gz`` for every name in :data:`FILES`.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: Pinned SHA-256 of the *decompressed* IDX bytes, so a re-compressed copy still verifies.
SHA256: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

IMAGES_MAGIC = 2051  # 0x00000803: unsigned bytes, 3 dimensions
LABELS_MAGIC = 2049  # 0x00000801: unsigned bytes, 1 dimension

# IDX type code -> element dtype (IDX stores multi-byte values big-endian).
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
#: The largest IDX data ``read_idx`` accepts by default (MNIST's biggest file holds 47 MB);
#: checked against the header before the data is read or decompressed.
MAX_IDX_BYTES = 1 << 28
#: Bytes after the declared data are counted (never kept) up to this many, then refused.
_MAX_TRAILING_COUNT = 1 << 26
_DEFAULT_TIMEOUT = 30.0


class MNISTError(ValueError):
    """An MNIST/IDX file is unreadable, corrupt or inconsistent.

    The message names the offending file(s), what is wrong, and how to fix it.
    """


class MNISTMissingError(MNISTError, FileNotFoundError):
    """MNIST files are missing and could not be downloaded (or downloading was disabled).

    Subclasses both :class:`MNISTError` and :class:`FileNotFoundError`. ``root`` is the
    directory, ``missing`` the file names, ``failures`` each file's list of
    ``"<url>: <reason>"`` (empty when nothing was tried), so a caller can say it its way.
    """

    def __init__(self, message: str, root: Path | None = None, missing: Sequence[str] = (),
                 failures: Mapping[str, Sequence[str]] | None = None) -> None:
        super().__init__(message)
        self.root = root
        self.missing = list(missing)
        self.failures = {k: list(v) for k, v in (failures or {}).items()}


def _fix_hint(path: Path) -> str:
    path = path.absolute()
    return (
        f"Delete {path} so that load_mnist() downloads it again, "
        f"or replace it with an intact copy in {path.parent}."
    )


def _file_error(path: Path, problem: str) -> MNISTError:
    return MNISTError(f"{path.absolute()}: {problem}. {_fix_hint(path)}")


def _dims_text(dims: Sequence[int]) -> str:
    return "×".join(str(d) for d in dims)


def read_idx(
    path: str | os.PathLike[str], *, magic: int | None = None, max_bytes: int = MAX_IDX_BYTES
) -> np.ndarray:
    """Read an IDX file (gzipped or raw) into a numpy array, validating its structure.

    The IDX format is: two zero bytes, a type code byte (``0x08`` = unsigned byte, also
    ``0x09`` int8, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64), a byte
    giving the number of dimensions, then that many big-endian uint32 sizes, then the data in
    C order. The data length must match the sizes exactly: missing or trailing bytes are errors.

    A file is decompressed when its name ends in ``.gz`` or its content starts with the gzip
    magic bytes.

    Parameters
    ----------
    path : str or os.PathLike
        File to read.
    magic : int, optional
        Expected magic number (the first four header bytes read as a big-endian integer), e.g.
        ``2051`` for MNIST images or ``2049`` for MNIST labels. ``None`` accepts any valid IDX
        header.
    max_bytes : int, default MAX_IDX_BYTES
        The most data bytes the header may declare; checked before anything is read, so a
        small (gzipped) file cannot make this function allocate gigabytes.

    Returns
    -------
    numpy.ndarray
        Array with the header's shape, in native byte order. For unsigned-byte files it is a
        read-only view on the file contents (copy it if you need to write to it).

    Raises
    ------
    MNISTError
        If the file cannot be read, is not valid gzip, has a bad or unexpected header, or its
        data length does not match the header. The message names the file.

    Examples
    --------
    >>> labels = read_idx("t10k-labels-idx1-ubyte.gz", magic=2049)  # doctest: +SKIP
    >>> labels.shape, labels.dtype  # doctest: +SKIP
    ((10000,), dtype('uint8'))
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            compressed = path.suffix == ".gz" or raw.read(2) == _GZIP_MAGIC
            raw.seek(0)
            if compressed:  # streamed: the header is checked before anything is inflated
                with gzip.GzipFile(fileobj=raw) as stream:
                    blob, dtype, dims = _read_idx_stream(path, stream, magic, max_bytes)
            else:
                blob, dtype, dims = _read_idx_stream(path, raw, magic, max_bytes)
    except FileNotFoundError as exc:
        raise MNISTMissingError(
            f"{path.absolute()}: no such file. Put the file there, or call "
            "load_mnist(download=True) to download the MNIST files."
        ) from exc
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise _file_error(path, f"corrupt gzip data ({exc})") from exc
    except OSError as exc:
        raise MNISTError(
            f"{path.absolute()}: cannot be read ({exc.strerror or exc}). Check that it is a "
            "readable file."
        ) from exc
    array = np.frombuffer(blob, dtype=dtype).reshape(dims)
    if dtype.itemsize > 1:
        array = array.astype(dtype.newbyteorder("="))
    return array


def _read_idx_stream(
    path: Path, stream: BinaryIO, magic: int | None, max_bytes: int
) -> tuple[bytes, np.dtype, tuple[int, ...]]:
    """(data bytes, dtype, dims) of an IDX stream, its header checked before the
    data is read: at most the declared size (and ``max_bytes``) is ever held."""
    where = " (sizes are of the decompressed data)" if isinstance(stream, gzip.GzipFile) else ""
    head = stream.read(4)
    if len(head) < 4:
        raise _file_error(
            path, f"truncated: {len(head)} bytes{where}, too short for the 4-byte IDX magic number"
        )
    found_magic = int.from_bytes(head, "big")
    if magic is not None and found_magic != magic:
        raise _file_error(path, f"bad magic number {found_magic}, expected {magic}")
    if head[0] != 0 or head[1] != 0:
        raise _file_error(
            path, f"bad magic number {found_magic}: not an IDX file (first two bytes must be zero)"
        )
    type_code, ndim = head[2], head[3]
    dtype = _IDX_DTYPES.get(type_code)
    if dtype is None:
        raise _file_error(
            path, f"bad magic number {found_magic}: unknown IDX type code 0x{type_code:02x}"
        )
    if ndim == 0:
        raise _file_error(path, f"bad magic number {found_magic}: IDX header has 0 dimensions")
    header_len = 4 + 4 * ndim
    sizes = stream.read(4 * ndim)
    if len(sizes) < 4 * ndim:
        raise _file_error(
            path,
            f"truncated: the header declares {ndim} dimensions and needs {header_len} bytes, "
            f"file has {4 + len(sizes)}{where}",
        )
    dims = struct.unpack(f">{ndim}I", sizes)
    count = math.prod(dims)
    expected = count * dtype.itemsize
    size = f"{_dims_text(dims)} = {expected} bytes"
    if dtype.itemsize != 1:
        size = f"{_dims_text(dims)} × {dtype.itemsize} = {expected} bytes"
    if expected > max_bytes:
        raise _file_error(
            path, f"the header declares {size}{where}, more than the {max_bytes} bytes "
            "allowed (MNIST's largest file holds 47040000; read_idx(max_bytes=...))"
        )
    data = stream.read(expected)
    actual = len(data)
    while actual >= expected and (chunk := stream.read(_CHUNK)):  # count, never keep, extra
        actual += len(chunk)
        if actual - expected > _MAX_TRAILING_COUNT:
            break
    if actual != expected:
        kind = "truncated" if actual < expected else f"{actual - expected} trailing bytes"
        if actual - expected > _MAX_TRAILING_COUNT:
            kind = f"more than {_MAX_TRAILING_COUNT} trailing bytes"
        raise _file_error(
            path,
            f"{kind}: header says {size}, file has {actual} after the {header_len}-byte "
            f"header{where}",
        )
    return data, dtype, dims


def mnist_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Return the MNIST data directory that :func:`load_mnist` would use.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Explicit directory. When ``None``, ``$TINYGRAD_MLP_DATA`` is used if set and non-empty,
        otherwise ``~/.cache/tinygrad_mlp/mnist``.

    Returns
    -------
    pathlib.Path
        The directory (``~`` expanded); it is not created.

    Examples
    --------
    >>> mnist_root("/data/mnist")
    PosixPath('/data/mnist')
    """
    if root is None:
        root = os.environ.get(ENV_VAR) or DEFAULT_ROOT
    return Path(root).expanduser()


def _existing(root: Path, name: str) -> Path | None:
    """Return the raw file if present (faster to read), else the ``.gz`` file, else None."""
    for candidate in (root / name, root / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def _where_to_put(root: Path) -> str:
    names = ", ".join(FILES)
    return (
        f"Put the MNIST files ({names}; each gzipped as <name>.gz or raw) in {root}, "
        f"or set {ENV_VAR} to a directory that holds them"
    )


def _missing_message(
    root: Path, missing: Sequence[str], failures: Mapping[str, Sequence[str]] | None
) -> str:
    lines = [f"MNIST files missing from {root}: {', '.join(missing)}."]
    if failures is None:
        lines.append(
            f"Downloading is disabled (download=False). {_where_to_put(root)}, "
            "or call load_mnist(download=True)."
        )
    else:
        lines.append("Downloading failed from every mirror:")
        for name in missing:
            lines.append(f"  {name}.gz:")
            reasons = failures.get(name) or ["no mirrors were configured"]
            lines.extend(f"    {reason}" for reason in reasons)
        lines.append(f"{_where_to_put(root)}; or check your network connection and retry.")
    return "\n".join(lines)


class _MirrorFailure(Exception):
    """One mirror failed to deliver one file; ``dead`` means skip it for the remaining files."""

    def __init__(self, reason: str, *, dead: bool = False) -> None:
        super().__init__(reason)
        self.dead = dead


def _decompressed_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as exc:
        raise _MirrorFailure(f"not valid gzip data ({exc})") from exc
    return digest.hexdigest()


def _fetch(
    opener: urllib.request.OpenerDirector,
    url: str,
    dest: Path,
    expected_sha256: str,
    timeout: float,
) -> None:
    """Download ``url`` to ``dest`` atomically, verifying the decompressed SHA-256.

    The bytes go to a uniquely named temporary file next to ``dest``; it is moved into place with
    :func:`os.replace` only once verified, and removed on any failure (including interrupts).
    """
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    try:
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "tinygrad_mlp"})
            with opener.open(request, timeout=timeout) as response, open(tmp, "xb") as out:
                while chunk := response.read(_CHUNK):
                    out.write(chunk)
        except urllib.error.HTTPError as exc:
            exc.close()
            raise _MirrorFailure(f"HTTP error {exc.code} {exc.reason}") from exc
        except urllib.error.URLError as exc:
            raise _MirrorFailure(f"cannot connect ({exc.reason})", dead=True) from exc
        except (TimeoutError, ConnectionError) as exc:
            raise _MirrorFailure(f"connection failed ({exc!r})", dead=True) from exc
        except (OSError, http.client.HTTPException, ValueError) as exc:
            raise _MirrorFailure(f"download failed ({exc!r})") from exc

        actual = _decompressed_sha256(tmp)
        if actual != expected_sha256:
            raise _MirrorFailure(
                f"checksum mismatch: SHA-256 of the decompressed data is {actual}, "
                f"expected {expected_sha256}"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def download_mnist(
    root: str | os.PathLike[str] | None = None,
    mirrors: Sequence[str] | None = None,
    *,
    sha256: Mapping[str, str] | None = None,
    timeout: float = _DEFAULT_TIMEOUT,
    progress: bool = True,
    files: Sequence[str] = FILES,
) -> dict[str, Path]:
    """Download the MNIST files (of ``files``) that are missing from ``root``.

    Each missing file is fetched as ``<mirror><name>.gz`` from the mirrors in order, written to a
    temporary file in ``root``, verified against the SHA-256 of its decompressed bytes, then
    atomically renamed into place. On any failure (network error, HTTP error, invalid gzip,
    checksum mismatch) the temporary file is deleted and the next mirror is tried; a mirror that
    cannot be reached at all is skipped for the remaining files. Files already present (raw or
    ``.gz``) are neither re-downloaded nor re-verified.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Target directory (created if needed); see :func:`mnist_root` for the default.
    mirrors : sequence of str, optional
        Base URLs to try in order; defaults to :data:`MIRRORS` (read at call time).
    sha256 : mapping of str to str, optional
        Expected digest of each decompressed file, keyed by the names in :data:`FILES`;
        defaults to :data:`SHA256` (read at call time).
    timeout : float, default 30.0
        Socket timeout in seconds for each connection and read.
    progress : bool, default True
        Print one line per downloaded file to stderr.
    files : sequence of str, default FILES
        Which of the four files are wanted.

    Returns
    -------
    dict of str to pathlib.Path
        The path of each wanted file, keyed by its name in :data:`FILES`.

    Raises
    ------
    MNISTMissingError
        If some file could not be obtained from any mirror. The message lists the missing files,
        the directory, every mirror's failure reason, and where to put the files instead. No
        partial or temporary file is left behind.

    Examples
    --------
    >>> paths = download_mnist("/tmp/mnist")  # doctest: +SKIP
    >>> sorted(p.name for p in paths.values())[0]  # doctest: +SKIP
    't10k-images-idx3-ubyte.gz'
    """
    root_dir = mnist_root(root)
    if mirrors is None:
        mirrors = MIRRORS
    mirror_list = [mirrors] if isinstance(mirrors, str) else list(mirrors)
    digests = SHA256 if sha256 is None else sha256
    found = {name: _existing(root_dir, name) for name in files}
    missing = [name for name, path in found.items() if path is None]
    if not missing:
        return {name: path for name, path in found.items() if path is not None}
    unpinned = [name for name in missing if name not in digests]
    if unpinned:
        raise MNISTError(
            f"the SHA-256 table has no digest for {', '.join(unpinned)}; cannot verify a "
            f"download. Add the digests, or put verified files in {root_dir}."
        )

    try:
        root_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MNISTMissingError(
            f"MNIST files missing from {root_dir}: {', '.join(missing)}. Cannot create that "
            f"directory ({exc.strerror or exc}). {_where_to_put(root_dir)}.",
            root_dir, missing, {name: [f"cannot create {root_dir} ({exc.strerror or exc})"]
                                for name in missing},
        ) from exc

    opener = urllib.request.build_opener()  # picks up the current *_proxy environment
    dead: dict[str, str] = {}
    failures: dict[str, list[str]] = {}
    for name in missing:
        dest = root_dir / f"{name}.gz"
        if progress:
            print(f"tinygrad_mlp: downloading {dest.name} into {root_dir}", file=sys.stderr)
        reasons = failures.setdefault(name, [])
        for mirror in mirror_list:
            url = f"{mirror.rstrip('/')}/{name}.gz"
            if mirror in dead:
                reasons.append(f"{url}: skipped, mirror unreachable earlier ({dead[mirror]})")
                continue
            try:
                _fetch(opener, url, dest, digests[name].lower(), timeout)
            except _MirrorFailure as exc:
                reasons.append(f"{url}: {exc}")
                if exc.dead:
                    dead[mirror] = str(exc)
                continue
            found[name] = dest
            break

    still_missing = [name for name in missing if found[name] is None]
    if still_missing:
        raise MNISTMissingError(
            _missing_message(root_dir, still_missing, failures), root_dir, still_missing, failures
        )
    return {name: path for name, path in found.items() if path is not None}


def _check_pair(images: np.ndarray, labels: np.ndarray, image_path: Path, label_path: Path) -> None:
    if images.shape[1:] != (28, 28):
        raise _file_error(image_path, f"images are {_dims_text(images.shape[1:])}, expected 28×28")
    if len(images) != len(labels):
        raise MNISTError(
            f"{image_path} has {len(images)} images but {label_path} has {len(labels)} labels; "
            f"they must match. Delete both so that load_mnist() downloads them again, or put "
            f"a matching pair in {image_path.parent}."
        )
    if labels.size and labels.max() > 9:
        index = int(np.argmax(labels > 9))
        raise _file_error(label_path, f"label {labels[index]} at index {index} is outside 0..9")


def load_mnist(
    root: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[NDArray[np.float32], NDArray[np.int64], NDArray[np.float32], NDArray[np.int64]]:
    """Load MNIST as flat float images in [0, 1] and int64 labels.

    Files are looked up in ``root``, else ``$TINYGRAD_MLP_DATA``, else
    ``~/.cache/tinygrad_mlp/mnist``; each may be raw or gzipped (``.gz``), the raw one being
    preferred when both exist. Missing files are downloaded with :func:`download_mnist` when
    ``download`` is true. Every file's structure is validated on every load; checksums are only
    verified when downloading.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Directory holding the four MNIST files.
    download : bool, default True
        Download missing files from :data:`MIRRORS`.

    Returns
    -------
    x_train : numpy.ndarray
        ``float32`` array of shape ``(60000, 784)`` with values in [0, 1].
    y_train : numpy.ndarray
        ``int64`` array of shape ``(60000,)`` with labels 0..9.
    x_test : numpy.ndarray
        ``float32`` array of shape ``(10000, 784)`` with values in [0, 1].
    y_test : numpy.ndarray
        ``int64`` array of shape ``(10000,)`` with labels 0..9.

    Raises
    ------
    MNISTMissingError
        If files are missing and ``download`` is false or every mirror failed.
    MNISTError
        If a file is corrupt, images are not 28×28, image and label counts differ, or a label
        is outside 0..9.

    Examples
    --------
    >>> x_train, y_train, x_test, y_test = load_mnist()  # doctest: +SKIP
    >>> x_train.shape, y_train.dtype  # doctest: +SKIP
    ((60000, 784), dtype('int64'))
    """
    x_train, y_train, x_test, y_test = _load_splits(root, download, ("train", "t10k"))
    return x_train, y_train, x_test, y_test


def load_mnist_test(
    root: str | os.PathLike[str] | None = None, download: bool = True
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Only the test split, ``(x_test, y_test)``, as :func:`load_mnist` returns it.

    Needs (and downloads) only the two ``t10k`` files: evaluating a model never reads the
    training set.

    Examples
    --------
    >>> x_test, y_test = load_mnist_test()  # doctest: +SKIP
    >>> x_test.shape  # doctest: +SKIP
    (10000, 784)
    """
    x_test, y_test = _load_splits(root, download, ("t10k",))
    return x_test, y_test


def _load_splits(
    root: str | os.PathLike[str] | None, download: bool, splits: Sequence[str]
) -> list[np.ndarray]:
    """[x, y] for each split ("train", "t10k"), reading (or downloading) only their files."""
    root_dir = mnist_root(root)
    names = [f"{split}-{kind}" for split in splits
             for kind in ("images-idx3-ubyte", "labels-idx1-ubyte")]
    found = {name: _existing(root_dir, name) for name in names}
    paths = {name: path for name, path in found.items() if path is not None}
    missing = [name for name in names if name not in paths]
    if missing:
        if not download:
            raise MNISTMissingError(_missing_message(root_dir, missing, None), root_dir, missing)
        paths = download_mnist(root_dir, files=names)

    arrays: list[np.ndarray] = []
    for split in splits:
        image_path = paths[f"{split}-images-idx3-ubyte"]
        label_path = paths[f"{split}-labels-idx1-ubyte"]
        images = read_idx(image_path, magic=IMAGES_MAGIC)
        labels = read_idx(label_path, magic=LABELS_MAGIC)
        _check_pair(images, labels, image_path, label_path)
        x = np.divide(images.reshape(len(images), -1), np.float32(255), dtype=np.float32)
        arrays += [x, labels.astype(np.int64)]
    return arrays


class DataLoader:
    """Iterate over ``(x, y)`` in mini-batches, optionally reshuffled every epoch.

    Each ``for`` loop over the loader is one epoch. With ``shuffle=True`` every epoch draws a
    fresh permutation from a :func:`numpy.random.default_rng` generator owned by the loader, so
    consecutive epochs differ while two loaders built with the same ``seed`` yield identical
    sequences.

    Batches are C-contiguous arrays. Shuffled batches are fresh copies (gathered with one
    fancy-indexing operation per batch, which measured faster than permuting the whole dataset
    once per epoch); unshuffled batches are views into ``x`` and ``y``, so do not modify them in
    place unless you mean to modify the dataset.

    Parameters
    ----------
    x : array_like
        Inputs; the first axis indexes samples.
    y : array_like
        Targets; ``len(y)`` must equal ``len(x)``.
    batch_size : int
        Samples per batch, at least 1.
    shuffle : bool, default False
        Visit samples in a new random order each epoch.
    seed : int, optional
        Seed of the shuffling generator; ``None`` for a nondeterministic one.
    drop_last : bool, default False
        Drop the final batch when it has fewer than ``batch_size`` samples.

    Raises
    ------
    ValueError
        If ``x`` or ``y`` is a scalar, their lengths differ, or ``batch_size < 1``.
    TypeError
        If ``batch_size`` is not an integer.

    Examples
    --------
    >>> loader = DataLoader(np.zeros((5, 2)), np.arange(5), batch_size=2)
    >>> len(loader), [yb.tolist() for _, yb in loader]
    (3, [[0, 1], [2, 3], [4]])
    """

    def __init__(
        self,
        x: ArrayLike,
        y: ArrayLike,
        batch_size: int,
        shuffle: bool = False,
        seed: int | None = None,
        drop_last: bool = False,
    ) -> None:
        x_arr = np.asarray(x)
        y_arr = np.asarray(y)
        if x_arr.ndim == 0 or y_arr.ndim == 0:
            raise ValueError(
                f"x and y must be arrays with a sample axis, got shapes {x_arr.shape} "
                f"and {y_arr.shape}"
            )
        if len(x_arr) != len(y_arr):
            raise ValueError(
                f"x and y must have the same number of samples, got len(x)={len(x_arr)} "
                f"and len(y)={len(y_arr)}"
            )
        if isinstance(batch_size, bool) or not isinstance(batch_size, int | np.integer):
            raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.x = np.ascontiguousarray(x_arr)
        self.y = np.ascontiguousarray(y_arr)
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self._rng = np.random.default_rng(seed)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        n = len(self.x)
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Start an epoch; with ``shuffle`` the order is drawn now, not at the first batch."""
        if self.shuffle:
            return self._gather(self._rng.permutation(len(self.x)))
        return self._slices()

    def _slices(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        x, y, size = self.x, self.y, self.batch_size
        for start in range(0, len(self) * size, size):
            yield x[start : start + size], y[start : start + size]

    def _gather(self, order: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        x, y, size = self.x, self.y, self.batch_size
        for start in range(0, len(self) * size, size):
            index = order[start : start + size]
            yield x[index], y[index]

    def __repr__(self) -> str:
        return (
            f"DataLoader(samples={len(self.x)}, batch_size={self.batch_size}, "
            f"shuffle={self.shuffle}, drop_last={self.drop_last}, batches={len(self)})"
        )
