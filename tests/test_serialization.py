"""Tests for tg.save / tg.load: round trips, atomic writes, corrupt files, no pickle."""

from __future__ import annotations

import io
import math
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tinygrad_mlp as tg
from tinygrad_mlp import nn, optim, serialization
from tinygrad_mlp.serialization import MANIFEST_KEY, CheckpointError
from tinygrad_mlp.tensor import Tensor


def assert_same(a, b) -> None:
    """Deep equality: same containers, same key order, arrays equal in value and dtype."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_same(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, float) and math.isnan(a):
        assert math.isnan(b)
    else:
        assert a == b


def test_nested_round_trip(tmp_path):
    tg.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    opt = optim.Adam(model.parameters(), lr=0.01)
    model(np.ones((2, 3), np.float32)).sum().backward()
    opt.step()
    obj = {
        "model": model.state_dict(),
        "optimizer": opt.state_dict(),
        "meta": {
            "epoch": 3,
            "lr": 0.1,
            "name": "mlp ✓",
            "flag": True,
            "nothing": None,
            "hidden": [128, 64],
            "shape": (28, 28),
            "inf": float("inf"),
            "tiny": 5e-324,
            "big": 2**70,
            "empty": {},
            "none_list": [],
            "np_scalar": np.float32(1.5),
            "ints": np.arange(5, dtype=np.int16),
            "bools": np.array([True, False]),
            "text": np.array(["a", "bc"]),
            "scalar_array": np.array(2.5),
        },
        7: "int key",
    }
    path = tmp_path / "ckpt.npz"
    tg.save(obj, path)
    back = tg.load(path)
    expected = dict(obj)
    expected["model"] = dict(obj["model"])  # OrderedDict comes back as a dict, same order
    assert_same(back, expected)
    assert isinstance(back["meta"]["np_scalar"], np.float32)
    assert isinstance(back["optimizer"]["param_groups"][0]["betas"], tuple)
    assert list(back["optimizer"]["state"]) == [0, 1, 2, 3]
    # the restored optimizer and model work
    model2 = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    model2.load_state_dict(back["model"])
    optim.Adam(model2.parameters()).load_state_dict(back["optimizer"])
    np.testing.assert_array_equal(
        model2(np.ones((1, 3), np.float32)).data, model(np.ones((1, 3), np.float32)).data
    )


def test_state_dict_keys_are_readable_by_plain_numpy(tmp_path):
    sd = {"fc1.weight": Tensor(np.ones((2, 3), np.float32)), "fc1.bias": np.zeros(2)}
    tg.save(sd, tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz", allow_pickle=False) as z:
        assert set(z.files) == {"fc1.weight", "fc1.bias", MANIFEST_KEY}
        assert z["fc1.weight"].dtype == np.float32
    back = tg.load(tmp_path / "m.npz")
    assert list(back) == ["fc1.weight", "fc1.bias"] and isinstance(back["fc1.weight"], np.ndarray)


def test_plain_npz_without_manifest_loads_as_dict(tmp_path):
    np.savez(tmp_path / "plain.npz", a=np.arange(3), b=np.eye(2))
    back = tg.load(tmp_path / "plain.npz")
    assert sorted(back) == ["a", "b"]
    np.testing.assert_array_equal(back["b"], np.eye(2))


def test_colliding_names_stay_distinct(tmp_path):
    obj = {
        "a/b": np.zeros(1),
        "a": {"b": np.ones(1)},
        "file": np.full(1, 2.0),
        "allow_pickle": np.full(1, 3.0),
        MANIFEST_KEY: np.full(1, 4.0),
    }
    tg.save(obj, tmp_path / "c.npz")
    assert_same(tg.load(tmp_path / "c.npz"), obj)


@pytest.mark.parametrize("name", ["model.npz", "model.ckpt", "model"])
def test_path_is_used_exactly_as_given(tmp_path, name):
    tg.save({"w": np.zeros(1)}, str(tmp_path / name))
    assert sorted(os.listdir(tmp_path)) == [name]
    assert_same(tg.load(str(tmp_path / name)), {"w": np.zeros(1)})


def test_overwrite_replaces_the_file(tmp_path):
    path = tmp_path / "m.npz"
    tg.save({"v": np.zeros(2)}, path)
    os.chmod(path, 0o640)
    tg.save({"v": np.ones(3)}, path)
    np.testing.assert_array_equal(tg.load(path)["v"], np.ones(3))
    assert os.stat(path).st_mode & 0o777 == 0o640  # permissions of the old file are kept
    assert os.listdir(tmp_path) == ["m.npz"]


# ----- atomicity ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["savez", "fsync", "replace"])
def test_failed_save_leaves_old_file_and_no_temp(tmp_path, monkeypatch, target):
    path = tmp_path / "model.npz"
    tg.save({"v": np.arange(4.0)}, path)
    before = path.read_bytes()

    def half_written_savez(f, *args, **kwargs):
        f.write(b"PK\x03\x04 partial garbage")
        raise OSError("disk full")

    def boom(*args, **kwargs):
        raise OSError("simulated failure")

    if target == "savez":
        monkeypatch.setattr(np, "savez", half_written_savez)
    elif target == "fsync":
        monkeypatch.setattr(os, "fsync", boom)
    else:
        monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        tg.save({"v": np.zeros(100)}, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]
    np.testing.assert_array_equal(tg.load(path)["v"], np.arange(4.0))


def test_interrupted_save_cleans_up(tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tg.save({"v": np.zeros(1)}, tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_unsupported_values_fail_before_writing(tmp_path):
    path = tmp_path / "m.npz"
    for bad in (
        {"x": {1, 2}},
        {"x": object()},
        {(1, 2): np.zeros(1)},
        {"x": np.array([None, 1], dtype=object)},
    ):
        with pytest.raises(TypeError):
            tg.save(bad, path)
    assert os.listdir(tmp_path) == []
    with pytest.raises(TypeError, match="'outer/inner'"):
        tg.save({"outer": {"inner": lambda: 0}}, path)


# ----- corrupt and unsafe files ----------------------------------------------------------


def test_missing_file_names_the_path(tmp_path):
    path = tmp_path / "nope.npz"
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        tg.load(path)


@pytest.mark.parametrize("content", [b"", b"not an npz at all" * 10, b"PK\x03\x04truncated"])
def test_garbage_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="bad.npz") as err:
        tg.load(path)
    assert isinstance(err.value, ValueError)


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    path = tmp_path / "t.npz"
    tg.save({"w": np.arange(10_000.0)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="t.npz"):
        tg.load(path)


def test_corrupt_manifest_is_a_clear_error(tmp_path):
    path = tmp_path / "m.npz"
    blob = np.frombuffer(b'{"format": 1, "root": {"t": "array", "k": "missing"}}', np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **{MANIFEST_KEY: blob})
    with pytest.raises(CheckpointError, match="m.npz.*manifest"):
        tg.load(path)
    with open(path, "wb") as f:
        np.savez(f, **{MANIFEST_KEY: np.frombuffer(b"{not json", np.uint8)})
    with pytest.raises(CheckpointError, match="m.npz"):
        tg.load(path)


def test_object_arrays_are_refused(tmp_path):
    """A crafted npz with a pickled object array must not be unpickled."""
    path = tmp_path / "evil.npz"
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}, None], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("payload.npy", buf.getvalue())
    with pytest.raises(CheckpointError, match="evil.npz.*pickle"):
        tg.load(path)
    raw_pickle = tmp_path / "raw.npz"
    raw_pickle.write_bytes(b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.")
    with pytest.raises(CheckpointError, match="raw.npz"):
        tg.load(raw_pickle)


def test_load_never_unpickles(tmp_path, monkeypatch):
    import pickle

    def refuse(*args, **kwargs):
        raise AssertionError("load called pickle")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    with zipfile.ZipFile(tmp_path / "evil.npz", "w") as z:
        z.writestr("w.npy", buf.getvalue())
    with pytest.raises(CheckpointError, match="evil.npz.*'w.npy'.*pickle"):
        tg.load(tmp_path / "evil.npz")
    tg.save({"a": np.zeros(1)}, tmp_path / "a.npz")
    assert tg.load(tmp_path / "a.npz")["a"].shape == (1,)


# ----- sizes are checked before anything is allocated --------------------------------------


def _npy_header(shape: tuple[int, ...], dtype=np.float64) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)), "fortran_order": False,
              "shape": shape})
    return buf.getvalue()


def _peak_bytes(fn) -> int:
    """Peak Python+numpy allocation while ``fn`` runs (numpy reports to tracemalloc)."""
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_an_array_header_claiming_more_than_its_member_holds(tmp_path):
    path = tmp_path / "liar.npz"
    with zipfile.ZipFile(path, "w") as z:  # claims 2**37 float64 = 1 TiB, holds 80 bytes
        z.writestr("w.npy", _npy_header((2**37,)) + bytes(80))

    def load():
        with pytest.raises(CheckpointError, match=r"liar.npz.*'w.npy'.*\(137438953472,\)"):
            tg.load(path)

    assert _peak_bytes(load) < 2**20


def test_a_zip_claiming_gigabytes_is_refused_by_the_size_limit(tmp_path):
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("w.npy", _npy_header((10,)) + bytes(80))
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")  # central directory entry: size at offset 24
    data[central + 24 : central + 28] = (0xFFFFFFF0).to_bytes(4, "little")
    path.write_bytes(bytes(data))

    def load():
        with pytest.raises(CheckpointError, match=r"bomb.npz.*4,294,967,280 bytes.*limit"):
            tg.load(path)

    assert _peak_bytes(load) < 2**20


def test_compressed_file_may_unpack_to_a_bounded_multiple_of_its_size(tmp_path, monkeypatch):
    path = tmp_path / "zeros.npz"
    tg.save({"w": np.zeros(2**20)}, path, compress=True)  # 8 MiB of zeros in ~10 KB
    assert tg.load(path)["w"].shape == (2**20,)  # under MIN_ALLOWANCE: fine
    monkeypatch.setattr(serialization, "MIN_ALLOWANCE", 0)
    size = path.stat().st_size
    with pytest.raises(CheckpointError, match=f"{size:,}-byte file"):
        tg.load(path)
    assert tg.load(path, max_bytes=2**24)["w"].shape == (2**20,)
    with pytest.raises(CheckpointError, match="limit 100 bytes"):
        tg.load(tmp_path / "zeros.npz", max_bytes=100)


def test_fortran_and_big_endian_arrays_round_trip(tmp_path):
    a = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    b = np.arange(5, dtype=">i4")
    tg.save({"a": a, "b": b, "e": np.zeros((0, 3))}, tmp_path / "x.npz")
    out = tg.load(tmp_path / "x.npz")
    np.testing.assert_array_equal(out["a"], a)
    np.testing.assert_array_equal(out["b"], b)
    assert out["e"].shape == (0, 3) and out["a"].flags.writeable


def _manifest_file(path: Path, text: str) -> None:
    with open(path, "wb") as f:
        np.savez(f, **{MANIFEST_KEY: np.frombuffer(text.encode(), np.uint8)})


@pytest.mark.parametrize("depth", [150, 100_000])
def test_deeply_nested_manifest_is_a_clear_error(tmp_path, depth):
    node = '{"t":"value","v":1}'
    text = '{"t":"list","items":[' * depth + node + "]}" * depth
    _manifest_file(tmp_path / "deep.npz", '{"format":1,"root":' + text + "}")
    with pytest.raises(CheckpointError, match="deep.npz.*nested"):
        tg.load(tmp_path / "deep.npz")


def test_saving_deeper_than_load_reads_is_refused(tmp_path):
    deep: list = []
    for _ in range(serialization.MAX_DEPTH + 5):
        deep = [deep]
    with pytest.raises(ValueError, match="nested more than"):
        tg.save(deep, tmp_path / "d.npz")
    assert os.listdir(tmp_path) == []


# ----- temp files of killed saves -----------------------------------------------------------


def test_a_killed_save_leaves_a_temp_file_that_the_next_save_removes(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "m.npz"
    child = (
        "import os, signal, numpy as np, tinygrad_mlp as tg\n"
        "def die(f, **kw):\n"
        "    f.write(b'x' * 100000); f.flush(); os.kill(os.getpid(), signal.SIGKILL)\n"
        "np.savez = die\n"
        f"tg.save({{'w': np.zeros(3)}}, {str(path)!r})\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", child], stderr=subprocess.PIPE)
    assert proc.wait(timeout=60) == -9, proc.stderr.read()
    proc.stderr.close()
    stale = [n for n in os.listdir(tmp_path) if n.endswith(".tmp")]
    assert len(stale) == 1 and f".{proc.pid}." in stale[0]
    alive = tmp_path / f".m.npz.{os.getppid()}.abcdefgh.tmp"  # a live writer's file stays
    alive.write_bytes(b"busy")
    other = tmp_path / f".other.npz.{proc.pid}.abcdefgh.tmp"  # another target's: not ours
    other.write_bytes(b"x")
    tg.save({"w": np.ones(3)}, path)
    assert sorted(os.listdir(tmp_path)) == sorted(["m.npz", alive.name, other.name])
    np.testing.assert_array_equal(tg.load(path)["w"], np.ones(3))


# ----- property: anything storable round-trips --------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**80), 2**80),
    st.floats(allow_nan=False),
    st.text(max_size=8),
)
arrays = hnp.arrays(
    st.sampled_from([np.float32, np.float64, np.int64, np.uint8, np.bool_]),
    hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
)
keys = st.one_of(st.text(min_size=0, max_size=6), st.integers(-5, 5))
trees = st.recursive(
    st.one_of(scalars, arrays),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.dictionaries(keys, children, max_size=3),
    ),
    max_leaves=8,
)


@settings(max_examples=40, deadline=None)
@given(obj=st.dictionaries(keys, trees, max_size=4))
def test_any_storable_tree_round_trips(tmp_path_factory, obj):
    path = Path(tmp_path_factory.mktemp("rt")) / "x.npz"
    tg.save(obj, path)
    assert_same(tg.load(path), obj)
