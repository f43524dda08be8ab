// Draw a digit: send the drawing to /api/predict as you draw, show what comes back.
// Plain JavaScript, no libraries; served by `tinygrad-mlp serve` (tinygrad_mlp/serve.py).
"use strict";

const SEND_SIZE = 140; // the drawing is sent as SEND_SIZE x SEND_SIZE gray values in [0, 1]
const DEBOUNCE_MS = 100; // at most one prediction per this many ms while drawing
const BRUSH = 20; // stroke width, in the 280 x 280 drawing's pixels

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const statusLine = document.getElementById("status");
const digitEl = document.getElementById("digit");
const confidenceEl = document.getElementById("confidence");
const inputCanvas = document.getElementById("input");
const barsEl = document.getElementById("bars");
const layersEl = document.getElementById("layers");
const cueEl = document.getElementById("cue");

let layerViews = []; // one {canvas, shape, units} per hidden layer
let hasInk = false;
let generation = 0; // bumped by Clear, so late answers for an old drawing are dropped
let inflight = false;
let queued = false;
let timer = null;

// ----- colours ---------------------------------------------------------------------------

// A dark-to-bright ramp (low activation dark, high bright) and a diverging blue/orange one.
const RAMP = [[20, 24, 33], [58, 42, 110], [150, 50, 120], [235, 110, 60], [252, 220, 110]];
const NEGATIVE = [[20, 24, 33], [60, 110, 200], [140, 200, 255]];

function ramp(stops, t) {
  t = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t));
  const f = t - i;
  const [a, b] = [stops[i], stops[i + 1]];
  return `rgb(${a.map((v, k) => Math.round(v + f * (b[k] - v))).join(",")})`;
}

function colour(value, [lo, hi]) {
  if (lo < 0) { // signed activations (tanh): blue below zero, warm above
    return value < 0 ? ramp(NEGATIVE, value / lo) : ramp(RAMP, value / hi);
  }
  return ramp(RAMP, (value - lo) / (hi - lo || 1));
}

// ----- drawing ---------------------------------------------------------------------------

function clearPad() {
  ctx.fillStyle = "#000";
  ctx.fillRect(0, 0, pad.width, pad.height);
  hasInk = false;
  cueEl.hidden = false; // an empty pad says where to draw (an overlay: never sent as ink)
}

function padPoint(event) {
  const box = pad.getBoundingClientRect();
  return [(event.clientX - box.left) * pad.width / box.width,
          (event.clientY - box.top) * pad.height / box.height];
}

let last = null;

function strokeTo([x, y]) {
  ctx.strokeStyle = "#fff";
  ctx.lineWidth = BRUSH;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  ctx.beginPath();
  if (last) { // a segment from the last point
    ctx.moveTo(...last);
    ctx.lineTo(x, y);
    ctx.stroke();
  } else { // a stroke's first point: a round dot (a zero-length line would draw nothing)
    ctx.fillStyle = "#fff";
    ctx.arc(x, y, BRUSH / 2, 0, 2 * Math.PI);
    ctx.fill();
  }
  last = [x, y];
  hasInk = true;
  cueEl.hidden = true;
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  last = null;
  strokeTo(padPoint(event));
  schedule();
});

pad.addEventListener("pointermove", (event) => {
  if (last === null) return;
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of (events.length ? events : [event])) strokeTo(padPoint(e));
  schedule();
});

function endStroke() {
  if (last === null) return;
  last = null;
  clearTimeout(timer);
  predict();
}

pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

document.getElementById("clear").addEventListener("click", () => {
  generation += 1;
  clearTimeout(timer);
  clearPad();
  showBlank("draw a digit from 0 to 9");
});

// ----- talking to the server ---------------------------------------------------------------

function schedule() {
  clearTimeout(timer);
  timer = setTimeout(predict, DEBOUNCE_MS);
}

function snapshot() {
  const small = document.createElement("canvas");
  small.width = small.height = SEND_SIZE;
  const sctx = small.getContext("2d");
  sctx.imageSmoothingEnabled = true;
  sctx.imageSmoothingQuality = "high";
  sctx.drawImage(pad, 0, 0, SEND_SIZE, SEND_SIZE);
  const rgba = sctx.getImageData(0, 0, SEND_SIZE, SEND_SIZE).data;
  const image = new Array(SEND_SIZE * SEND_SIZE);
  for (let i = 0; i < image.length; i++) image[i] = Math.round(rgba[4 * i] / 2.55) / 100;
  return { image, width: SEND_SIZE, height: SEND_SIZE };
}

async function predict() {
  if (inflight) { queued = true; return; }
  inflight = true;
  document.body.dataset.busy = "true";
  try {
    do {
      queued = false;
      if (!hasInk) break;
      const gen = generation;
      const response = await fetch("api/predict", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(snapshot()),
      });
      const answer = await response.json();
      if (gen !== generation) continue; // cleared meanwhile
      if (!response.ok) showError(answer.error || `error ${response.status}`);
      else if (answer.blank) showBlank(answer.message, answer.reason);
      else render(answer);
    } while (queued);
  } catch (err) {
    showError(`the server did not answer (${err.message}); is tinygrad-mlp serve running?`);
  } finally {
    inflight = false;
    document.body.dataset.busy = "false";
  }
}

// ----- showing results -----------------------------------------------------------------

function setStatus(text, isError = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle("error", isError);
}

function showError(message) {
  setStatus(message, true);
}

function showBlank(message, reason = "blank") {
  digitEl.textContent = "–";
  // a dot or faint ink gets "draw bigger" where the confidence would be, not a guess
  confidenceEl.textContent = reason === "blank" ? "\u00a0" : message;
  confidenceEl.classList.toggle("hint", reason !== "blank");
  document.body.dataset.reason = reason;
  setStatus(message || "draw a digit");
  drawInput(null);
  drawBars(null);
  for (const view of layerViews) drawGrid(view, null, [0, 1]);
  document.body.dataset.state = "blank";
}

function render(answer) {
  const p = answer.probabilities;
  digitEl.textContent = String(answer.digit);
  confidenceEl.textContent = `${(100 * p[answer.digit]).toFixed(1)}% sure`;
  confidenceEl.classList.remove("hint");
  delete document.body.dataset.reason;
  setStatus("draw more, or Clear to start again");
  drawInput(answer.input);
  drawBars(p, answer.digit);
  let added = false;
  answer.layers.forEach((layer, i) => {
    if (!layerViews[i]) [layerViews[i], added] = [addLayerView(layer), true];
    layerViews[i].values = layer.activations;
    layerViews[i].range = layer.range;
  });
  if (added) layoutLayers();
  for (const view of layerViews) drawGrid(view, view.values, view.range);
  document.body.dataset.state = "predicted";
  document.body.dataset.predictions = String(Number(document.body.dataset.predictions || 0) + 1);
}

function drawInput(pixels) {
  const ictx = inputCanvas.getContext("2d");
  const img = ictx.createImageData(28, 28);
  for (let i = 0; i < 784; i++) {
    const v = pixels ? Math.round(255 * pixels[i]) : 0;
    img.data.set([v, v, v, 255], 4 * i);
  }
  ictx.putImageData(img, 0, 0);
}

function buildBars() {
  barsEl.replaceChildren();
  for (let d = 0; d < 10; d++) {
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.innerHTML = '<span class="pct"></span><div class="track"><div class="fill"></div></div>' +
      `<span class="label">${d}</span>`;
    barsEl.append(bar);
  }
}

function drawBars(p, best) {
  [...barsEl.children].forEach((bar, d) => {
    const value = p ? p[d] : 0;
    bar.querySelector(".fill").style.height = `${(100 * value).toFixed(1)}%`;
    bar.querySelector(".pct").textContent = p ? `${Math.round(100 * value)}%` : "";
    bar.classList.toggle("best", p !== null && d === best);
  });
}

// The server suggests a grid shape; the page re-flows the cells (their order is all that
// matters) into the shape that fills the card's width without pushing the grid below the
// bottom of the window.
function gridFit(units, width, height) {
  let best = { cols: 1, rows: units, cell: 1 };
  for (let cols = 1; cols <= units; cols++) {
    const rows = Math.ceil(units / cols);
    const cell = Math.floor(Math.min(width / cols, height / rows));
    if (cell > best.cell || (cell === best.cell && cols * rows < best.cols * best.rows)) {
      best = { cols, rows, cell };
    }
  }
  best.cell = Math.max(4, Math.min(48, best.cell));
  return best;
}

// Feature maps of a convolutional stage: each map an image of h×w pixels, the maps in the
// grid of columns whose tiles come out largest within the card.
function mapsFit(maps, width, height) {
  let best = { cols: 1, rows: maps.n, scale: 0 };
  for (let cols = 1; cols <= maps.n; cols++) {
    const rows = Math.ceil(maps.n / cols);
    const scale = Math.floor(Math.min(width / (cols * (maps.w + 1)),
                                      height / (rows * (maps.h + 1))));
    if (scale > best.scale) best = { cols, rows, scale };
  }
  best.scale = Math.max(1, Math.min(8, best.scale));
  return best;
}

function layoutLayers() {
  if (!layerViews.length) return;
  const width = Math.max(120, layersEl.clientWidth);
  const captions = layerViews.length * 26 + (layerViews.length - 1) * 14;
  const top = layersEl.getBoundingClientRect().top + window.scrollY; // on the page, not the view
  const below = window.innerHeight - top - 36;
  const height = Math.max(90, (below - captions) / layerViews.length);
  for (const view of layerViews) {
    if (view.maps) {
      Object.assign(view, mapsFit(view.maps, width, height));
      view.canvas.width = view.cols * (view.maps.w + 1) * view.scale;
      view.canvas.height = view.rows * (view.maps.h + 1) * view.scale;
    } else {
      Object.assign(view, gridFit(view.units, width, height));
      view.canvas.width = view.cols * view.cell;
      view.canvas.height = view.rows * view.cell;
    }
    view.canvas.dataset.cols = String(view.cols);
    drawGrid(view, view.values, view.range);
  }
}

function addLayerView(layer) {
  const figure = document.createElement("figure");
  const canvas = document.createElement("canvas");
  canvas.className = "grid";
  canvas.dataset.units = String(layer.units);
  canvas.setAttribute("role", "img");
  canvas.setAttribute("aria-label", `${layer.name}: ${layer.units} units`);
  const caption = document.createElement("figcaption");
  const maps = layer.maps ? { n: layer.maps, h: layer.height, w: layer.width } : null;
  caption.textContent = maps ? `${layer.name} · ${maps.n} feature maps of ${maps.h}×${maps.w}`
    : `${layer.name} · ${layer.units} units`;
  if (maps) canvas.dataset.maps = String(maps.n);
  figure.append(caption, canvas);
  layersEl.append(figure);
  const view = { canvas, units: layer.units, values: null, range: [0, 1], cols: 1, rows: 1,
                 cell: 1, maps };
  canvas.addEventListener("mousemove", (event) => {
    if (view.maps) return;
    const box = canvas.getBoundingClientRect();
    const c = Math.floor((event.clientX - box.left) / box.width * view.cols);
    const r = Math.floor((event.clientY - box.top) / box.height * view.rows);
    const unit = r * view.cols + c;
    canvas.title = unit < view.units
      ? `unit ${unit}: ${view.values ? view.values[unit].toFixed(3) : "–"}` : "";
  });
  return view;
}

function drawGrid(view, values, range) {
  const g = view.canvas.getContext("2d");
  const { cell, cols } = view;
  view.values = values;
  view.range = range;
  g.fillStyle = "#0b0d12";
  g.fillRect(0, 0, view.canvas.width, view.canvas.height);
  if (view.maps) {
    drawMaps(g, view, values, range);
    return;
  }
  const gap = cell >= 8 ? 1 : 0;
  for (let u = 0; u < view.units; u++) {
    g.fillStyle = values ? colour(values[u], range) : "#1b1f2a";
    g.fillRect((u % cols) * cell + gap, Math.floor(u / cols) * cell + gap,
               cell - 2 * gap, cell - 2 * gap);
  }
  view.canvas.dataset.drawn = values ? "true" : "false";
}

function drawMaps(g, view, values, range) {
  const { n, h, w } = view.maps;
  const s = view.scale;
  for (let m = 0; m < n; m++) {
    const x0 = (m % view.cols) * (w + 1) * s;
    const y0 = Math.floor(m / view.cols) * (h + 1) * s;
    for (let p = 0; p < h * w; p++) {
      g.fillStyle = values ? colour(values[m * h * w + p], range) : "#1b1f2a";
      g.fillRect(x0 + (p % w) * s, y0 + Math.floor(p / w) * s, s, s);
    }
  }
  view.canvas.dataset.drawn = values ? "true" : "false";
}

// ----- start -----------------------------------------------------------------------------

async function start() {
  clearPad();
  buildBars();
  drawInput(null);
  try {
    const info = await (await fetch("api/info")).json();
    const accuracy = info.test_accuracy === null ? ""
      : ` · ${(100 * info.test_accuracy).toFixed(2)}% on the MNIST test set`;
    document.getElementById("model-info").textContent =
      `${info.model}: ${info.sizes.join("–")} ${info.activation} ` +
      `${info.layers.some((l) => l.maps) ? "convolutional network" : "MLP"}${accuracy}`;
    layerViews = info.layers.map(addLayerView);
    layoutLayers();
    window.addEventListener("resize", layoutLayers);
  } catch (err) {
    showError(`could not reach the server (${err.message})`);
  }
}

start();
