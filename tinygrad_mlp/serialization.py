"""``tg.save`` / ``tg.load``: nested state as one ``.npz`` file, never pickle.

Layout. Every array in ``obj`` is stored as an npz member named by its path of keys
joined with ``/`` (a plain state_dict therefore keeps its own names: ``fc1.weight``;
paths with unusual characters get a generated name).
One extra member, ``__tinygrad_mlp__``, holds a UTF-8 JSON *manifest* (as a uint8
array) that mirrors the structure: dicts (with str or int keys, in order), lists,
tuples, Python scalars, strings and None inline, and a reference to the member for each
array. ``load`` rebuilds the same structure with ndarrays (Tensors come back as arrays).

Safety. ``load`` never unpickles, so a file cannot run code; object arrays are refused.
Sizes are checked before anything is allocated: every array's header must agree with the
bytes its member holds, and all arrays together may unpack to at most
``MAX_EXPANSION`` times the file's size (or ``MIN_ALLOWANCE``, whichever is larger), so a
1 MB file cannot make ``load`` allocate gigabytes; ``max_bytes`` sets another limit. The
manifest may nest at most ``MAX_DEPTH`` levels.

``save`` writes a temporary file in the target's directory, flushes and fsyncs it, then
``os.replace``-s it over the target: a crash or an error midway leaves the previous file
intact. An error removes the temporary file; a process killed midway cannot, so each
temporary file carries its writer's process id and the next ``save`` to the same path
removes those whose writer is gone.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping
from typing import Any

import numpy as np

from tinygrad_mlp.tensor import Tensor

__all__ = ["MANIFEST_KEY", "CheckpointError", "load", "save"]

#: npz member holding the JSON manifest.
MANIFEST_KEY = "__tinygrad_mlp__"
_FORMAT = 1
_SEP = "/"
# member names kept readable; other paths get a generated name (zip mangles NUL, "..", etc.)
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.~+\-]+(/[A-Za-z0-9_.~+\-]+)*")
# npz member names that would clash with the manifest or with np.savez's own arguments
_RESERVED = frozenset({MANIFEST_KEY, "file", "allow_pickle", "args", "kwds"})
#: ``load`` refuses files whose arrays would unpack to more than this many times the file's
#: size (compression shrinks real weights ~1.1x; only a crafted file claims 1000x) ...
MAX_EXPANSION = 64
#: ... unless they fit in this many bytes anyway.
MIN_ALLOWANCE = 256 * 2**20
#: Deepest nesting of dicts/lists/tuples that ``save`` writes and ``load`` reads.
MAX_DEPTH = 100


class CheckpointError(ValueError):
    """A file is not a readable checkpoint (corrupt, truncated, or with unsafe content)."""


# ----- flattening ---------------------------------------------------------------------------


def _flatten(obj: Any, path: list[str], arrays: dict[str, np.ndarray]) -> Any:
    """Manifest node for ``obj``; arrays found are added to ``arrays`` under unique names."""
    where = _SEP.join(path) or "<root>"
    if len(path) > MAX_DEPTH:
        raise ValueError(f"save: {where[:60]!r}... is nested more than {MAX_DEPTH} levels deep")
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "OV":
            raise TypeError(f"save: array at {where!r} has dtype {obj.dtype}, which needs pickle")
        name = _SEP.join(path)
        if not _SAFE_NAME.fullmatch(name) or ".." in name or "//" in name:
            name = f"array_{len(arrays)}"  # the manifest maps it back to its real path
        base, n = name, 1
        while name in arrays or name in _RESERVED:
            name, n = f"{base}~{n}", n + 1
        arrays[name] = obj
        return {"t": "array", "k": name}
    if obj is None or isinstance(obj, (bool, str)):
        return {"t": "value", "v": obj}
    if isinstance(obj, int):
        return {"t": "value", "v": int(obj)}
    if isinstance(obj, float):
        return {"t": "float", "v": repr(obj)}  # repr round-trips exactly, inf and nan too
    if isinstance(obj, np.generic):
        if obj.dtype.kind in "OV":
            raise TypeError(f"save: value at {where!r} has dtype {obj.dtype}, which needs pickle")
        node = _flatten(np.asarray(obj), path, arrays)
        return {"t": "scalar", "k": node["k"]}
    if isinstance(obj, Mapping):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(
                    f"save: dict keys must be str or int, got {type(key).__name__} at {where!r}"
                )
            kind = "s" if isinstance(key, str) else "i"
            items.append(
                [kind, key if kind == "s" else int(key), _flatten(value, path + [str(key)], arrays)]
            )
        return {"t": "dict", "items": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {
            "t": kind,
            "items": [_flatten(v, path + [str(i)], arrays) for i, v in enumerate(obj)],
        }
    raise TypeError(
        f"save: cannot store {type(obj).__name__} at {where!r}: only dicts, lists, tuples, "
        "arrays/Tensors, numbers, strings, bools and None"
    )


def _unflatten(node: Any, arrays: Mapping[str, np.ndarray], depth: int = 0) -> Any:
    """Rebuild the object described by manifest ``node``."""
    if depth > MAX_DEPTH:
        raise ValueError(f"nested more than {MAX_DEPTH} levels deep")
    t = node["t"]
    if t == "array":
        return arrays[node["k"]]
    if t == "scalar":
        return arrays[node["k"]][()]
    if t == "value":
        v = node["v"]
        if v is not None and not isinstance(v, (bool, int, str)):
            raise ValueError(f"bad value {v!r}")
        return v
    if t == "float":
        return float(node["v"])
    if t == "dict":
        out = {}
        for kind, key, child in node["items"]:
            if kind not in ("s", "i"):
                raise ValueError(f"bad key kind {kind!r}")
            out[str(key) if kind == "s" else int(key)] = _unflatten(child, arrays, depth + 1)
        return out
    if t in ("list", "tuple"):
        items = [_unflatten(child, arrays, depth + 1) for child in node["items"]]
        return items if t == "list" else tuple(items)
    raise ValueError(f"unknown node type {t!r}")


# ----- save ---------------------------------------------------------------------------------


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save(obj: Any, path: str | os.PathLike[str], compress: bool = False) -> None:
    """Write ``obj`` (a state_dict, or nested dicts/lists of arrays and scalars) to ``path``.

    The file is an ``.npz`` archive (no pickle), written atomically: the previous file,
    if any, is replaced only once the new one is complete and on disk. ``path`` is used
    exactly as given (no ``.npz`` is appended). A path ending in ``.safetensors`` writes
    that format instead (the ``safetensors`` extra; see :func:`_safetensors_bytes`):
    a flat state_dict that PyTorch and Hugging Face tools read.

    Parameters
    ----------
    obj : dict, list, tuple, ndarray or Tensor
        Nested containers of arrays/Tensors, Python numbers, strings, bools and None.
        Dict keys must be str or int.
    path : str or path-like
        Destination file.
    compress : bool, default False
        Use ``np.savez_compressed`` (smaller, slower).

    >>> import os, tempfile, numpy as np, tinygrad_mlp as tg
    >>> path = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
    >>> tg.save({"model": {"w": np.eye(2)}, "meta": {"epoch": 3}}, path)
    >>> ckpt = tg.load(path)
    >>> ckpt["meta"]["epoch"], ckpt["model"]["w"].shape
    (3, (2, 2))
    """
    path = os.fspath(path)
    payload = _safetensors_bytes(obj, path) if _is_safetensors(path) else None
    if payload is None:
        arrays: dict[str, np.ndarray] = {}
        manifest = {"format": _FORMAT, "root": _flatten(obj, [], arrays)}
        blob = json.dumps(manifest, separators=(",", ":")).encode("utf-8")
        members = {**arrays, MANIFEST_KEY: np.frombuffer(blob, dtype=np.uint8)}
    directory = os.path.dirname(os.path.abspath(path))
    _remove_stale_temps(directory, os.path.basename(path))
    fd, tmp = tempfile.mkstemp(
        prefix=f".{os.path.basename(path)}.{os.getpid()}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "wb") as f:
            if payload is not None:
                f.write(payload)
            else:
                writer = np.savez_compressed if compress else np.savez
                writer(f, allow_pickle=False, **members)
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = os.stat(path).st_mode & 0o7777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_directory(directory)


def _remove_stale_temps(directory: str, base: str) -> None:
    """Delete ``.<base>.<pid>.*.tmp`` files left by saves whose process was killed."""
    if os.name != "posix":
        return
    prefix = f".{base}."
    try:
        names = [n for n in os.listdir(directory) if n.startswith(prefix) and n.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        pid = name[len(prefix):].split(".", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:  # the writer is gone: nobody will finish this file
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass
        except OSError:
            pass  # alive under another user, or unknowable: leave it


def _fsync_directory(directory: str) -> None:
    """Make the rename durable (best effort; not every platform can open a directory)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----- load ---------------------------------------------------------------------------------


def load(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> Any:
    """Read what ``save`` wrote: the same structure, with ndarrays for arrays.

    A plain ``.npz`` without a manifest loads as ``{member name: array}``.

    Parameters
    ----------
    path : str or path-like
    max_bytes : int, optional
        The most bytes all arrays together may unpack to. Default: ``MAX_EXPANSION``
        times the file's size, or ``MIN_ALLOWANCE`` if that is larger. Checked before
        anything is allocated.

    Returns
    -------
    object
        Dicts, lists, tuples, ndarrays and Python scalars, as saved.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    CheckpointError
        (a ValueError) the file is corrupt, truncated, not an npz, holds pickled data,
        or its arrays would unpack to more than the limit (the message gives both sizes).

    >>> import os, tempfile, numpy as np, tinygrad_mlp as tg
    >>> path = os.path.join(tempfile.mkdtemp(), "w.npz")
    >>> tg.save({"fc.weight": np.zeros((2, 3), np.float32)}, path)
    >>> tg.load(path)["fc.weight"].dtype
    dtype('float32')
    """
    path = os.fspath(path)
    if _is_safetensors(path):
        return _load_safetensors(path, max_bytes)
    try:
        arrays = _read_npz(path, max_bytes)
    except (FileNotFoundError, IsADirectoryError, PermissionError, CheckpointError):
        raise
    except Exception as e:  # a damaged file can fail in many ways (zip, zlib, header, EOF)
        raise CheckpointError(
            f"{path}: not a readable tinygrad_mlp checkpoint (corrupt or truncated?): "
            f"{type(e).__name__}: {e}"
        ) from e
    if MANIFEST_KEY not in arrays:
        return arrays
    try:
        blob = arrays.pop(MANIFEST_KEY)
        if blob.dtype != np.uint8 or blob.ndim != 1:
            raise ValueError("manifest is not a byte string")
        manifest = json.loads(blob.tobytes().decode("utf-8"))
        if manifest.get("format") != _FORMAT:
            raise ValueError(f"unsupported format version {manifest.get('format')!r}")
        return _unflatten(manifest["root"], arrays)
    except RecursionError:
        raise CheckpointError(f"{path}: checkpoint manifest is corrupt (nested too deeply)") \
            from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
        raise CheckpointError(f"{path}: checkpoint manifest is corrupt ({e})") from e


# ----- .safetensors (optional extra): the format PyTorch / Hugging Face users exchange ----

_SAFETENSORS_HINT = ("pip install safetensors (from a checkout: "
                     "pip install -e \".[safetensors]\"), or save to a .npz path")


def _is_safetensors(path: str) -> bool:
    return path.lower().endswith(".safetensors")


def _safetensors_numpy(path: str) -> Any:
    try:
        from safetensors import numpy as st_numpy
    except ImportError:
        raise ImportError(
            f"{path}: .safetensors files need the safetensors package: {_SAFETENSORS_HINT}"
        ) from None
    return st_numpy


def _flat_arrays(obj: Any, prefix: str, out: dict[str, np.ndarray], path: str) -> None:
    """Arrays of a (nested) state_dict under dotted names, as PyTorch names parameters."""
    if isinstance(obj, Tensor):
        obj = obj.data
    if isinstance(obj, (np.ndarray, np.generic)):
        out[prefix] = np.asarray(obj).copy(order="C")  # keeps 0-d (ascontiguousarray would not)
        return
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"save {path}: keys must be str or int, got {key!r}")
            _flat_arrays(value, f"{prefix}.{key}" if prefix else str(key), out, path)
        return
    raise TypeError(
        f"save {path}: .safetensors holds only arrays, but {prefix or '<root>'!r} is a "
        f"{type(obj).__name__}; save it to a .npz path instead"
    )


def _safetensors_bytes(obj: Any, path: str) -> bytes:
    """``obj`` — a state_dict (name → Tensor/array), or nested dicts of them, flattened to
    dotted names — as .safetensors bytes (a JSON header of names, dtypes, shapes, offsets,
    then the raw data: no code, safe to load from anyone)."""
    arrays: dict[str, np.ndarray] = {}
    _flat_arrays(obj, "", arrays, path)
    if "" in arrays:
        raise TypeError(f"save {path}: .safetensors needs a dict of arrays, not a bare array")
    return bytes(_safetensors_numpy(path).save(arrays))


def _load_safetensors(path: str, max_bytes: int | None) -> dict[str, np.ndarray]:
    """``{name: ndarray}`` from a .safetensors file (e.g. written by ``safetensors.torch``)."""
    st_numpy = _safetensors_numpy(path)
    size = os.path.getsize(path)  # FileNotFoundError names the path
    if max_bytes is not None and size > max_bytes:
        raise CheckpointError(f"{path}: {size} bytes is over the limit of {max_bytes}")
    try:
        return dict(st_numpy.load_file(path))
    except (IsADirectoryError, PermissionError):
        raise
    except Exception as e:  # the package raises its own SafetensorError for a bad header
        raise CheckpointError(
            f"{path}: not a readable .safetensors file (corrupt or truncated?): "
            f"{type(e).__name__}: {e}"
        ) from e


def _read_npz(path: str, max_bytes: int | None) -> dict[str, np.ndarray]:
    """The arrays of an npz file, each size checked against the file before allocation."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if f.read(6) == b"\x93NUMPY":
            raise CheckpointError(f"{path}: an .npy array, not an .npz checkpoint")
        f.seek(0)
        with zipfile.ZipFile(f) as archive:
            members = archive.infolist()
            limit = max(MAX_EXPANSION * size, MIN_ALLOWANCE) if max_bytes is None else max_bytes
            declared = sum(m.file_size for m in members)
            if declared > limit:
                raise CheckpointError(
                    f"{path}: its arrays would unpack to {declared:,} bytes from a "
                    f"{size:,}-byte file; refused (limit {limit:,} bytes: load(max_bytes=...))"
                )
            return {m.filename.removesuffix(".npy"): _read_member(archive, m, path)
                    for m in members}


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, path: str) -> np.ndarray:
    """One ``.npy`` member, its header checked against the member's size first."""
    with archive.open(member) as fp:
        version = np.lib.format.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fp)
        elif version == (2, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fp)
        else:
            raise ValueError(f"member {member.filename!r}: unsupported .npy version {version}")
        if dtype.hasobject:
            raise CheckpointError(
                f"{path}: member {member.filename!r} holds object (pickled) data, "
                "which is refused for safety"
            )
        nbytes = math.prod(shape) * dtype.itemsize
        if fp.tell() + nbytes != member.file_size:
            raise ValueError(
                f"member {member.filename!r} declares shape {shape} of {dtype} ({nbytes:,} "
                f"bytes) but holds {member.file_size - fp.tell():,} bytes"
            )
        out = np.empty(shape, dtype, order="F" if fortran else "C")
        flat = out.reshape(-1, order="A").view(np.uint8)  # the same memory, as bytes
        done = 0
        while done < nbytes:  # in chunks: never a second full-size buffer
            chunk = fp.read(min(nbytes - done, 1 << 20))
            if not chunk:
                raise ValueError(f"member {member.filename!r} is truncated")
            flat[done : done + len(chunk)] = np.frombuffer(chunk, np.uint8)
            done += len(chunk)
        return out
