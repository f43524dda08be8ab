"""tg.save / tg.load with a ``.safetensors`` path: the weights format PyTorch and Hugging
Face users exchange, through the optional ``safetensors`` package (numpy API).

Round trips go through torch (``safetensors.torch``) when it is installed: our file loads
into a torch model with the same values, and a file torch wrote loads into ours.
"""

from __future__ import annotations

import importlib.util
import sys

import numpy as np
import pytest

import tinygrad_mlp as tg
from tinygrad_mlp import nn
from tinygrad_mlp.serialization import CheckpointError

needs_safetensors = pytest.mark.skipif(
    importlib.util.find_spec("safetensors") is None, reason="needs the safetensors extra"
)


def model() -> nn.Module:
    tg.manual_seed(0)
    return nn.Sequential(nn.Linear(5, 4), nn.ReLU(), nn.Linear(4, 3))


@needs_safetensors
def test_state_dict_round_trip_keeps_names_dtypes_and_values(tmp_path):
    m = model()
    path = tmp_path / "m.safetensors"
    tg.save(m.state_dict(), path)
    back = tg.load(path)
    assert list(back) == sorted(m.state_dict())  # the format stores names sorted
    for name, value in m.state_dict().items():
        assert back[name].dtype == value.dtype
        np.testing.assert_array_equal(back[name], value)
    other = model()
    for p in other.parameters():
        p.data[...] = 0
    other.load_state_dict(back)
    x = np.ones((2, 5), np.float32)
    np.testing.assert_array_equal(other(x).data, m(x).data)


@needs_safetensors
def test_nested_dicts_flatten_to_dotted_names_and_suffix_is_case_insensitive(tmp_path):
    path = tmp_path / "w.SafeTensors"
    tg.save({"enc": {"w": np.eye(2), "b": tg.Tensor(np.zeros(2, np.float64))},
             "step": np.array(7, np.int64), 0: np.ones(1, bool)}, path)
    back = tg.load(path)
    assert sorted(back) == ["0", "enc.b", "enc.w", "step"]
    assert back["step"].shape == () and back["step"] == 7 and back["0"].dtype == bool


@needs_safetensors
def test_non_arrays_and_bad_files_are_clear_errors(tmp_path):
    path = tmp_path / "x.safetensors"
    with pytest.raises(TypeError, match=r"'meta\.epoch' is a int; save it to a \.npz"):
        tg.save({"w": np.ones(2), "meta": {"epoch": 3}}, path)
    with pytest.raises(TypeError, match="bare array"):
        tg.save(np.ones(2), path)
    assert not path.exists()  # nothing half-written
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(CheckpointError, match="x.safetensors"):
        tg.load(path)
    tg.save({"w": np.ones(1000)}, path)
    with pytest.raises(CheckpointError, match="limit"):
        tg.load(path, max_bytes=100)
    with pytest.raises(FileNotFoundError):
        tg.load(tmp_path / "missing.safetensors")


def test_without_the_package_the_error_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "safetensors", None)
    with pytest.raises(ImportError, match=r"pip install safetensors .*\.\[safetensors\]"):
        tg.save({"w": np.ones(2)}, tmp_path / "w.safetensors")
    tg.save({"w": np.ones(2)}, tmp_path / "w.npz")  # .npz needs nothing extra


def _torch_twin(torch):
    return torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 3))


def test_our_file_loads_into_torch(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    m = model()
    path = tmp_path / "ours.safetensors"
    tg.save(m.state_dict(), path)
    twin = _torch_twin(torch)
    twin.load_state_dict(st_torch.load_file(str(path)))
    x = np.random.default_rng(0).standard_normal((3, 5)).astype(np.float32)
    np.testing.assert_allclose(twin(torch.tensor(x)).detach().numpy(), m(x).data,
                               rtol=1e-6, atol=1e-6)
    for name, value in twin.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), m.state_dict()[name])


def test_torch_file_loads_into_ours(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    torch.manual_seed(0)
    twin = _torch_twin(torch).double()
    path = tmp_path / "theirs.safetensors"
    st_torch.save_file(twin.state_dict(), str(path))
    m = model().double()
    m.load_state_dict(tg.load(path))
    for name, value in twin.state_dict().items():
        np.testing.assert_array_equal(m.state_dict()[name], value.numpy())
    x = np.random.default_rng(1).standard_normal((3, 5))
    np.testing.assert_allclose(m(x).data, twin(torch.tensor(x)).detach().numpy(), rtol=1e-12)
