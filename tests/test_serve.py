"""The draw-a-digit server: its JSON API over a real socket on 127.0.0.1, good and bad input.

A tiny model is trained on synthetic digits in a few seconds; no MNIST needed.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tinygrad_mlp import preprocess, serve
from tinygrad_mlp import train as T


def _synthetic(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Digit d is a bright bar at row 2 + 2d: learnable in one epoch."""
    y = rng.integers(0, 10, n)
    x = rng.uniform(0, 0.1, (n, 28, 28)).astype(np.float32)
    for i, d in enumerate(y):
        x[i, 2 + 2 * d : 4 + 2 * d, 4:24] = 1.0
    return x.reshape(n, 784), y


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    """A 784-16-12-10 sigmoid MLP checkpoint (two hidden layers, to see both in answers)."""
    rng = np.random.default_rng(0)
    x, y = _synthetic(500, rng)
    cfg = T.Config(hidden=(16, 12), epochs=2, batch_size=50, lr=1e-2, seed=0)
    model, history = T.train(cfg, (x, y, x[:100], y[:100]), log=None, progress=False)
    path = tmp_path_factory.mktemp("model") / "tiny.npz"
    T.save_checkpoint(path, model, cfg, history)
    return path


@pytest.fixture(scope="module")
def server(model_path: Path) -> Iterator[serve.DigitServer]:
    srv = serve.create_server(model_path, port=0)
    srv.request_timeout = 2.0
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def request(srv: serve.DigitServer, method: str, path: str, body: bytes | None = None,
            content_type: str | None = "application/json") -> tuple[int, dict, dict]:
    """(status, JSON answer, headers) of one request over a fresh connection."""
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    headers = {"Content-Type": content_type} if content_type else {}
    try:
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else {}), dict(resp.getheaders())
    finally:
        conn.close()


def post(srv: serve.DigitServer, obj, **kw) -> tuple[int, dict]:
    status, answer, _ = request(srv, "POST", "/api/predict", json.dumps(obj).encode(), **kw)
    return status, answer


def raw_exchange(srv: serve.DigitServer, data: bytes) -> bytes:
    """Send bytes as they are, read the whole answer (the server closes the connection)."""
    with socket.create_connection(srv.server_address[:2], timeout=10) as s:
        s.sendall(data)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def status_and_json(raw: bytes) -> tuple[int, dict]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def drawn_seven(size: int = 140) -> np.ndarray:
    """A white-on-black '7' roughly as the page sends it (140x140), or resized to ``size``."""
    img = np.zeros((140, 140), np.float32)
    img[20:30, 30:110] = 1.0
    for r in range(30, 120):
        c = 110 - (r - 30) // 2
        img[r, c - 5 : c + 5] = 1.0
    return img if size == 140 else np.clip(preprocess.resize(img, size, size), 0, 1)


def png_bytes(img: np.ndarray) -> bytes:
    """A minimal 8-bit grayscale PNG, written with zlib alone (no Pillow needed)."""
    h, w = img.shape
    rows = np.round(np.clip(img, 0, 1) * 255).astype(np.uint8)
    raw = b"".join(b"\x00" + rows[r].tobytes() for r in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    return (serve.PNG_SIGNATURE + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))


def check_answer(answer: dict) -> None:
    assert answer["blank"] is False
    assert answer["digit"] in range(10)
    p = np.array(answer["probabilities"])
    assert p.shape == (10,) and np.all(p >= 0) and abs(p.sum() - 1) < 1e-4
    assert answer["digit"] == int(p.argmax())
    assert [layer["name"] for layer in answer["layers"]] == ["hidden 1 (sigmoid)",
                                                             "hidden 2 (sigmoid)"]
    for layer, units in zip(answer["layers"], (16, 12), strict=True):
        acts = np.array(layer["activations"])
        assert layer["units"] == units and acts.shape == (units,)
        rows, cols = layer["shape"]
        assert rows * cols >= units
        assert layer["range"] == [0.0, 1.0] and np.all((acts >= 0) & (acts <= 1))
    x = np.array(answer["input"])
    assert x.shape == (784,) and 0 <= x.min() and x.max() <= 1


# ----- good input ---------------------------------------------------------------------------


def test_page_and_static_files(server):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    for path, kind, needle in [("/", "text/html", b"<canvas id=\"pad\""),
                               ("/app.js", "text/javascript", b"api/predict"),
                               ("/style.css", "text/css", b"#pad")]:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.status == 200, path
        assert resp.getheader("Content-Type").startswith(kind)
        assert "default-src 'self'" in resp.getheader("Content-Security-Policy")
        assert needle in body
        conn.close()
    html = (Path(serve.__file__).parent / "web" / "index.html").read_text()
    assert "http://" not in html and "https://" not in html  # nothing fetched from elsewhere


def test_info(server):
    status, info, _ = request(server, "GET", "/api/info")
    assert status == 200
    assert info["sizes"] == [784, 16, 12, 10] and info["activation"] == "sigmoid"
    assert info["model"] == "tiny.npz" and 0 <= info["test_accuracy"] <= 1
    assert [(l["name"], l["units"]) for l in info["layers"]] == [
        ("hidden 1 (sigmoid)", 16), ("hidden 2 (sigmoid)", 12)]


def test_784_floats_preprocessed_like_predict(server, model_path):
    """The API's answer is what predict's code path gives for the same image."""
    img = np.zeros((28, 28), np.float32)
    img[10:12, 3:20] = 1.0  # a bar, off-centre: to_mnist moves and scales it
    status, answer = post(server, img.ravel().tolist())
    assert status == 200
    check_answer(answer)
    expected = preprocess.to_mnist(img)
    np.testing.assert_allclose(np.array(answer["input"]).reshape(28, 28), expected, atol=1e-3)
    model, meta = T.load_checkpoint(model_path)
    probs = T.probabilities(T.predict_batches(model, expected.reshape(1, 784)), "logits")[0]
    np.testing.assert_allclose(answer["probabilities"], probs, atol=1e-5)


def test_preprocess_false_uses_the_image_as_given(server):
    img = np.zeros((28, 28), np.float32)
    img[10:12, 3:20] = 1.0
    status, answer = post(server, {"image": img.tolist(), "preprocess": False})
    assert status == 200
    np.testing.assert_allclose(np.array(answer["input"]).reshape(28, 28), img)


def test_canvas_sized_drawing_flat_and_2d(server):
    img = drawn_seven()
    status, flat = post(server, {"image": img.ravel().tolist(), "width": 140, "height": 140})
    assert status == 200
    check_answer(flat)
    status, nested = post(server, {"image": img.tolist()})
    assert status == 200 and nested == flat
    centred = np.array(flat["input"]).reshape(28, 28)
    ys, xs = np.nonzero(centred > 0.1)
    assert ys.max() - ys.min() <= 20 and xs.max() - xs.min() <= 20  # scaled into 20x20
    mass = centred.sum()
    assert abs(centred.sum(axis=1) @ np.arange(28) / mass - 14.0) <= 0.5  # centred by mass
    assert abs(centred.sum(axis=0) @ np.arange(28) / mass - 14.0) <= 0.5


def test_png(server):
    pytest.importorskip("PIL.Image", reason="PNG input needs Pillow (the images extra)")
    img = drawn_seven()
    status, answer, _ = request(server, "POST", "/api/predict", png_bytes(img), "image/png")
    assert status == 200
    check_answer(answer)
    _, from_json = post(server, {"image": img.tolist()})
    np.testing.assert_allclose(answer["input"], from_json["input"], atol=0.01)


def test_png_dark_ink_on_white_is_inverted(server):
    pytest.importorskip("PIL.Image", reason="PNG input needs Pillow (the images extra)")
    img = drawn_seven()
    _, on_black, _ = request(server, "POST", "/api/predict", png_bytes(img), "image/png")
    _, on_white, _ = request(server, "POST", "/api/predict", png_bytes(1 - img), "image/png")
    np.testing.assert_allclose(on_black["input"], on_white["input"], atol=0.01)


def test_blank_canvas_says_draw_a_digit(server):
    status, answer = post(server, [0.0] * 784)
    assert status == 200
    assert answer["blank"] is True and answer["digit"] is None
    assert answer["message"] == "draw a digit"


def test_content_type_with_charset(server):
    status, _ = post(server, drawn_seven(28).ravel().tolist(),
                     content_type="application/json; charset=utf-8")
    assert status == 200


def test_concurrent_requests(server):
    img = drawn_seven(56).tolist()
    results: list[tuple[int, dict]] = []

    def worker() -> None:
        results.append(post(server, {"image": img}))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(results) == 8 and all(s == 200 for s, _ in results)
    assert all(a == results[0][1] for _, a in results)


# ----- bad input: a 4xx with a one-line JSON message, and the server carries on ----------


def assert_error(status: int, answer: dict, expected: int, *words: str) -> None:
    assert status == expected, answer
    assert set(answer) == {"error"}
    assert "\n" not in answer["error"] and answer["error"]
    for word in words:
        assert word in answer["error"]


@pytest.mark.parametrize("obj, words", [
    ([0.5] * 783, ["784", "783"]),
    ([0.5] * 785, ["784"]),
    ([], ["784", "0"]),
    ([1.5] + [0.0] * 783, ["[0, 1]"]),
    ([-0.1] + [0.0] * 783, ["[0, 1]"]),
    (["0.5"] * 784, ["numbers"]),
    ([True] * 784, ["numbers"]),
    ([[0.1, 0.2], [0.3]], ["same length"]),
    ([[[0.0]]], ["2-D"]),
    ({"pixels": [0.0] * 784}, ["pixels"]),
    ({"width": 28}, ["image"]),
    ({"image": [0.0] * 784, "width": 28}, ["height"]),
    ({"image": [0.0] * 100, "width": 10, "height": 11}, ["110"]),
    ({"image": [0.0] * 6, "width": 2.0, "height": 3}, ["integers"]),
    ({"image": [[0.0] * 30] * 30, "preprocess": False}, ["28x28"]),
    ({"image": [0.0] * 784, "preprocess": "no"}, ["true or false"]),
    ({"image": [[0.0] * 3000]}, ["2048"]),
    ("hello", ["784"]),
    (42, ["784"]),
    (None, ["784"]),
])
def test_bad_json_values(server, obj, words):
    status, answer = post(server, obj)
    assert_error(status, answer, 422, *words)


@pytest.mark.parametrize("body", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_non_finite_values(server, body):
    floats = b"[" + b",".join([body] + [b"0"] * 783) + b"]"
    status, answer, _ = request(server, "POST", "/api/predict", floats)
    assert_error(status, answer, 422, "finite")


@pytest.mark.parametrize("body, words", [
    (b"", ["JSON"]),
    (b"{", ["JSON"]),
    (b"[0.1, 0.2,", ["JSON"]),
    (b"\xff\xfe\x00", ["UTF-8"]),
    (b"[" * 100000, ["JSON"]),
])
def test_not_json(server, body, words):
    status, answer, _ = request(server, "POST", "/api/predict", body)
    assert_error(status, answer, 400, *words)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", "image/jpeg", None])
def test_wrong_content_type(server, content_type):
    status, answer, _ = request(server, "POST", "/api/predict", b"[0]", content_type)
    assert_error(status, answer, 415, "application/json")


def test_png_that_is_not_a_png(server):
    status, answer, _ = request(server, "POST", "/api/predict", b"GIF89a...", "image/png")
    assert_error(status, answer, 400, "PNG")
    pytest.importorskip("PIL.Image")
    broken = png_bytes(drawn_seven())[:60]  # header, then the data cut short
    status, answer, _ = request(server, "POST", "/api/predict", broken, "image/png")
    assert_error(status, answer, 400, "PNG")


def test_png_too_many_pixels(server):
    pytest.importorskip("PIL.Image")
    big = png_bytes(np.zeros((1, 5000), np.float32))  # tiny file, too wide
    status, answer, _ = request(server, "POST", "/api/predict", big, "image/png")
    assert_error(status, answer, 422, "5000x1")


def test_png_without_pillow(server, monkeypatch):
    monkeypatch.setitem(sys.modules, "PIL", None)  # import PIL now fails
    status, answer, _ = request(server, "POST", "/api/predict", png_bytes(drawn_seven()),
                                "image/png")
    assert_error(status, answer, 415, "Pillow")


def test_oversized_body_refused_before_reading(server):
    head = (b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1048577\r\n\r\n")
    with socket.create_connection(server.server_address[:2], timeout=10) as s:
        s.sendall(head)  # and no body at all: the answer must come anyway
        s.shutdown(socket.SHUT_WR)
        raw = b"".join(iter(lambda: s.recv(65536), b""))
    status, answer = status_and_json(raw)
    assert_error(status, answer, 413, "1048577")


def test_oversized_body_sent_anyway(server):
    body = b"[" + b"0," * 600_000 + b"0]"
    status, answer, _ = request(server, "POST", "/api/predict", body)
    assert_error(status, answer, 413, "1 MB")


@pytest.mark.parametrize("head, expected", [
    (b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
     b"\r\n", 411),
    (b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 411),
    (b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
     b"Content-Length: -5\r\n\r\n", 400),
    (b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
     b"Content-Length: lots\r\n\r\n", 400),
    (b"GARBAGE\r\n\r\n", 400),
    (b"BREW / HTTP/1.1\r\nHost: localhost\r\n\r\n", 501),
])
def test_malformed_requests(server, head, expected):
    status, answer = status_and_json(raw_exchange(server, head))
    assert_error(status, answer, expected)


def test_body_shorter_than_promised_times_out(server):
    head = (b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n[0.5, 0.5")
    start = time.monotonic()
    status, answer = status_and_json(raw_exchange(server, head))
    assert_error(status, answer, 408, "timed out")
    assert time.monotonic() - start < 8


@pytest.mark.parametrize("method, path, expected, allow", [
    ("GET", "/api/predict", 405, "POST"),
    ("PUT", "/api/predict", 405, "POST"),
    ("DELETE", "/api/predict", 405, "POST"),
    ("POST", "/", 405, "GET, HEAD"),
    ("POST", "/api/info", 405, "GET, HEAD"),
    ("OPTIONS", "/app.js", 405, "GET, HEAD"),
    ("GET", "/nope", 404, None),
    ("POST", "/api/nope", 404, None),
    ("GET", "/../../etc/passwd", 404, None),
    ("GET", "/web/app.js", 404, None),
])
def test_routes_and_methods(server, method, path, expected, allow):
    status, answer, headers = request(server, method, path)
    assert_error(status, answer, expected)
    assert headers.get("Allow") == allow


@given(st.binary(max_size=2000), st.sampled_from(["application/json", "image/png"]))
def test_arbitrary_bodies_never_crash(server, body, content_type):
    status, answer, _ = request(server, "POST", "/api/predict", body, content_type)
    assert status == 200 or 400 <= status < 500, answer
    assert status == 200 or ("error" in answer and "\n" not in answer["error"])


@given(st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(),
                    lambda inner: st.lists(inner, max_size=5)
                    | st.dictionaries(st.sampled_from(["image", "width", "height",
                                                       "preprocess", "x"]), inner),
                    max_leaves=30))
def test_arbitrary_json_never_crashes(server, obj):
    status, answer, _ = request(server, "POST", "/api/predict",
                                json.dumps(obj, allow_nan=True).encode())
    assert status == 200 or status in (400, 422), answer


def test_server_still_answers_after_abuse(server):
    status, answer = post(server, drawn_seven(28).ravel().tolist())
    assert status == 200
    check_answer(answer)


def test_nothing_written_to_disk(model_path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    srv = serve.create_server(model_path, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        post(srv, drawn_seven().ravel().tolist())
        post(srv, {"image": drawn_seven().tolist()})
        request(srv, "POST", "/api/predict", png_bytes(drawn_seven()), "image/png")
    finally:
        srv.shutdown()
        srv.server_close()
    assert list(tmp_path.iterdir()) == []


# ----- the model side and the command line ---------------------------------------------


def test_grid_shape():
    assert serve.grid_shape(512) == (16, 32)
    assert serve.grid_shape(800) == (20, 40)
    assert serve.grid_shape(16) == (4, 4)
    assert serve.grid_shape(1) == (1, 1)
    for n in range(1, 2000):
        rows, cols = serve.grid_shape(n)
        assert rows * cols >= n and rows * cols - n < cols  # no empty row
        assert cols <= 6 * rows + 6 and rows <= 2 * cols


def test_relu_dropout_and_tanh_layers(tmp_path):
    rng = np.random.default_rng(1)
    x, y = _synthetic(100, rng)
    for activation, expected_lo in [("relu", 0.0), ("tanh", -1.0)]:
        cfg = T.Config(hidden=(8,), activation=activation, dropout=0.5, epochs=1, seed=1)
        model, history = T.train(cfg, (x, y, x, y), log=None, progress=False)
        path = tmp_path / f"{activation}.npz"
        T.save_checkpoint(path, model, cfg, history)
        answer = serve.Predictor.from_checkpoint(path).predict(drawn_seven())
        (layer,) = answer["layers"]
        assert layer["name"] == f"hidden 1 ({activation})" and layer["range"][0] == expected_lo
        again = serve.Predictor.from_checkpoint(path).predict(drawn_seven())
        assert again == answer  # eval mode: dropout is off, answers repeat


def test_quadratic_loss_model_probabilities(tmp_path):
    rng = np.random.default_rng(2)
    x, y = _synthetic(100, rng)
    cfg = T.Config(hidden=(8,), loss="quadratic", optimizer="sgd", lr=1.0, epochs=1)
    model, history = T.train(cfg, (x, y, x, y), log=None, progress=False)
    T.save_checkpoint(tmp_path / "q.npz", model, cfg, history)
    answer = serve.Predictor.from_checkpoint(tmp_path / "q.npz").predict(drawn_seven())
    assert abs(sum(answer["probabilities"]) - 1) < 1e-4 and len(answer["layers"]) == 1


def _cli(*args: str, home: Path) -> subprocess.Popen:
    """``python -m tinygrad_mlp serve ARGS`` with its own HOME (so no latest checkpoint)."""
    return subprocess.Popen([sys.executable, "-m", "tinygrad_mlp", "serve", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "HOME": str(home)})


def test_cli_serves_the_latest_checkpoint(model_path, tmp_path):
    latest = tmp_path / ".cache" / "tinygrad_mlp" / "latest_checkpoint"
    latest.parent.mkdir(parents=True)
    latest.write_text(str(model_path))
    proc = _cli("--port", "0", home=tmp_path)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving http://127.0.0.1:") and "tiny.npz" in line
        url = line.split()[1]
        host_port = url.removeprefix("http://").rstrip("/")
        host, port = host_port.rsplit(":", 1)
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/api/info")
        assert json.loads(conn.getresponse().read())["sizes"] == [784, 16, 12, 10]
    finally:
        proc.terminate()
        proc.communicate(timeout=10)


def test_cli_without_a_model_says_how_to_make_one(tmp_path):
    proc = _cli(home=tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "tinygrad-mlp train" in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_cli_errors_are_one_line(model_path, tmp_path):
    proc = _cli(str(tmp_path / "missing.npz"), home=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "missing.npz" in err and len(err.splitlines()) == 1
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _cli(str(model_path), "--port", str(port), home=tmp_path)
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and f"port {port}" in err and len(err.splitlines()) == 1
    proc = _cli(str(model_path), "--port", "70000", home=tmp_path)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "65535" in err and "Traceback" not in err


def test_png_helper_round_trips():
    Image = pytest.importorskip("PIL.Image")
    img = drawn_seven(30)
    with Image.open(io.BytesIO(png_bytes(img))) as im:
        np.testing.assert_allclose(np.asarray(im) / 255.0, img, atol=1 / 255)


def test_a_bug_of_ours_is_a_one_line_500_and_the_server_goes_on(server, monkeypatch):
    def broken(image, preprocess_image=True):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(server.predictor, "predict", broken)
    status, answer = post(server, [0.5] * 784)
    assert_error(status, answer, 500, "boom")
    monkeypatch.undo()
    assert post(server, drawn_seven(28).ravel().tolist())[0] == 200


# ----- hardening: load, slow clients, Host, disconnects, odd images -------------------------


def test_load_of_20_threads_gets_no_errors(server):
    """A burst of fresh connections (Python's default backlog of 5 reset some of them)."""
    assert server.request_queue_size >= 128
    body = json.dumps(drawn_seven(28).ravel().tolist()).encode()
    latencies: list[float] = []
    errors: list[str] = []

    def worker() -> None:
        for _ in range(10):
            start = time.perf_counter()
            try:
                status, answer, _ = request(server, "POST", "/api/predict", body)
                assert status == 200 and answer["digit"] in range(10), (status, answer)
            except Exception as e:  # noqa: BLE001 - counted, then reported all at once
                errors.append(repr(e))
            else:
                latencies.append(time.perf_counter() - start)

    threads = [threading.Thread(target=worker) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    ms = np.sort(np.array(latencies)) * 1000
    print(f"\n200 requests from 20 threads: {len(errors)} errors, p50 "
          f"{np.percentile(ms, 50):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms")
    assert not errors, errors[:3]
    assert len(latencies) == 200


def test_a_client_trickling_bytes_is_cut_off_at_the_deadline(model_path):
    srv = serve.create_server(model_path, port=0)
    srv.request_timeout = 0.6
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        start = time.perf_counter()
        with socket.create_connection(srv.server_address[:2], timeout=10) as s:
            raw = b""
            for byte in b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\n":
                try:
                    s.sendall(bytes([byte]))
                except OSError:
                    break
                time.sleep(0.05)  # each byte well within the per-read timeout
                if time.perf_counter() - start > 3:
                    break
            while chunk := s.recv(65536):
                raw += chunk
        elapsed = time.perf_counter() - start
        assert elapsed < 3, elapsed  # freed at the deadline, not when the client stops
        status, answer = status_and_json(raw)
        assert_error(status, answer, 408, "timed out")
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)


@pytest.mark.parametrize("host, expected", [
    ("localhost", 200), ("localhost:8000", 200), ("127.0.0.1", 200), ("127.0.0.1:80", 200),
    ("[::1]:8000", 200), ("app.localhost", 200), ("evil.example", 403),
    ("evil.example:8000", 403), ("10.0.0.5", 403), ("[2001:db8::1]", 403), ("", 403),
])
def test_host_header_is_checked_on_loopback(server, host, expected):
    raw = raw_exchange(server, f"GET /api/info HTTP/1.1\r\nHost: {host}\r\n"
                               "Connection: close\r\n\r\n".encode())
    status, answer = status_and_json(raw)
    assert status == expected, answer
    if expected == 403:
        assert_error(status, answer, 403, "Host", "localhost")


def test_host_is_not_checked_when_listening_on_other_addresses(model_path):
    srv = serve.create_server(model_path, host="0.0.0.0", port=0)
    try:
        assert srv.host_allowed("my-laptop.lan:8000") and srv.host_allowed("192.168.1.9")
    finally:
        srv.server_close()


@pytest.mark.parametrize("line", [b"GET http://[ HTTP/1.0", b"GET http://[::1 HTTP/1.0",
                                  b"POST http://[/api/predict HTTP/1.1"])
def test_malformed_request_targets_get_a_json_error(server, line):
    status, answer = status_and_json(raw_exchange(server, line + b"\r\nHost: localhost\r\n\r\n"))
    assert_error(status, answer, 400, "bad request target")


def test_disconnecting_clients_log_no_traceback(model_path, capfd):
    lines: list[str] = []
    srv = serve.create_server(model_path, port=0, log=lines.append)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    body = json.dumps(drawn_seven(28).ravel().tolist()).encode()
    try:
        for data in (b"GET / HT", b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n[0,",
                     b"POST /api/predict HTTP/1.1\r\nHost: localhost\r\nContent-Type: "
                     b"application/json\r\nContent-Length: " + str(len(body)).encode()
                     + b"\r\n\r\n" + body, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"):
            s = socket.create_connection(srv.server_address[:2], timeout=10)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.sendall(data)
            s.close()  # a reset, before reading anything
        time.sleep(0.3)
        assert request(srv, "GET", "/api/info")[0] == 200  # still serving
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
    err = capfd.readouterr().err
    assert "Traceback" not in err and not any("Traceback" in line for line in lines), err


def _png16(img: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.round(np.clip(img, 0, 1) * 65535).astype(np.uint16)).save(buf, "PNG")
    return buf.getvalue()


def test_16_bit_grayscale_png_reads_like_the_8_bit_one(server):
    pytest.importorskip("PIL")
    data = _png16(drawn_seven())
    assert data[24] == 16  # IHDR bit depth: really a 16-bit PNG
    status16, a16, _ = request(server, "POST", "/api/predict", data, "image/png")
    status8, a8, _ = request(server, "POST", "/api/predict", png_bytes(drawn_seven()),
                             "image/png")
    assert status16 == status8 == 200
    check_answer(a16)
    assert a16["digit"] == a8["digit"]
    np.testing.assert_allclose(a16["input"], a8["input"], atol=0.01)


@pytest.mark.parametrize("image, reason, words", [
    ("dot", "small", "draw bigger"), ("faint", "faint", "too faint"),
])
def test_a_dot_or_faint_ink_asks_for_a_bigger_drawing(server, image, reason, words):
    if image == "dot":
        img = np.zeros((140, 140))
        img[70:78, 60:68] = 1.0  # a click of the page's brush
    else:
        img = 0.1 * drawn_seven()  # a whole digit, but barely there
    status, answer = post(server, {"image": img.tolist()})
    assert status == 200
    assert answer["blank"] is True and answer["digit"] is None
    assert answer["probabilities"] is None and answer["reason"] == reason
    assert words in answer["message"]
    status, answer = post(server, {"image": drawn_seven().tolist()})  # a digit is read
    check_answer(answer)


def test_a_conv_net_shows_each_stages_feature_maps():
    """A convolutional model's page gets every stage's feature maps (after its pooling),
    laid out as maps of H×W, then the dense hidden layer; values match the model's own."""
    import tinygrad_mlp as tg

    tg.manual_seed(0)
    conv = (4, 6)
    model = T.build_model([T.conv_features(conv), 16, 10], "relu", "logits", conv=conv)
    meta = {"architecture": {"sizes": [T.conv_features(conv), 16, 10], "activation": "relu",
                             "output": "logits"}}
    predictor = serve.Predictor(model, meta, name="cnn")
    layers = predictor.info()["layers"]
    assert [(d["name"], d.get("maps"), d.get("height"), d.get("width"), d["units"])
            for d in layers] == [("conv 1 (relu)", 4, 14, 14, 4 * 14 * 14),
                                 ("conv 2 (relu)", 6, 7, 7, 6 * 7 * 7),
                                 ("hidden 1 (relu)", None, None, None, 16)]
    image = np.zeros((28, 28), np.float32)
    image[6:22, 12:16] = 1.0
    answer = predictor.predict(image, preprocess_image=False)
    with tg.no_grad():
        h = tg.Tensor(image.reshape(1, 784))
        maps = model[0](h)
        for m in list(model)[1:4]:
            maps = m(maps)
    assert len(answer["layers"]) == 3
    np.testing.assert_allclose(answer["layers"][0]["activations"],
                               maps.data[0].ravel(), atol=1e-4)
    assert answer["layers"][0]["range"][0] == 0.0  # relu maps: [0, max]
