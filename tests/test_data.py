"""Tests for tinygrad_mlp.data: IDX reading, MNIST loading/downloading, DataLoader.

The network is never touched beyond 127.0.0.1 (enforced by an autouse guard), and nothing is
written outside pytest's tmp_path (HOME and $TINYGRAD_MLP_DATA are redirected per test).
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tinygrad_mlp import data
from tinygrad_mlp.data import (
    ENV_VAR,
    FILES,
    DataLoader,
    MNISTError,
    MNISTMissingError,
    download_mnist,
    load_mnist,
    mnist_root,
    read_idx,
)

# Captured before the autouse fixture hides it from every test.
REAL_MNIST_DIR = os.environ.get(ENV_VAR)

TYPE_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D}
TYPE_CODES[np.float64] = 0x0E


# --------------------------------------------------------------------------------------------
# helpers and fixtures


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise ``array`` as an IDX file (big-endian data)."""
    code = TYPE_CODES[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def raw_header(magic: int, dims: tuple[int, ...]) -> bytes:
    return struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims)


def synthetic_mnist(n_train: int = 12, n_test: int = 7, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    images_train = rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)
    images_train[0, 0, 0], images_train[0, 0, 1] = 0, 255
    return {
        "train-images-idx3-ubyte": images_train,
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_mnist(root: Path, arrays: dict[str, np.ndarray], gz: bool = True) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        payload = idx_bytes(array)
        if gz:
            (root / f"{name}.gz").write_bytes(gzip.compress(payload))
        else:
            (root / name).write_bytes(payload)


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Hide the real data dir and HOME, drop proxies, and refuse non-loopback connections."""
    monkeypatch.delenv(ENV_VAR, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delenv("ALL_PROXY", raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    real_create_connection = socket.create_connection

    def loopback_only(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        if address[0] != "127.0.0.1":
            raise AssertionError(f"test tried to reach {address!r}; only 127.0.0.1 is allowed")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", loopback_only)
    # Belt and braces: the shipped mirrors are unreachable in every test unless replaced.
    monkeypatch.setattr(data, "MIRRORS", ("http://127.0.0.1:9/unpatched/",))


class MirrorServer:
    """A local HTTP server with routes under /<kind>/<name>.gz.

    kinds: ``good`` (correct gzip), ``recompressed`` (same data, multi-member max-level gzip),
    ``wrong`` (valid gzip of different data), ``garbage`` (not gzip), ``short`` (truncated body
    with a longer Content-Length), ``slow`` (never answers until the test ends). Anything else
    is a 404.
    """

    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.routes: dict[str, bytes] = {}
        self.requests: list[str] = []
        self.release = threading.Event()
        for name, array in arrays.items():
            payload = idx_bytes(array)
            half = len(payload) // 2
            self.routes[f"/good/{name}.gz"] = gzip.compress(payload, compresslevel=1)
            self.routes[f"/recompressed/{name}.gz"] = gzip.compress(
                payload[:half], compresslevel=9
            ) + gzip.compress(payload[half:], compresslevel=9)
            self.routes[f"/wrong/{name}.gz"] = gzip.compress(payload[:-1] + b"\x01")
            self.routes[f"/garbage/{name}.gz"] = b"<html>not gzip</html>"
            self.routes[f"/short/{name}.gz"] = gzip.compress(payload)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server API)
                server.requests.append(self.path)
                if self.path.startswith("/slow/"):
                    server.release.wait(10)
                    return
                body = server.routes.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/gzip")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path.startswith("/short/"):
                    self.wfile.write(body[: len(body) // 2])
                    self.close_connection = True
                else:
                    self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    def url(self, kind: str) -> str:
        return f"{self.base}/{kind}/"

    def close(self) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


@pytest.fixture
def arrays() -> dict[str, np.ndarray]:
    return synthetic_mnist()


@pytest.fixture
def mirror(
    arrays: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> Iterator[MirrorServer]:
    digests = {name: hashlib.sha256(idx_bytes(a)).hexdigest() for name, a in arrays.items()}
    monkeypatch.setattr(data, "SHA256", digests)
    server = MirrorServer(arrays)
    yield server
    server.close()


@pytest.fixture
def dead_url() -> str:
    """A loopback URL whose port refuses connections."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/mnist/"


def assert_loaded(result: tuple[np.ndarray, ...], arrays: dict[str, np.ndarray]) -> None:
    x_train, y_train, x_test, y_test = result
    for x, name in ((x_train, "train-images-idx3-ubyte"), (x_test, "t10k-images-idx3-ubyte")):
        expected = arrays[name].reshape(len(arrays[name]), -1).astype(np.float32) / 255
        assert x.dtype == np.float32 and x.flags.c_contiguous
        np.testing.assert_allclose(x, expected, rtol=1e-6)
    for y, name in ((y_train, "train-labels-idx1-ubyte"), (y_test, "t10k-labels-idx1-ubyte")):
        assert y.dtype == np.int64
        np.testing.assert_array_equal(y, arrays[name])


def cache_listing(root: Path) -> list[str]:
    return sorted(os.listdir(root)) if root.exists() else []


# --------------------------------------------------------------------------------------------
# read_idx


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_read_idx_roundtrip(tmp_path: Path, gz: bool) -> None:
    images = np.arange(3 * 28 * 28, dtype=np.uint32).astype(np.uint8).reshape(3, 28, 28)
    payload = idx_bytes(images)
    path = tmp_path / ("images.gz" if gz else "images")
    path.write_bytes(gzip.compress(payload) if gz else payload)
    out = read_idx(path, magic=2051)
    assert out.dtype == np.uint8 and out.shape == (3, 28, 28)
    np.testing.assert_array_equal(out, images)


def test_read_idx_sniffs_gzip_without_suffix(tmp_path: Path) -> None:
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    path = tmp_path / "labels"
    path.write_bytes(gzip.compress(idx_bytes(labels)))
    np.testing.assert_array_equal(read_idx(path, magic=2049), labels)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    shape=st.lists(st.integers(0, 5), min_size=1, max_size=4).map(tuple),
    dtype=st.sampled_from(list(TYPE_CODES)),
    gz=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_read_idx_roundtrip_any_type(
    tmp_path: Path, shape: tuple[int, ...], dtype: type, gz: bool, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    array = (rng.standard_normal(shape) * 100).astype(dtype)
    payload = idx_bytes(array)
    path = tmp_path / f"a{seed}{'.gz' if gz else ''}"
    path.write_bytes(gzip.compress(payload) if gz else payload)
    out = read_idx(path)
    assert out.shape == shape and out.dtype == np.dtype(dtype) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_read_idx_wrong_magic(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(raw_header(1234, (1, 28, 28)) + bytes(784))
    with pytest.raises(MNISTError, match="bad magic number 1234, expected 2051") as info:
        read_idx(path, magic=2051)
    assert str(path) in str(info.value)
    assert "Delete" in str(info.value)


def test_read_idx_labels_file_given_as_images(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(MNISTError, match="bad magic number 2049, expected 2051"):
        read_idx(path, magic=2051)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (b"\x01\x00\x08\x01", "not an IDX file"),
        (b"\x00\x00\x07\x01", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x00", "0 dimensions"),
        (b"\x00\x00", "too short"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x01", "needs 16 bytes, file has 8"),
    ],
)
def test_read_idx_bad_header(tmp_path: Path, header: bytes, message: str) -> None:
    path = tmp_path / "bad-idx"
    path.write_bytes(header)
    with pytest.raises(MNISTError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_read_idx_truncated_data(tmp_path: Path, gz: bool) -> None:
    payload = raw_header(2051, (3, 28, 28)) + bytes(1000)
    path = tmp_path / ("t.gz" if gz else "t")
    path.write_bytes(gzip.compress(payload) if gz else payload)
    with pytest.raises(MNISTError) as info:
        read_idx(path, magic=2051)
    message = str(info.value)
    assert str(path) in message
    assert "truncated: header says 3×28×28 = 2352 bytes, file has 1000" in message
    assert ("decompressed" in message) == gz


def test_read_idx_trailing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(10, np.uint8)) + b"extra")
    with pytest.raises(MNISTError, match="5 trailing bytes: header says 10 = 10 bytes") as info:
        read_idx(path, magic=2049)
    assert str(path) in str(info.value)


def test_read_idx_multibyte_size_message(tmp_path: Path) -> None:
    path = tmp_path / "ints"
    path.write_bytes(idx_bytes(np.zeros((2, 3), np.int32))[:-4])
    with pytest.raises(MNISTError, match=r"header says 2×3 × 4 = 24 bytes, file has 20"):
        read_idx(path)


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda gz: gz[: len(gz) // 2],  # truncated stream
        lambda gz: gz[:20] + bytes(10) + gz[30:],  # damaged deflate data
        lambda gz: gz[:-8] + b"\x00" * 4 + gz[-4:],  # CRC mismatch
        lambda gz: b"\x00\x00\x08\x01 this is not gzip",  # .gz name, raw content
        lambda gz: gz + b"junk",  # trailing garbage after the member
    ],
    ids=["truncated", "damaged", "crc", "not-gzip", "trailing-junk"],
)
def test_read_idx_corrupt_gzip(tmp_path: Path, corrupt) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(corrupt(gzip.compress(idx_bytes(np.arange(200, dtype=np.uint8)))))
    with pytest.raises(MNISTError) as info:
        read_idx(path, magic=2049)
    message = str(info.value)
    assert str(path) in message
    assert "corrupt gzip data" in message and "Delete" in message


def test_read_idx_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope"
    with pytest.raises(MNISTMissingError, match="no such file") as info:
        read_idx(path)
    assert isinstance(info.value, FileNotFoundError)
    assert str(path) in str(info.value)


def test_read_idx_unreadable_path(tmp_path: Path) -> None:
    with pytest.raises(MNISTError, match="cannot be read"):
        read_idx(tmp_path)  # a directory


# --------------------------------------------------------------------------------------------
# load_mnist on local files


@pytest.mark.parametrize("gz", [False, True], ids=["raw", "gz"])
def test_load_mnist_local(tmp_path: Path, arrays: dict[str, np.ndarray], gz: bool) -> None:
    write_mnist(tmp_path, arrays, gz=gz)
    result = load_mnist(tmp_path, download=False)
    assert_loaded(result, arrays)
    assert result[0].min() == 0.0 and result[0].max() == 1.0


def test_load_mnist_prefers_raw_over_gz(tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    write_mnist(tmp_path, arrays, gz=False)
    other = dict(arrays)
    other["train-labels-idx1-ubyte"] = (arrays["train-labels-idx1-ubyte"] + 1) % 10
    write_mnist(tmp_path, other, gz=True)
    np.testing.assert_array_equal(load_mnist(tmp_path)[1], arrays["train-labels-idx1-ubyte"])


def test_load_mnist_uses_env_var(
    tmp_path: Path, arrays: dict[str, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_mnist(tmp_path / "via-env", arrays)
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "via-env"))
    assert mnist_root() == tmp_path / "via-env"
    assert_loaded(load_mnist(download=False), arrays)


def test_default_root_is_user_cache() -> None:
    assert mnist_root() == Path.home() / ".cache" / "tinygrad_mlp" / "mnist"
    assert mnist_root("~/x") == Path.home() / "x"


def test_load_mnist_count_mismatch(tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    arrays["t10k-labels-idx1-ubyte"] = arrays["t10k-labels-idx1-ubyte"][:-1]
    write_mnist(tmp_path, arrays)
    with pytest.raises(MNISTError, match="has 7 images but .* has 6 labels") as info:
        load_mnist(tmp_path, download=False)
    assert str(tmp_path / "t10k-images-idx3-ubyte.gz") in str(info.value)
    assert str(tmp_path / "t10k-labels-idx1-ubyte.gz") in str(info.value)


def test_load_mnist_label_out_of_range(tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    arrays["train-labels-idx1-ubyte"][5] = 12
    write_mnist(tmp_path, arrays)
    with pytest.raises(MNISTError, match="label 12 at index 5 is outside 0..9") as info:
        load_mnist(tmp_path, download=False)
    assert str(tmp_path / "train-labels-idx1-ubyte.gz") in str(info.value)


def test_load_mnist_wrong_image_size(tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    arrays["train-images-idx3-ubyte"] = np.zeros((12, 32, 32), np.uint8)
    write_mnist(tmp_path, arrays)
    with pytest.raises(MNISTError, match="images are 32×32, expected 28×28"):
        load_mnist(tmp_path, download=False)


def test_load_mnist_corrupt_file_is_reported(tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    write_mnist(tmp_path, arrays)
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:100])
    with pytest.raises(MNISTError, match="corrupt gzip") as info:
        load_mnist(tmp_path, download=False)
    assert str(bad) in str(info.value) and "Delete" in str(info.value)


def test_load_mnist_missing_without_download(tmp_path: Path, arrays: dict[str, np.ndarray]) -> None:
    del arrays["t10k-images-idx3-ubyte"]
    write_mnist(tmp_path, arrays)
    before = cache_listing(tmp_path)
    with pytest.raises(MNISTMissingError) as info:
        load_mnist(tmp_path, download=False)
    message = str(info.value)
    assert f"missing from {tmp_path}: t10k-images-idx3-ubyte." in message
    assert "download=False" in message and ENV_VAR in message and "Put the MNIST files" in message
    assert isinstance(info.value, FileNotFoundError)
    assert cache_listing(tmp_path) == before


def test_load_mnist_default_root_missing_does_not_create_cache() -> None:
    with pytest.raises(MNISTMissingError, match="missing from .*tinygrad_mlp/mnist"):
        load_mnist(download=False)
    assert not (Path.home() / ".cache").exists()


# --------------------------------------------------------------------------------------------
# downloading from a local mirror


def test_download_checksum_mismatch_falls_back(
    tmp_path: Path, arrays: dict[str, np.ndarray], mirror: MirrorServer
) -> None:
    root = tmp_path / "cache"
    paths = download_mnist(root, [mirror.url("wrong"), mirror.url("good")], progress=False)
    assert set(paths) == set(FILES)
    assert cache_listing(root) == sorted(f"{name}.gz" for name in FILES)
    assert mirror.requests == [f"/{kind}/{n}.gz" for n in FILES for kind in ("wrong", "good")]
    assert_loaded(load_mnist(root, download=False), arrays)


@pytest.mark.parametrize("first", ["missing", "garbage", "short"])
def test_download_bad_first_mirror_falls_back(
    tmp_path: Path, arrays: dict[str, np.ndarray], mirror: MirrorServer, first: str
) -> None:
    root = tmp_path / "cache"
    download_mnist(root, [mirror.url(first), mirror.url("good")], progress=False)
    assert cache_listing(root) == sorted(f"{name}.gz" for name in FILES)
    assert_loaded(load_mnist(root, download=False), arrays)


def test_download_accepts_recompressed_copy(
    tmp_path: Path, arrays: dict[str, np.ndarray], mirror: MirrorServer
) -> None:
    download_mnist(tmp_path, mirror.url("recompressed"), progress=False)
    assert_loaded(load_mnist(tmp_path, download=False), arrays)


def test_load_mnist_downloads_via_module_mirrors(
    tmp_path: Path,
    arrays: dict[str, np.ndarray],
    mirror: MirrorServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(data, "MIRRORS", (mirror.url("missing"), mirror.url("good")))
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env-root"))
    assert_loaded(load_mnist(), arrays)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == len(FILES)
    # Second call finds everything and makes no request.
    count = len(mirror.requests)
    load_mnist()
    assert len(mirror.requests) == count and capsys.readouterr().err == ""


def test_download_only_missing_files(
    tmp_path: Path, arrays: dict[str, np.ndarray], mirror: MirrorServer
) -> None:
    write_mnist(tmp_path, {k: v for k, v in arrays.items() if "train" in k}, gz=False)
    download_mnist(tmp_path, [mirror.url("good")], progress=False)
    assert sorted(mirror.requests) == [f"/good/{n}.gz" for n in sorted(FILES) if "t10k" in n]
    assert_loaded(load_mnist(tmp_path, download=False), arrays)


def test_download_all_mirrors_fail(
    tmp_path: Path, mirror: MirrorServer, dead_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "cache"
    mirrors = [dead_url, mirror.url("missing"), mirror.url("wrong"), mirror.url("garbage")]
    with pytest.raises(MNISTMissingError) as info:
        download_mnist(root, mirrors)
    message = str(info.value)
    assert f"missing from {root}: {', '.join(FILES)}." in message
    for url in mirrors:
        assert url in message
    assert "cannot connect" in message
    assert "skipped, mirror unreachable earlier" in message  # dead mirror tried once only
    assert "HTTP error 404" in message
    assert "checksum mismatch" in message
    assert "not valid gzip data" in message
    assert ENV_VAR in message and "Put the MNIST files" in message
    assert cache_listing(root) == []  # nothing, not even a temporary file
    assert len(capsys.readouterr().err.strip().splitlines()) == len(FILES)
    # The dead mirror was contacted only for the first file.
    assert sum(r.startswith("/wrong/") for r in mirror.requests) == len(FILES)


def test_load_mnist_download_failure(
    tmp_path: Path, mirror: MirrorServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(data, "MIRRORS", (mirror.url("wrong"),))
    with pytest.raises(MNISTMissingError, match="checksum mismatch"):
        load_mnist(tmp_path / "cache", download=True)
    assert cache_listing(tmp_path / "cache") == []


def test_download_timeout_moves_on(
    tmp_path: Path, arrays: dict[str, np.ndarray], mirror: MirrorServer
) -> None:
    download_mnist(tmp_path, [mirror.url("slow"), mirror.url("good")], timeout=0.3, progress=False)
    assert_loaded(load_mnist(tmp_path, download=False), arrays)
    assert sum(r.startswith("/slow/") for r in mirror.requests) == 1  # then skipped as dead


def test_download_requires_digest(tmp_path: Path, mirror: MirrorServer) -> None:
    with pytest.raises(MNISTError, match="no digest for train-images-idx3-ubyte"):
        download_mnist(tmp_path, [mirror.url("good")], sha256={}, progress=False)
    assert mirror.requests == []


# --------------------------------------------------------------------------------------------
# DataLoader


def epoch(loader: DataLoader) -> list[tuple[np.ndarray, np.ndarray]]:
    return list(loader)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    n=st.integers(0, 40),
    batch_size=st.integers(1, 50),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_loader_covers_each_sample_once(
    n: int, batch_size: int, shuffle: bool, drop_last: bool, seed: int
) -> None:
    x = np.arange(n * 3, dtype=np.float32).reshape(n, 3)
    y = np.arange(n)
    loader = DataLoader(x, y, batch_size, shuffle=shuffle, seed=seed, drop_last=drop_last)
    for _ in range(2):
        batches = epoch(loader)
        assert len(batches) == len(loader)
        sizes = [len(yb) for _, yb in batches]
        full, rest = divmod(n, batch_size)
        assert sizes == [batch_size] * full + ([rest] if rest and not drop_last else [])
        seen = np.concatenate([yb for _, yb in batches]) if batches else np.array([], int)
        assert len(np.unique(seen)) == len(seen)
        if not drop_last:
            assert sorted(seen.tolist()) == list(range(n))
        if not shuffle:
            assert seen.tolist() == list(range(len(seen)))
        for xb, yb in batches:
            assert xb.flags.c_contiguous and xb.dtype == np.float32
            np.testing.assert_array_equal(xb[:, 0], yb * 3)


def test_loader_len() -> None:
    x, y = np.zeros((10, 2)), np.zeros(10)
    assert len(DataLoader(x, y, 3)) == 4
    assert len(DataLoader(x, y, 3, drop_last=True)) == 3
    assert len(DataLoader(x, y, 10, drop_last=True)) == 1
    assert len(DataLoader(x, y, 11, drop_last=True)) == 0
    assert len(DataLoader(x, y, 11)) == 1


def test_loader_seeded_determinism_and_epochs_differ() -> None:
    x = np.arange(200, dtype=np.float32).reshape(100, 2)
    y = np.arange(100)
    a = DataLoader(x, y, 16, shuffle=True, seed=7)
    b = DataLoader(x, y, 16, shuffle=True, seed=7)
    epochs_a = [np.concatenate([yb for _, yb in a]) for _ in range(3)]
    epochs_b = [np.concatenate([yb for _, yb in b]) for _ in range(3)]
    for ea, eb in zip(epochs_a, epochs_b, strict=True):
        np.testing.assert_array_equal(ea, eb)
    assert not np.array_equal(epochs_a[0], epochs_a[1])
    assert not np.array_equal(epochs_a[0], np.arange(100))
    c = DataLoader(x, y, 16, shuffle=True, seed=8)
    assert not np.array_equal(np.concatenate([yb for _, yb in c]), epochs_a[0])


def test_loader_order_is_drawn_when_iter_is_called() -> None:
    y = np.arange(50)
    a = DataLoader(y, y, 10, shuffle=True, seed=1)
    b = DataLoader(y, y, 10, shuffle=True, seed=1)
    first, second = iter(a), iter(a)
    second_order = np.concatenate([yb for _, yb in second])  # consumed out of order
    first_order = np.concatenate([yb for _, yb in first])
    np.testing.assert_array_equal(first_order, np.concatenate([yb for _, yb in b]))
    np.testing.assert_array_equal(second_order, np.concatenate([yb for _, yb in b]))


def test_loader_length_mismatch_message() -> None:
    with pytest.raises(ValueError, match=r"len\(x\)=5 and len\(y\)=4"):
        DataLoader(np.zeros((5, 2)), np.zeros(4), 2)


@pytest.mark.parametrize(("batch_size", "error"), [(0, ValueError), (-3, ValueError)])
def test_loader_rejects_bad_batch_size(batch_size: int, error: type[Exception]) -> None:
    with pytest.raises(error, match=f"batch_size must be >= 1, got {batch_size}"):
        DataLoader(np.zeros((5, 2)), np.zeros(5), batch_size)


@pytest.mark.parametrize("batch_size", [2.0, True, "4"])
def test_loader_rejects_non_int_batch_size(batch_size: object) -> None:
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader(np.zeros((5, 2)), np.zeros(5), batch_size)  # type: ignore[arg-type]


def test_loader_rejects_scalars() -> None:
    with pytest.raises(ValueError, match="sample axis"):
        DataLoader(np.float32(1), np.zeros(1), 1)


def test_loader_accepts_numpy_int_batch_size_and_lists() -> None:
    loader = DataLoader([[1.0], [2.0], [3.0]], [0, 1, 2], np.int64(2))
    assert [yb.tolist() for _, yb in loader] == [[0, 1], [2]]
    assert "batch_size=2" in repr(loader)


# --------------------------------------------------------------------------------------------
# real MNIST


def real_mnist_dir() -> Path | None:
    if not REAL_MNIST_DIR:
        return None
    root = Path(REAL_MNIST_DIR).expanduser()
    present = all((root / n).is_file() or (root / f"{n}.gz").is_file() for n in FILES)
    return root if present else None


@pytest.mark.skipif(
    real_mnist_dir() is None,
    reason=f"real MNIST not available: set {ENV_VAR} to a directory holding the four MNIST files",
)
def test_real_mnist() -> None:
    root = real_mnist_dir()
    assert root is not None
    x_train, y_train, x_test, y_test = load_mnist(root, download=False)
    assert x_train.shape == (60000, 784) and x_test.shape == (10000, 784)
    assert y_train.shape == (60000,) and y_test.shape == (10000,)
    assert x_train.dtype == x_test.dtype == np.float32
    assert y_train.dtype == y_test.dtype == np.int64
    for x in (x_train, x_test):
        assert x.min() == 0.0 and x.max() == 1.0
        assert 0.1 < x.mean() < 0.15  # MNIST mean intensity is about 0.13
    train_counts = np.bincount(y_train, minlength=10)
    test_counts = np.bincount(y_test, minlength=10)
    assert len(train_counts) == 10 and len(test_counts) == 10
    assert ((train_counts >= 5000) & (train_counts <= 7000)).all(), train_counts
    assert ((test_counts >= 800) & (test_counts <= 1200)).all(), test_counts


# --------------------------------------------------------------------------------------------
# size limits, test-only loading, and what the command line says when offline


def _peak_bytes(fn) -> int:  # type: ignore[no-untyped-def]
    """Peak Python+numpy allocation while ``fn`` runs (numpy reports to tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_declared_size_over_the_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(raw_header(2051, (2_000_000, 28, 28)) + bytes(1000)))

    def read() -> None:
        with pytest.raises(MNISTError, match=r"train-images.*1568000000 bytes.*more than the "
                                             f"{data.MAX_IDX_BYTES} bytes allowed"):
            read_idx(path, magic=2051)

    assert _peak_bytes(read) < 2**20
    small = tmp_path / "small.gz"
    small.write_bytes(gzip.compress(raw_header(2049, (100,)) + bytes(100)))
    with pytest.raises(MNISTError, match="more than the 99 bytes allowed"):
        read_idx(small, magic=2049, max_bytes=99)
    assert read_idx(small, magic=2049, max_bytes=100).shape == (100,)


def test_gzip_bomb_of_trailing_data_is_counted_not_kept(tmp_path: Path) -> None:
    path = tmp_path / "bomb.gz"
    with gzip.open(path, "wb") as f:
        f.write(raw_header(2049, (10,)) + bytes(10))
        for _ in range(8):
            f.write(bytes(4 << 20))  # 32 MiB of zeros after the data: ~32 KB on disk
    assert path.stat().st_size < 200_000

    def read() -> None:
        with pytest.raises(MNISTError, match=f"{32 << 20} trailing bytes"):
            read_idx(path, magic=2049)

    assert _peak_bytes(read) < 8 << 20  # never the whole 32 MiB
    data._MAX_TRAILING_COUNT, before = 8 << 20, data._MAX_TRAILING_COUNT
    try:  # past the counting limit it stops reading: more than 8 MiB is enough to know
        with pytest.raises(MNISTError, match=f"more than {8 << 20} trailing bytes"):
            read_idx(path, magic=2049)
    finally:
        data._MAX_TRAILING_COUNT = before


def test_load_mnist_test_needs_only_the_test_files(
    tmp_path: Path, arrays: dict[str, np.ndarray], mirror: MirrorServer,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    write_mnist(tmp_path / "local", {k: v for k, v in arrays.items() if "t10k" in k})
    x, y = data.load_mnist_test(tmp_path / "local", download=False)
    np.testing.assert_array_equal(y, arrays["t10k-labels-idx1-ubyte"])
    assert x.shape == (7, 784) and x.dtype == np.float32
    with pytest.raises(MNISTMissingError, match="train-images"):
        load_mnist(tmp_path / "local", download=False)
    monkeypatch.setattr(data, "MIRRORS", (mirror.url("good"),))
    data.load_mnist_test(tmp_path / "cache")  # downloads the two t10k files only
    assert sorted(mirror.requests) == [f"/good/{n}.gz" for n in sorted(FILES) if "t10k" in n]


def test_offline_error_keeps_its_cause_urls_and_mentions_data(
    tmp_path: Path, dead_url: str, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str]
) -> None:
    from tinygrad_mlp import cli

    monkeypatch.setattr(data, "MIRRORS", (dead_url, "http://127.0.0.1:9/other/"))
    with pytest.raises(MNISTMissingError) as info:
        load_mnist(tmp_path / "empty")
    assert info.value.root == tmp_path / "empty" and info.value.missing == list(FILES)
    assert all(dead_url in reasons[0] for reasons in info.value.failures.values())
    capsys.readouterr()
    assert cli.main(["train", "--data", str(tmp_path / "none"), "--out",
                     str(tmp_path / "m.npz")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert all(line.startswith("tinygrad_mlp: downloading") for line in err[:-2]), err
    err = err[-2:]  # the error: two lines
    assert err[0].startswith("tinygrad-mlp train: error: cannot download MNIST into")
    assert "cannot download MNIST into" in err[0] and "cannot connect" in err[0]
    assert dead_url in err[1] and "--data" in err[1] and "train-images-idx3-ubyte.gz" in err[1]
