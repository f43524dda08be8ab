"""The speed benchmark (benchmarks/mlp.py) must keep running and comparing like with like.

The full benchmark is not part of the test run; these tests run it with a tiny step count
(with torch and MyGrad hidden, since they are optional contenders) and check that it
writes its table and JSON and that tinygrad_mlp and the hand-written numpy floor compute
the same losses. They also check the floor itself against tinygrad_mlp's gradients.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"

# Run the script as `python benchmarks/mlp.py ...`, with torch and mygrad made unimportable
# (sys.modules[name] = None makes `import name` raise ImportError), as on a machine
# without them.
_RUNNER = """
import runpy, sys
for name in ("torch", "mygrad"):
    sys.modules[name] = None
sys.argv = [sys.argv[1]] + sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

TINY = ["--quick", "--threads", "1", "--rounds", "2", "--block-steps", "2", "--warmup", "1",
        "--mem-steps", "20", "--d-ops", "50", "--d-reps", "2"]


@pytest.fixture(scope="module")
def bench_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, str(BENCH / "mlp.py"), *TINY, "--out-dir", str(out)],
        capture_output=True, text=True, timeout=120, cwd=str(ROOT), env=env,
    )
    return proc, out


def test_quick_run_writes_table_and_json(bench_run):
    proc, out = bench_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "skipping torch" in proc.stdout and "skipping mygrad" in proc.stdout
    assert "| config | contender | ms/step (median) |" in proc.stdout
    md = (out / "mlp.md").read_text()
    assert "| config | contender | ms/step (median) | spread (IQR) | samples/s | vs numpy " in md
    for config in ("A", "B", "C", "C-adam"):
        assert f"| {config} | tinygrad_mlp |" in md
        assert f"| {config} | numpy (floor) |" in md
    assert "## D: graph overhead" in md and "## E: memory" in md

    report = json.loads((out / "mlp.json").read_text())
    assert set(report["configs"]) == {"A", "B", "C", "C-adam", "D", "E"}
    assert report["environment"]["threads"] == 1
    assert report["environment"]["thread_env"]["OPENBLAS_NUM_THREADS"] == "1"
    for config in ("A", "B", "C", "C-adam"):
        res = report["configs"][config]["results"]
        assert set(res) == {"tinygrad_mlp", "tinygrad_mlp_jit", "numpy"}
        for r in res.values():
            assert r["steps"] == 4 and r["median_ms"] > 0 and r["samples_per_s"] > 0
        assert res["numpy"]["vs_numpy"] == pytest.approx(1.0)
        assert res["tinygrad_mlp"]["vs_torch"] is None
    d = report["configs"]["D"]["results"]
    assert d["tinygrad_mlp"]["fwd_us_per_op"] > 0 and d["tinygrad_mlp"]["bwd_us_per_node"] > 0
    e = report["configs"]["E"]["results"]
    assert e["tinygrad_mlp"]["rss_end_mib"] > 0 and "traced_growth_kib" in e["tinygrad_mlp"]


def test_quick_run_first_step_losses_agree(bench_run):
    proc, out = bench_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    report = json.loads((out / "mlp.json").read_text())
    for config in ("A", "B", "C", "C-adam"):
        check = report["configs"][config]["loss_check"]
        assert check["reference"] == "numpy"
        tg_losses = check["contenders"]["tinygrad_mlp"]["losses"]
        np_losses = check["contenders"]["numpy"]["losses"]
        assert np.isfinite(np_losses).all()
        assert tg_losses[0] == pytest.approx(np_losses[0], rel=1e-4), config
        assert check["contenders"]["tinygrad_mlp"]["ok"], check
        assert report["configs"][config]["mismatched"] == []


def _load(name: str, path: Path, monkeypatch):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("config", ["A", "B", "C-adam"])
def test_numpy_floor_matches_tinygrad_parameters(config, monkeypatch):
    """Two steps of the hand-written floor leave the same weights as tinygrad_mlp's."""
    monkeypatch.syspath_prepend(str(BENCH))
    mlp = _load("_bench_mlp", BENCH / "mlp.py", monkeypatch)
    numpy_mlp = _load("_bench_numpy_mlp", BENCH / "numpy_mlp.py", monkeypatch)
    spec = mlp.TRAIN_SPECS[config]
    spec = type(spec)(**{**spec.__dict__, "sizes": (12, 7, 5)[: len(spec.sizes) - 1] + (10,),
                         "batch": 6, "pool": 2})
    weights = mlp.make_weights(spec.sizes, seed=3)
    pool = mlp.make_pool(spec, seed=3)

    floor = numpy_mlp.NumpyMLP(weights, activation=spec.activation, loss=spec.loss,
                               optimizer=spec.optimizer, lr=spec.lr)
    tg_step, tg_value = mlp.make_tinygrad(spec, weights)
    for batch in pool:
        assert float(floor.step(*batch)) == pytest.approx(tg_value(tg_step(*batch)), rel=1e-5)
    tg_params = [p.data for p in tg_step.model.parameters()]
    for a, b in zip(floor.parameters(), tg_params, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# ----- benchmarks/overhead.py: the eager step, layer by layer --------------------------------


def test_overhead_quick_run_times_every_layer_and_agrees_on_losses(tmp_path):
    """Every row runs, computes the floor's losses (else exit 1), and the increments in the
    table add up from the floor to the full public-API step."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.run(
        [sys.executable, str(BENCH / "overhead.py"), "--quick", "--threads", "1", "--rounds",
         "2", "--block-steps", "2", "--warmup", "1", "--configs", "A,B", "--out-dir",
         str(tmp_path)],
        capture_output=True, text=True, timeout=120, cwd=str(ROOT), env=env,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "MISMATCH" not in proc.stdout
    rows = [line.split("|")[1:-1] for line in (tmp_path / "overhead.md").read_text().splitlines()
            if line.startswith("| A |") or line.startswith("| B |")]
    labels = ["numpy (floor)", "op rules alone", "minimal engine", "engine core",
              "+ graph release", "+ optimizer", "tinygrad_mlp"]
    for config in ("A", "B"):
        mine = [[c.strip() for c in r] for r in rows if r[0].strip() == config]
        assert [r[1] for r in mine] == labels
        us = [float(r[2]) for r in mine]
        added = [float(r[4]) for r in mine[1:]]
        assert sum(added) == pytest.approx(us[-1] - us[0], abs=0.1 * len(added))
        assert float(mine[0][3].rstrip("×")) == pytest.approx(1.0)


@pytest.mark.parametrize("loss", ["quadratic", "cross_entropy"])
def test_minimal_engine_gives_tinygrads_gradients(loss, monkeypatch):
    """The yardstick engine is a real engine: on a random two-layer network it computes the
    same loss and parameter gradients as Tensor.backward, through the same op rules."""
    monkeypatch.syspath_prepend(str(BENCH))
    me = _load("_bench_minimal_engine", BENCH / "minimal_engine.py", monkeypatch)
    import tinygrad_mlp as tg
    import tinygrad_mlp.nn.functional as F
    from tinygrad_mlp import ops

    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 5))
    y = rng.integers(0, 3, 6)
    arrays = [rng.normal(size=s) for s in ((4, 5), (4,), (3, 4), (3,))]

    def forward(apply, params, leaf):
        h = apply(ops.Sigmoid, apply(ops.Linear, leaf, params[0], params[1]))
        out = apply(ops.Linear, h, params[2], params[3])
        if loss == "quadratic":
            return apply(F.SquaredError, apply(ops.Sigmoid, out), np.eye(3)[y], scale=0.5 / 6)
        return apply(F.SoftmaxCrossEntropy, out, indices=y)

    nodes = [me.Node(a.copy(), requires_grad=True) for a in arrays]
    root = forward(me.apply, nodes, me.Node(x))
    me.backward(root)
    tensors = [tg.tensor(a, requires_grad=True) for a in arrays]
    ref = forward(lambda fn, *a, **k: fn.apply(*a, **k), tensors, tg.tensor(x))
    ref.backward()
    assert float(root.data) == pytest.approx(ref.item(), rel=1e-12)
    for n, t in zip(nodes, tensors, strict=True):
        np.testing.assert_allclose(n.grad, t.grad.numpy(), rtol=1e-10, atol=1e-12)
