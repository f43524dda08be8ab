"""``tinygrad-mlp serve``: a local web page where you draw a digit and watch the MLP read it.

The page (``tinygrad_mlp/web/``: plain HTML, JavaScript and CSS, no build step, nothing
fetched from elsewhere) sends what you draw to a small JSON API served by the standard
library's ``ThreadingHTTPServer``::

    GET  /                 the page (and /app.js, /style.css)
    GET  /api/info         the model: architecture, hidden layers, test accuracy
    POST /api/predict      an image in, probabilities and every hidden layer's activations out

``POST /api/predict`` takes ``application/json`` or ``image/png``, at most 1 MB:

- ``[784 numbers]``: a 28×28 image, row by row, values in [0, 1], 1 = ink;
- ``{"image": [[...], ...]}``: a 2-D image of any size up to 2048×2048;
- ``{"image": [...], "width": W, "height": H}``: the same, flattened row by row;
- ``"preprocess": false`` in the object: the image is already MNIST-style (28×28), use it
  as it is;
- a PNG file (needs Pillow on the server, the ``images`` extra); transparent pixels count
  as white paper, as ``predict`` reads them.

Unless told otherwise, every image goes through ``preprocess.to_mnist`` — the code that
``tinygrad-mlp predict`` uses — so a drawing is cropped, scaled to 20×20 and centred by
mass as the MNIST digits were. The answer::

    {"blank": false, "digit": 3, "probabilities": [10 numbers],
     "layers": [{"name": "hidden 1 (sigmoid)", "units": 512, "shape": [16, 32],
                 "range": [0, 1], "activations": [512 numbers]}, ...],
     "input": [784 numbers: the 28×28 image the network saw]}

A drawing too little to read gets ``200`` with ``"blank": true``, ``"digit": null``, a
``"reason"`` (``"blank"``: no ink; ``"small"``: a dot, not a digit; ``"faint"``: barely
darker than the paper) and a ``"message"`` for the reader ("draw a digit", "draw bigger").
Anything wrong with a request gets a 4xx status and ``{"error": "one line"}``; the server
keeps going, and nothing is written to disk.

Hardening, for a server that is only ever meant for this machine: a listen backlog of
128; each connection must deliver its whole request within ``request_timeout`` seconds
(408 otherwise, so a client trickling one byte a second cannot hold a thread); on a
loopback address only ``Host: localhost``/``127.x.x.x``/``[::1]`` is answered (a web
page elsewhere cannot reach the API through DNS rebinding); a client that disconnects
is not an error worth a traceback.

>>> server = create_server("model.npz", port=0)          # doctest: +SKIP
>>> threading.Thread(target=server.serve_forever).start()  # doctest: +SKIP
>>> server.url                                            # doctest: +SKIP
'http://127.0.0.1:40123/'
>>> server.shutdown(); server.server_close()              # doctest: +SKIP
"""

from __future__ import annotations

import io
import ipaddress
import json
import math
import os
import socket
import sys
import threading
import warnings
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

import tinygrad_mlp as tg
from tinygrad_mlp import nn, preprocess
from tinygrad_mlp import train as T

MAX_BODY = 1024 * 1024  # bytes
MAX_SIDE = 2048  # pixels, either side of an image sent to /api/predict
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STATIC = {  # URL path -> (file in tinygrad_mlp/web, content type)
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/app.js": ("app.js", "text/javascript; charset=utf-8"),
    "/style.css": ("style.css", "text/css; charset=utf-8"),
}
GET_ROUTES = {*STATIC, "/api/info"}
UNREADABLE = {  # ink_problem's reasons, as the page says them
    "blank": "draw a digit",
    "small": "draw bigger: that is a dot, not a digit",
    "faint": "draw bigger and bolder: the ink is too faint to read",
}
LOOPBACK_NAMES = ("localhost", "::1")
POST_ROUTES = {"/api/predict"}
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'none'",
}


class RequestError(Exception):
    """A request we refuse: an HTTP status and a one-line reason for the client."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


# ----- the model side ------------------------------------------------------------------


def grid_shape(units: int) -> tuple[int, int]:
    """(rows, cols) for drawing ``units`` cells: the exact factorisation closest to 1:2,
    or a near-1:2 grid with a few empty cells at the end when ``units`` factors badly.

    >>> grid_shape(512), grid_shape(16), grid_shape(30), grid_shape(31)
    ((16, 32), (4, 4), (5, 6), (4, 8))
    """
    best = None
    for rows in range(math.isqrt(units), 0, -1):  # squarer first: it wins ties
        if units % rows == 0:
            cols = units // rows
            skew = abs(math.log(cols / rows / 2))
            if best is None or skew < best[0] - 1e-9:
                best = (skew, rows, cols)
    if best is not None and best[0] <= math.log(3):  # at most 1:6 or 3:2
        return best[1], best[2]
    cols = math.ceil(math.sqrt(2 * units))
    return math.ceil(units / cols), cols


def _value_range(activation: str, values: np.ndarray) -> list[float]:
    """The colour scale for a layer: fixed for squashing functions, [0, max] otherwise."""
    if activation == "sigmoid":
        return [0.0, 1.0]
    if activation == "tanh":
        return [-1.0, 1.0]
    lo = min(0.0, float(values.min(initial=0.0)))
    return [lo, max(float(values.max(initial=0.0)), lo + 1e-6)]


class Predictor:
    """A checkpoint's model, ready for one image at a time from many threads.

    ``predict`` returns the digit, the ten probabilities and the activations of every
    hidden layer (the output of each activation function that feeds another Linear) and,
    for a convolutional network, every stage's feature maps (after its pooling).
    """

    def __init__(self, model: nn.Module, meta: dict[str, Any], name: str = "model") -> None:
        if not isinstance(model, nn.Sequential):
            raise TypeError(f"serve needs an nn.Sequential model, got {type(model).__name__}")
        self.model = model.eval()
        self.meta = meta
        self.name = name
        self.output = str(meta["architecture"]["output"])
        modules = list(model)
        linears = [i for i, m in enumerate(modules) if isinstance(m, nn.Linear)]
        taps: dict[int, tuple[str, str]] = {}  # module index -> (layer name, activation)
        for k, (start, end) in enumerate(zip(linears[:-1], linears[1:], strict=True), 1):
            acts = [type(m).__name__.lower() for m in modules[start + 1 : end]
                    if not isinstance(m, nn.Dropout)]
            activation = acts[-1] if acts else "linear"
            taps[end - 1] = (f"hidden {k} ({activation})", activation)
        # a convolutional stage's feature maps: after its activation and pooling, just
        # before the next convolution (or the flattening into the dense layers)
        convs = [i for i, m in enumerate(modules) if isinstance(m, nn.Conv2d)]
        for k, start in enumerate(convs, 1):
            end = next((j for j in range(start + 1, len(modules))
                        if isinstance(modules[j], (nn.Conv2d, nn.Flatten, nn.Linear))),
                       len(modules))
            acts = [type(m).__name__.lower() for m in modules[start + 1 : end]
                    if not isinstance(m, (nn.Dropout, nn.MaxPool2d, nn.AvgPool2d))]
            activation = acts[-1] if acts else "linear"
            taps[end - 1] = (f"conv {k} ({activation})", activation)
        self._taps = dict(sorted(taps.items()))
        with tg.no_grad():  # each tap's shape, from one blank image
            self._shapes = {i: values.shape for i, values in self._run(np.zeros((1, 784),
                                                                               np.float32))[1]}

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str]) -> Predictor:
        """Load a checkpoint written by ``tinygrad-mlp train``."""
        model, meta = T.load_checkpoint(path)
        return cls(model, meta, name=Path(path).name)

    def info(self) -> dict[str, Any]:
        """What the page shows about the model (``GET /api/info``)."""
        arch = self.meta["architecture"]
        history = self.meta.get("history") or {}
        accuracy = history.get("test_accuracy")
        if accuracy is not None and np.size(accuracy):
            accuracy = float(np.asarray(accuracy, np.float64).ravel()[-1])
        else:
            accuracy = None
        sizes = [int(s) for s in arch["sizes"]]
        layers = [self._describe(i, name) for i, (name, _) in self._taps.items()]
        return {
            "model": self.name,
            "sizes": sizes,
            "activation": str(arch["activation"]),
            "output": self.output,
            "test_accuracy": accuracy,
            "layers": layers,
        }

    def predict(self, image: np.ndarray, preprocess_image: bool = True) -> dict[str, Any]:
        """Classify one 2-D image (values in [0, 1], 1 = ink); see the module docstring."""
        if preprocess_image:
            problem = preprocess.ink_problem(image)
            if problem is not None:
                return {"blank": True, "reason": problem, "message": UNREADABLE[problem],
                        "digit": None, "probabilities": None, "layers": [],
                        "input": [0.0] * 784}
            x = preprocess.to_mnist(image)
        else:
            x = np.asarray(image, np.float32)
        x = x.reshape(1, 784).astype(np.float32)
        with tg.no_grad():  # grad mode is per thread: requests run side by side
            out, taps = self._run(x)
        probs = T.probabilities(out.astype(np.float64), self.output)[0]
        layers = []
        for i, values in taps:
            name, activation = self._taps[i]
            layers.append({
                **self._describe(i, name),
                "range": _value_range(activation, values),
                "activations": np.round(values.astype(np.float64), 4).ravel().tolist(),
            })
        return {
            "blank": False,
            "digit": int(probs.argmax()),
            "probabilities": np.round(probs, 6).tolist(),
            "layers": layers,
            "input": np.round(x[0].astype(np.float64), 3).tolist(),
        }


    def _run(self, x: np.ndarray) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
        """The model's output for ``x`` (1, 784) and each tap's values (module index, array)."""
        taps = []
        h = tg.Tensor(x)
        for i, module in enumerate(self.model):
            h = module(h)
            if i in self._taps:
                taps.append((i, h.data[0].copy()))
        return h.data, taps

    def _describe(self, i: int, name: str) -> dict[str, Any]:
        """A tap as the page lays it out: units in a grid, or C feature maps of H×W."""
        shape = self._shapes[i]
        units = int(np.prod(shape))
        layer: dict[str, Any] = {"name": name, "units": units, "shape": list(grid_shape(units))}
        if len(shape) == 3:
            layer.update(maps=int(shape[0]), height=int(shape[1]), width=int(shape[2]))
        return layer


# ----- reading requests -------------------------------------------------------------------


def image_from_json(body: bytes) -> tuple[np.ndarray, bool]:
    """The 2-D image and the preprocess flag in a JSON request body (see module docstring)."""
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=float)  # NaN: caught below
    except UnicodeDecodeError:
        raise RequestError(400, "body is not UTF-8 text") from None
    except json.JSONDecodeError as e:
        raise RequestError(400, f"body is not valid JSON: {e.msg} at position {e.pos}") from None
    except RecursionError:
        raise RequestError(400, "body is not valid JSON: nested too deeply") from None
    width = height = None
    preprocess_image = True
    if isinstance(doc, dict):
        unknown = sorted(set(doc) - {"image", "width", "height", "preprocess"})
        if unknown:
            raise RequestError(422, f"unknown field {unknown[0]!r}; expected image, width, "
                                    "height, preprocess")
        if "image" not in doc:
            raise RequestError(422, "missing field 'image'")
        preprocess_image = doc.get("preprocess", True)
        if not isinstance(preprocess_image, bool):
            raise RequestError(422, "'preprocess' must be true or false")
        width, height = doc.get("width"), doc.get("height")
        doc = doc["image"]
    if not isinstance(doc, list):
        raise RequestError(422, "expected a list of 784 numbers or {\"image\": [...]}")
    try:
        arr = np.array(doc)
    except (ValueError, TypeError):
        raise RequestError(422, "image rows must all have the same length") from None
    if arr.dtype.kind not in "iuf" or arr.ndim == 0:
        raise RequestError(422, "image must contain only numbers")
    if (width is None) != (height is None):
        raise RequestError(422, "give both 'width' and 'height', or neither")
    if width is not None:
        if arr.ndim != 1:
            raise RequestError(422, "'width' and 'height' go with a flat list of numbers")
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_SIDE
                   for v in (width, height)):
            raise RequestError(422, f"'width' and 'height' must be integers in 1..{MAX_SIDE}")
        if arr.size != width * height:
            raise RequestError(422, f"expected width*height = {width * height} numbers, "
                                    f"got {arr.size}")
        arr = arr.reshape(height, width)
    elif arr.ndim == 1:
        if arr.size != 784:
            raise RequestError(422, f"expected 784 numbers (a 28x28 image), got {arr.size}")
        arr = arr.reshape(28, 28)
    if arr.ndim != 2 or 0 in arr.shape:
        raise RequestError(422, f"expected a 2-D image, got shape {list(arr.shape)}")
    if max(arr.shape) > MAX_SIDE:
        raise RequestError(422, f"image is {arr.shape[1]}x{arr.shape[0]}; at most "
                                f"{MAX_SIDE}x{MAX_SIDE}")
    arr = arr.astype(np.float32)
    if not np.all(np.isfinite(arr)) or arr.min() < 0 or arr.max() > 1:
        raise RequestError(422, "image values must be finite numbers in [0, 1]")
    if not preprocess_image and arr.shape != (28, 28):
        raise RequestError(422, f"\"preprocess\": false needs a 28x28 image, got "
                                f"{arr.shape[1]}x{arr.shape[0]}")
    return arr, preprocess_image


def image_from_png(body: bytes) -> np.ndarray:
    """A PNG file's pixels as a 2-D grayscale image in [0, 1] (decoded in memory)."""
    if not body.startswith(PNG_SIGNATURE):
        raise RequestError(400, "body is not a PNG file")
    try:
        from PIL import Image
    except ImportError:
        raise RequestError(415, "PNG input needs Pillow on the server (pip install Pillow); "
                                "send JSON instead") from None
    try:
        with warnings.catch_warnings():  # Pillow warns of big images; refused below anyway
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(body), formats=["PNG"]) as im:
                width, height = im.size
                if max(width, height) > MAX_SIDE:  # checked before the pixels are decompressed
                    raise RequestError(422, f"PNG is {width}x{height}; at most "
                                            f"{MAX_SIDE}x{MAX_SIDE}")
                return preprocess.from_pil(im, source="PNG")
    except RequestError:
        raise
    except Exception as e:  # Pillow raises many kinds for broken files
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise RequestError(400, f"not a readable PNG: {reason}") from None


# ----- HTTP ---------------------------------------------------------------------------------


def _encode(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()


def _one_line(text: str, limit: int = 300) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


class Handler(BaseHTTPRequestHandler):
    """Routes requests to the page's files and the JSON API; every error is JSON."""

    server: DigitServer
    server_version = "tinygrad-mlp"
    sys_version = ""
    default_request_version = "HTTP/1.0"  # even a garbled request line gets status + JSON

    def setup(self) -> None:
        self.timeout = self.server.request_timeout  # a stalled client frees its thread
        super().setup()
        self.requestline, self.command, self.request_version = "", "", "HTTP/1.0"
        self._responded = False
        self._late = threading.Event()
        # ... and so does a slow one: the whole request must arrive before the deadline
        self._deadline = threading.Timer(self.server.request_timeout, self._stop_reading)
        self._deadline.daemon = True
        self._deadline.start()

    def _stop_reading(self) -> None:
        """Deadline passed: reads see end-of-file from now on (the answer can still go out)."""
        self._late.set()
        try:
            self.connection.shutdown(socket.SHUT_RD)
        except OSError:
            pass

    def _late_message(self) -> str:
        return f"timed out: the request did not arrive within {self.timeout:g} s"

    def finish(self) -> None:
        self._deadline.cancel()
        super().finish()

    def handle_one_request(self) -> None:
        super().handle_one_request()
        if self._late.is_set() and not self._responded:
            self.close_connection = True
            self._error(408, self._late_message())

    def parse_request(self) -> bool:
        """http.server's parsing, then what it does not check: the deadline, the target and
        the Host."""
        if self._late.is_set():  # what arrived was cut off by the deadline: say so
            self.send_error(408, self._late_message())
            return False
        if not super().parse_request():
            return False
        if self._late.is_set():
            self.send_error(408, self._late_message())
            return False
        try:
            urlsplit(self.path)
        except ValueError:
            self.send_error(400, f"bad request target {_one_line(self.path, 60)!r}")
            return False
        host = self.headers.get("Host")
        if host is not None and not self.server.host_allowed(host):
            self.send_error(403, f"Host {_one_line(host, 60)!r} is not served here: this "
                                 "page answers only to localhost, 127.0.0.1 and [::1]")
            return False
        return True

    # --- responses ---

    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self._responded = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in {**SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(key, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, _encode(obj), "application/json", headers)

    def send_error(self, code: int, message: str | None = None,
                   explain: str | None = None) -> None:
        """Errors raised inside http.server (bad request line, ...) as JSON too."""
        self.close_connection = True
        try:
            self._send_json(code, {"error": _one_line(message or HTTPStatus(code).phrase)})
        except OSError:
            pass

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"error": _one_line(message)}, headers)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")

    # --- routing ---

    def _path(self) -> str:
        return urlsplit(self.path).path

    def _not_allowed(self) -> None:
        path = self._path()
        if path in GET_ROUTES:
            self._error(405, f"{self.command} is not allowed on {path}; use GET",
                        {"Allow": "GET, HEAD"})
        elif path in POST_ROUTES:
            self._error(405, f"{self.command} is not allowed on {path}; use POST",
                        {"Allow": "POST"})
        else:
            self._error(404, f"no such page: {path}")
        self._discard_body()

    def do_GET(self) -> None:
        path = self._path()
        if path in STATIC:
            name, content_type = STATIC[path]
            self._send(200, self.server.static[name], content_type)
        elif path == "/api/info":
            self._send_json(200, self.server.predictor.info())
        else:
            self._not_allowed()

    do_HEAD = do_GET

    def do_POST(self) -> None:
        if self._path() not in POST_ROUTES:
            self._not_allowed()
            return
        try:
            body = _encode(self._predict())
        except RequestError as e:
            self._error(e.status, str(e))
        except Exception as e:  # a bug of ours (or a model gone NaN): one line, keep serving
            self.log_error("error in %s: %r", self.path, e)
            self._error(500, f"internal error: {type(e).__name__}: {e}")
        else:
            self._send(200, body, "application/json")

    do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    # --- the API ---

    def _content_length(self) -> int:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise RequestError(411, "send the body with a Content-Length, not chunked")
        text = self.headers.get("Content-Length")
        if text is None:
            raise RequestError(411, "a Content-Length header is required")
        try:
            length = int(text)
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise RequestError(400, f"bad Content-Length: {_one_line(text, 40)!r}")
        return length

    def _discard_body(self) -> None:
        """Read and drop a body we refused, so the client sees our answer (bounded)."""
        try:
            left = min(int(self.headers.get("Content-Length") or 0), 4 * MAX_BODY)
            while left > 0:
                chunk = self.rfile.read(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)
        except (OSError, ValueError):
            pass
        self.close_connection = True

    def _predict(self) -> dict[str, Any]:
        length = self._content_length()
        if length > MAX_BODY:
            self._discard_body()
            raise RequestError(413, f"body is {length} bytes; at most {MAX_BODY} (1 MB)")
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type not in ("application/json", "image/png"):
            self._discard_body()
            shown = content_type or "none"
            raise RequestError(415, f"Content-Type {shown!r} is not accepted; send "
                                    "application/json or image/png")
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self.close_connection = True
            raise RequestError(408, "timed out reading the request body") from None
        if len(body) < length:
            self.close_connection = True
            if self._late.is_set():
                raise RequestError(408, self._late_message())
            raise RequestError(400, f"body ended after {len(body)} of {length} bytes")
        if content_type == "image/png":
            image, preprocess_image = image_from_png(body), True
        else:
            image, preprocess_image = image_from_json(body)
        return self.server.predictor.predict(image, preprocess_image)


class DigitServer(ThreadingHTTPServer):
    """The HTTP server of the draw-a-digit page; ``url`` says where it listens."""

    daemon_threads = True
    request_queue_size = 128  # the listen backlog (Python's default of 5 drops bursts)

    def __init__(self, predictor: Predictor, host: str = "127.0.0.1", port: int = 8000,
                 log: Callable[[str], None] | None = None, request_timeout: float = 10.0) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.predictor = predictor
        self.log = log
        self.request_timeout = request_timeout
        web = resources.files("tinygrad_mlp") / "web"
        self.static = {name: (web / name).read_bytes() for name, _ in STATIC.values()}
        super().__init__((host, port), Handler)
        self._loopback = ipaddress.ip_address(self.server_address[0]).is_loopback

    def host_allowed(self, host: str) -> bool:
        """Whether to answer a request with this ``Host`` header: any, unless we listen on
        a loopback address; then only loopback names (no DNS rebinding)."""
        if not self._loopback:
            return True
        name = host.strip().lower()
        name = name[1 : name.find("]")] if name.startswith("[") else name.rsplit(":", 1)[0]
        if name in LOOPBACK_NAMES or name.endswith(".localhost"):
            return True
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up is normal: no traceback; anything else: one log line."""
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)) or self.log is None:
            return
        self.log(f"{client_address[0]} error: {type(error).__name__}: {error}")

    @property
    def url(self) -> str:
        """The page's address, e.g. ``http://127.0.0.1:8000/``."""
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in str(host) else host
        return f"http://{host}:{port}/"


def create_server(model: str | os.PathLike[str] | Predictor, host: str = "127.0.0.1",
                  port: int = 8000, log: Callable[[str], None] | None = None) -> DigitServer:
    """A bound, not yet serving, server for ``model`` (a checkpoint path or a Predictor).

    Run it with ``serve_forever()`` (in a thread, if you like); stop it with
    ``shutdown()`` and ``server_close()``. ``port=0`` picks a free port; see ``url``.
    """
    if not 0 <= port <= 65535:
        raise ValueError(f"--port must be in 0..65535, got {port}")
    predictor = model if isinstance(model, Predictor) else Predictor.from_checkpoint(model)
    try:
        return DigitServer(predictor, host, port, log=log)
    except OSError as e:
        raise OSError(f"cannot listen on {host} port {port}: {e.strerror or e}") from None


def serve(model: str | os.PathLike[str], host: str = "127.0.0.1", port: int = 8000) -> int:
    """Serve the page until Ctrl+C (what ``tinygrad-mlp serve`` runs); returns 0."""
    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    server = create_server(model, host, port, log=log)
    info = server.predictor.info()
    arch = "-".join(str(s) for s in info["sizes"])
    print(f"serving {server.url}  (model {model}: {arch} {info['activation']}; Ctrl+C stops)",
          flush=True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"warning: listening on {host}: other machines may reach this page", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped", flush=True)
    finally:
        server.server_close()
    return 0
