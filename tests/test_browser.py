"""The draw-a-digit page in a real headless Chromium: draw, see a prediction and the layers.

Needs Debian's ``chromium`` (or $TINYGRAD_MLP_CHROMIUM) and Playwright for Python
(``pip install playwright``; its own browser download is not used). ``.ci/run`` installs
both; without them the test is skipped and says which one is missing.

``TINYGRAD_MLP_SCREENSHOT=docs/screenshot.png`` also saves the screenshot there, and
``TINYGRAD_MLP_SCREENSHOT_MODEL=model.npz`` shows that checkpoint instead of the tiny
model trained here (how the README's screenshot is made).
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tinygrad_mlp import serve
from tinygrad_mlp import train as T

CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
TIMEOUT_MS = 15_000


def chromium_path() -> str | None:
    """Debian's chromium, or another Chromium build named by $TINYGRAD_MLP_CHROMIUM."""
    given = os.environ.get("TINYGRAD_MLP_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        if found := shutil.which(name):
            return found
    return None


@pytest.fixture(scope="module")
def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright for Python is not installed (pip install playwright)")
    return sync_playwright


@pytest.fixture(scope="module")
def browser_path() -> str:
    path = chromium_path()
    if path is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set TINYGRAD_MLP_CHROMIUM)")
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[serve.DigitServer]:
    """The page's server on 127.0.0.1 with a small 784-32-16-10 model (synthetic data)."""
    model = os.environ.get("TINYGRAD_MLP_SCREENSHOT_MODEL")
    if not model:
        rng = np.random.default_rng(0)
        y = rng.integers(0, 10, 400)
        x = rng.uniform(0, 0.1, (400, 28, 28)).astype(np.float32)
        for i, d in enumerate(y):
            x[i, 4 + 2 * d : 6 + 2 * d, 6:22] = 1.0
        x = x.reshape(400, 784)
        cfg = T.Config(hidden=(32, 16), epochs=2, batch_size=40, lr=1e-2)
        net, history = T.train(cfg, (x, y, x[:100], y[:100]), log=None, progress=False)
        model = str(tmp_path_factory.mktemp("model") / "small.npz")
        T.save_checkpoint(model, net, cfg, history)
    srv = serve.create_server(model, port=0)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()
    thread.join(5)


def _settled(page) -> None:
    """Wait for a prediction to be shown with no request still in flight."""
    page.wait_for_function(
        "() => document.body.dataset.state === 'predicted' && document.body.dataset.busy"
        " === 'false' && /^[0-9]$/.test(document.getElementById('digit').textContent)",
        timeout=TIMEOUT_MS,
    )


def _distinct_colours(page, selector: str) -> list[int]:
    """For each canvas matching ``selector``: how many different colours it shows."""
    return page.eval_on_selector_all(selector, """canvases => canvases.map(c => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const seen = new Set();
        for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        return seen.size;
    })""")


# A "7" as fractions of the drawing area: a bar across the top, then down to the left.
SEVEN = [(0.28, 0.22), (0.50, 0.21), (0.72, 0.22), (0.62, 0.45), (0.52, 0.66), (0.45, 0.84)]


def _points(box: dict, stroke: list[tuple[float, float]], steps: int = 8):
    """Screen points along ``stroke`` (fractions of ``box``), ``steps`` per segment."""
    pts = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in stroke]
    out = [pts[0]]
    for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:], strict=True):
        out += [(x0 + (x1 - x0) * t / steps, y0 + (y1 - y0) * t / steps)
                for t in range(1, steps + 1)]
    return out


def test_draw_a_digit_in_chromium(sync_playwright, browser_path, server, tmp_path):
    problems: list[str] = []
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=browser_path, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1100, "height": 860}, has_touch=True,
        )
        try:
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            page.on("console", lambda m: m.type == "error" and problems.append(m.text))
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(server.url)
            page.wait_for_function("() => document.querySelectorAll('canvas.grid').length > 0")
            cue = page.locator("#cue")
            assert cue.is_visible() and "draw a digit here" in cue.inner_text()
            expected_layers = len(server.predictor.info()["layers"])
            assert page.locator("canvas.grid").count() == expected_layers
            assert page.locator("#model-info").inner_text().startswith(
                server.predictor.name)

            # --- a stroke with the mouse ---
            box = page.locator("#pad").bounding_box()
            points = _points(box, SEVEN)
            page.mouse.move(*points[0])
            page.mouse.down()
            for x, y in points[1:]:
                page.mouse.move(x, y)
            page.mouse.up()
            _settled(page)
            assert not cue.is_visible()  # the cue goes once there is ink

            digit = int(page.locator("#digit").inner_text())
            best = page.eval_on_selector_all(
                ".bar", "bars => bars.findIndex(b => b.classList.contains('best'))")
            assert best == digit  # the highlighted bar is the predicted digit
            heights = page.eval_on_selector_all(
                ".bar .fill", "fills => fills.map(f => parseFloat(f.style.height))")
            assert len(heights) == 10 and abs(sum(heights) - 100) < 1.5
            assert "% sure" in page.locator("#confidence").inner_text()
            grids = page.locator("canvas.grid")
            assert all(grids.nth(i).get_attribute("data-drawn") == "true"
                       for i in range(expected_layers))
            assert all(n > 3 for n in _distinct_colours(page, "canvas.grid"))  # cells coloured
            assert _distinct_colours(page, "#input")[0] > 2  # the 28x28 input is shown

            shot = tmp_path / "page.png"
            page.screenshot(path=str(shot), full_page=True, animations="disabled")
            assert shot.stat().st_size > 10_000
            if target := os.environ.get("TINYGRAD_MLP_SCREENSHOT"):
                shutil.copyfile(shot, target)

            # --- Clear, then the same stroke with a finger (touch events) ---
            page.locator("#clear").click()
            page.wait_for_function("() => document.body.dataset.state === 'blank'")
            assert page.locator("#digit").inner_text() == "–"
            assert cue.is_visible()
            assert all(g == "false" for g in page.eval_on_selector_all(
                "canvas.grid", "gs => gs.map(g => g.dataset.drawn)"))

            cdp = context.new_cdp_session(page)
            for i, (x, y) in enumerate(points):
                kind = "touchStart" if i == 0 else "touchMove"
                cdp.send("Input.dispatchTouchEvent",
                         {"type": kind, "touchPoints": [{"x": x, "y": y}]})
            cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
            _settled(page)
            assert int(page.locator("#digit").inner_text()) == digit  # same drawing, same answer
        finally:
            context.close()
    assert not problems, problems


def _trained_server(tmp_path_factory, hidden: tuple[int, ...]) -> serve.DigitServer:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, 300)
    x = rng.uniform(0, 0.1, (300, 28, 28)).astype(np.float32)
    for i, d in enumerate(y):
        x[i, 4 + 2 * d : 6 + 2 * d, 6:22] = 1.0
    cfg = T.Config(hidden=hidden, epochs=1, batch_size=50, lr=1e-2)
    net, history = T.train(cfg, (x.reshape(300, 784), y, x[:50].reshape(50, 784), y[:50]),
                           log=None, progress=False)
    path = tmp_path_factory.mktemp("model") / "wide.npz"
    T.save_checkpoint(path, net, cfg, history)
    srv = serve.create_server(path, port=0)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


def test_a_dot_asks_for_a_bigger_digit_and_the_grid_fits_the_first_screen(
        sync_playwright, browser_path, tmp_path, tmp_path_factory):
    """1280x900, the default 512-unit layer: the grid fills its card's width and ends above
    the bottom of the window; a single click (a dot) gets "draw bigger", not a guess."""
    srv = _trained_server(tmp_path_factory, (512,))
    problems: list[str] = []
    try:
        with sync_playwright() as p:
            context = p.chromium.launch_persistent_context(
                str(tmp_path / "profile"), executable_path=browser_path, headless=True,
                args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900},
            )
            try:
                page = context.new_page()
                page.set_default_timeout(TIMEOUT_MS)
                page.on("console", lambda m: m.type == "error" and problems.append(m.text))
                page.on("pageerror", lambda e: problems.append(str(e)))
                page.goto(srv.url)
                page.wait_for_function("() => document.querySelectorAll('canvas.grid').length")
                grid = page.locator("canvas.grid").bounding_box()
                card = page.locator(".layers").bounding_box()
                assert grid["y"] + grid["height"] <= 900, (grid, "below the fold")
                assert grid["width"] >= 0.8 * (card["width"] - 40), (grid, card)
                page.screenshot(path=str(tmp_path / "first_screen.png"))

                box = page.locator("#pad").bounding_box()
                page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                page.wait_for_function("() => document.body.dataset.reason === 'small'")
                assert page.locator("#digit").inner_text() == "–"
                assert "draw bigger" in page.locator("#confidence").inner_text()
                assert "draw bigger" in page.locator("#status").inner_text()
                assert "% sure" not in page.locator("#confidence").inner_text()
            finally:
                context.close()
    finally:
        srv.shutdown()
        srv.server_close()
    assert not problems, problems
