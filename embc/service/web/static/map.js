// The map of one collection: every point of a run drawn with WebGL2, coloured by cluster; pan (drag), zoom
// (wheel), hover for the item, a legend whose clusters open a panel of their members, a search box.
import { api, jobLine, json, sending } from "/static/api.js";
import { drawSweep } from "/static/sweep.js";

const collection = decodeURIComponent(location.pathname.split("/").pop());
const base = `/v1/collections/${encodeURIComponent(collection)}`;
const $ = (selector) => document.querySelector(selector);
// The colours the server's thumbnails use too: 20 distinct ones (Tableau 20), and grey for noise.
const { clusters: PALETTE, noise: NOISE } = await (await fetch("/static/palette.json")).json();

// Which colour of the palette each cluster of a run gets: its id's (the id modulo 20), or where a smaller id of the
// run has that one, the next free one. Ids last across runs and grow, so by id alone clusters 1 and 21 shared a
// colour; up to 20 clusters never do now. The server's thumbnails choose the same way (embc/service/map.py).
function slotsOf(ids) {
  const slots = new Map(), used = new Set();
  for (const id of [...new Set(ids)].filter((i) => i >= 0).sort((a, b) => a - b)) {
    let slot = id % PALETTE.length;
    while (used.size < PALETTE.length && used.has(slot)) slot = (slot + 1) % PALETTE.length;
    used.add(slot);
    slots.set(id, slot);
  }
  return slots;
}

// The palette's index for a cluster of the shown run, or for a label's code when the points are coloured by label.
function slotOf(group) {
  return (state.by === "cluster" ? state.slots.get(group) : undefined) ?? group % PALETTE.length;
}

function colourOf(group) {
  return group < 0 ? NOISE : PALETTE[slotOf(group)];
}

const rgb = (hex) => [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
const TINTS = PALETTE.map(rgb);
const GREY = rgb(NOISE);

const state = { run: null, n: 0, x: null, y: null, cluster: null, scale: 1, dx: 0, dy: 0, chosen: null,
                cursor: null, items: new Map(), by: "cluster", labels: null, ids: null, highlight: null,
                slots: new Map() };
const canvas = $("#canvas");
const gl = canvas.getContext("webgl2", { antialias: false, preserveDrawingBuffer: true });

const VERTEX = `#version 300 es
in vec2 position; in vec3 colour;
uniform vec2 scale; uniform vec2 offset; uniform float size;
out vec3 tint;
void main() { gl_Position = vec4(position * scale + offset, 0.0, 1.0); gl_PointSize = size; tint = colour; }`;
const FRAGMENT = `#version 300 es
precision mediump float; in vec3 tint; out vec4 colour;
void main() { vec2 d = gl_PointCoord - 0.5; if (dot(d, d) > 0.25) discard; colour = vec4(tint, 1.0); }`;

function program() {
  const made = gl.createProgram();
  for (const [kind, source] of [[gl.VERTEX_SHADER, VERTEX], [gl.FRAGMENT_SHADER, FRAGMENT]]) {
    const shader = gl.createShader(kind);
    gl.shaderSource(shader, source);
    gl.compileShader(shader);
    if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) throw new Error(gl.getShaderInfoLog(shader));
    gl.attachShader(made, shader);
  }
  gl.linkProgram(made);
  return made;
}

const shaders = program();
const buffers = { position: gl.createBuffer(), colour: gl.createBuffer() };

function upload(name, data, size, type, normalised) {
  const where = gl.getAttribLocation(shaders, name);
  gl.bindBuffer(gl.ARRAY_BUFFER, buffers[name]);
  gl.bufferData(gl.ARRAY_BUFFER, data, gl.STATIC_DRAW);
  gl.enableVertexAttribArray(where);
  gl.vertexAttribPointer(where, size, type, normalised, 0, 0);
}

// Data coordinates go to [-1, 1] with the aspect kept; the view's scale and offset act on top.
function fit() {
  let [x0, x1, y0, y1] = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < state.n; i++) {
    x0 = Math.min(x0, state.x[i]); x1 = Math.max(x1, state.x[i]);
    y0 = Math.min(y0, state.y[i]); y1 = Math.max(y1, state.y[i]);
  }
  const span = Math.max(x1 - x0, y1 - y0) || 1;
  state.bounds = { cx: (x0 + x1) / 2, cy: (y0 + y1) / 2, half: span / 2 * 1.05 };
  const position = new Float32Array(state.n * 2);
  for (let i = 0; i < state.n; i++) {
    position[2 * i] = (state.x[i] - state.bounds.cx) / state.bounds.half;
    position[2 * i + 1] = (state.y[i] - state.bounds.cy) / state.bounds.half;
  }
  state.position = position;
  upload("position", position, 2, gl.FLOAT, false);
  state.grid = grid(position);
}

// What colours point i: its cluster, or its ground-truth label (-1: none, grey like noise).
function group(i) {
  return state.by === "label" ? state.labels.codes[i] : state.cluster[i];
}

// Points outside the chosen cluster, or not among the search's hits, fade towards the background.
function faded(i) {
  return (state.highlight !== null && !state.highlight.has(i)) ||
         (state.highlight === null && state.chosen !== null && state.cluster[i] !== state.chosen);
}

function colours() {
  const out = new Uint8Array(state.n * 3);
  for (let i = 0; i < state.n; i++) {
    const g = group(i);
    const tint = g < 0 ? GREY : TINTS[slotOf(g)];
    const fade = faded(i);
    for (let k = 0; k < 3; k++) out[3 * i + k] = fade ? 235 - (235 - tint[k]) * 0.15 : tint[k];
  }
  upload("colour", out, 3, gl.UNSIGNED_BYTE, true);
}

// Each group's name at the middle of its points (the median, which a few strays do not pull away).
function centres(names) {
  const members = new Map();
  const step = Math.max(1, Math.floor(state.n / 200_000));  // a sample is enough for a median
  for (let i = 0; i < state.n; i += step) {
    const g = group(i);
    if (g < 0) continue;
    if (!members.has(g)) members.set(g, [[], []]);
    members.get(g)[0].push(state.position[2 * i]);
    members.get(g)[1].push(state.position[2 * i + 1]);
  }
  const median = (values) => values.sort((a, b) => a - b)[values.length >> 1];
  // On the map, a name's first two keywords; the legend has all of it.
  const short = (name) => name.split(", ").slice(0, 2).join(", ");
  // Largest first: where names would cover each other, the larger group's shows (`placeNames`).
  state.centres = [...members].sort((a, b) => b[1][0].length - a[1][0].length)
    .map(([g, [xs, ys]]) => ({ name: short(names.get(g) ?? String(g)), x: median(xs), y: median(ys) }));
}

function aspect() {
  return canvas.width / canvas.height;
}

function draw() {
  const ratio = devicePixelRatio || 1;
  canvas.width = canvas.clientWidth * ratio;
  canvas.height = canvas.clientHeight * ratio;
  gl.viewport(0, 0, canvas.width, canvas.height);
  gl.clearColor(1, 1, 1, 1);
  gl.clear(gl.COLOR_BUFFER_BIT);
  gl.useProgram(shaders);
  const a = aspect();
  gl.uniform2f(gl.getUniformLocation(shaders, "scale"), state.scale / Math.max(a, 1), state.scale * Math.min(a, 1));
  gl.uniform2f(gl.getUniformLocation(shaders, "offset"), state.dx, state.dy);
  gl.uniform1f(gl.getUniformLocation(shaders, "size"),
               ratio * Math.max(2, Math.min(7, 500 / Math.sqrt(state.n + 1))) * Math.sqrt(state.scale));
  gl.drawArrays(gl.POINTS, 0, state.n);
  placeNames();
}

function toScreen(px, py) {
  const a = aspect();
  const sx = px * state.scale / Math.max(a, 1) + state.dx;
  const sy = py * state.scale * Math.min(a, 1) + state.dy;
  return [(sx + 1) / 2 * canvas.clientWidth, (1 - sy) / 2 * canvas.clientHeight];
}

// A name that would cover one already shown is hidden, as a map hides the lesser places' names; zooming in
// spreads the centres apart and shows it.
function placeNames() {
  const spans = (state.centres || []).map((c) => {
    const [left, top] = toScreen(c.x, c.y);
    const span = Object.assign(document.createElement("span"), { textContent: c.name });
    Object.assign(span.style, { left: `${left}px`, top: `${top}px` });
    return span;
  });
  $("#names").replaceChildren(...spans);
  const boxes = spans.map((span) => span.getBoundingClientRect());  // read all before writing: one layout
  const shown = [];
  const covers = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  boxes.forEach((box, i) => {
    if (shown.some((other) => covers(box, other))) spans[i].hidden = true;
    else shown.push(box);
  });
}

// Where point i is on the page (CSS pixels): for hovering, and for tests.
export function screenOf(i) {
  const [left, top] = toScreen(state.position[2 * i], state.position[2 * i + 1]);
  const box = canvas.getBoundingClientRect();
  return [box.left + left, box.top + top];
}

function toData(clientX, clientY) {
  const box = canvas.getBoundingClientRect();
  const a = aspect();
  const sx = (clientX - box.left) / box.width * 2 - 1;
  const sy = 1 - (clientY - box.top) / box.height * 2;
  return [(sx - state.dx) / (state.scale / Math.max(a, 1)), (sy - state.dy) / (state.scale * Math.min(a, 1))];
}

// A 128 x 128 grid over [-1, 1]^2: each cell's point indices, contiguous (cell c's are at start[c] to
// start[c + 1] of `points`), to find the point under the cursor among a few.
const CELLS = 128;
function cellOf(v) {
  return Math.max(0, Math.min(CELLS - 1, Math.floor((v + 1) / 2 * CELLS)));
}
function grid(position) {
  const n = position.length / 2;
  const cell = new Int32Array(n);
  const start = new Int32Array(CELLS * CELLS + 1);
  for (let i = 0; i < n; i++) {
    cell[i] = cellOf(position[2 * i + 1]) * CELLS + cellOf(position[2 * i]);
    start[cell[i] + 1]++;
  }
  for (let c = 0; c < CELLS * CELLS; c++) start[c + 1] += start[c];
  const filled = start.slice(0, CELLS * CELLS);
  const points = new Int32Array(n);
  for (let i = 0; i < n; i++) points[filled[cell[i]]++] = i;
  return { start, points };
}

function nearest(clientX, clientY, pixels = 8) {
  const [px, py] = toData(clientX, clientY);
  const box = canvas.getBoundingClientRect();
  const reach = pixels / box.width * 2 / (state.scale / Math.max(aspect(), 1));
  let best = -1, bestD = reach * reach;
  for (let gy = cellOf(py - reach); gy <= cellOf(py + reach); gy++) {
    for (let gx = cellOf(px - reach); gx <= cellOf(px + reach); gx++) {
      const c = gy * CELLS + gx;
      for (let k = state.grid.start[c]; k < state.grid.start[c + 1]; k++) {
        const i = state.grid.points[k];
        const d = (state.position[2 * i] - px) ** 2 + (state.position[2 * i + 1] - py) ** 2;
        if (d < bestD) [best, bestD] = [i, d];
      }
    }
  }
  return best;
}

async function item(i) {
  const key = `${state.run}:${i}`;
  if (!state.items.has(key)) state.items.set(key, json(`${base}/map/${i}?run=${state.run}`));
  return state.items.get(key);
}

// What an item holds, as text: its text, its file, or a table row's columns.
function content(entry) {
  const cell = (v) => (typeof v === "object" && v !== null ? JSON.stringify(v) : v);
  if (entry.values) return Object.entries(entry.values).map(([k, v]) => `${k}=${cell(v)}`).join(" ");
  return entry.text || entry.path || "";
}

// `text` cut to at most `width` characters at a word's end, "…" marking the cut (as embc.wording.shortened).
function shortened(text, width) {
  const chars = [...text];  // code points, so that a cut never splits an emoji's surrogate pair
  if (chars.length <= width) return text;
  const cut = chars.slice(0, width - 1).join("");
  const end = Math.max(cut.lastIndexOf(" "), 0);
  return `${end ? cut.slice(0, end).replace(/[ ,;:-]+$/, "") : cut}…`;
}

function describe(entry) {
  const text = shortened(content(entry), 280);
  return `${entry.item}\ncluster ${entry.cluster}${entry.label ? ` · label ${entry.label}` : ""}\n${text}`;
}

async function hover(event) {
  const tooltip = $("#tooltip");
  const i = nearest(event.clientX, event.clientY);
  state.cursor = i;
  if (i < 0) {
    tooltip.hidden = true;
    return;
  }
  const entry = await item(i);
  if (state.cursor !== i) return;
  tooltip.textContent = describe(entry);
  if (entry.path) tooltip.prepend(picture(entry, 128), document.createElement("br"));
  tooltip.dataset.index = i;
  Object.assign(tooltip.style, { left: `${event.clientX + 12}px`, top: `${event.clientY + 12}px` });
  tooltip.hidden = false;
}

// An image item's thumbnail, fetched with the key (an <img> cannot send it) and shown from a blob.
function picture(entry, size) {
  const img = Object.assign(document.createElement("img"), { alt: entry.item, width: size });
  api(`${base}/items/${encodeURIComponent(entry.id)}/image?size=${size}`)
    .then((r) => (r.ok ? r.blob() : null))
    .then((blob) => { if (blob) img.src = URL.createObjectURL(blob); });
  return img;
}

// The cluster's centre drawn by the collection's decoder, where it has one that draws images.
async function decodedCentre(cluster) {
  const figure = $("#panel-decoded");
  figure.hidden = true;
  const decoder = await json(`${base}/decoder`);
  if (!decoder.trained || decoder.kind !== "image") return;
  const response = await api(`${base}/clusters/${cluster}/decoded?run=${state.run}`);
  if (!response.ok || state.chosen !== cluster) return;
  figure.querySelector("img").src = URL.createObjectURL(await response.blob());
  figure.hidden = false;
}

function listItems(list, entries) {
  for (const entry of entries) {
    const li = document.createElement("li");
    const text = entry.path ? "" : content(entry);
    li.textContent = `${entry.item}${text ? ` — ${shortened(text, 120)}` : ""}`;
    if (entry.path) li.prepend(picture(entry, 48), " ");
    li.dataset.id = entry.id;
    list.append(li);
  }
}

async function openCluster(summary) {
  state.chosen = summary.id;
  state.highlight = null;
  colours();
  draw();
  $("#panel").hidden = false;
  $("#panel-title").textContent = `${summary.id}: ${summary.name || `cluster ${summary.id}`}`;
  const stats = (state.report.clusters || []).find((c) => c.id === summary.id) || {};
  $("#panel-facts").textContent = [`${summary.size.toLocaleString()} items`,
    stats.silhouette == null ? null : `silhouette ${stats.silhouette.toFixed(3)}`,
    summary.keywords.length ? `keywords: ${summary.keywords.join(", ")}` : null].filter(Boolean).join(" · ");
  decodedCentre(summary.id);
  $("#members").replaceChildren();
  let cursor = null;
  const more = async () => {
    const page = await json(`${base}/clusters/${summary.id}/items?limit=50&run=${state.run}` +
                            (cursor ? `&cursor=${cursor}` : ""));
    listItems($("#members"), page.items);
    cursor = page.next_cursor;
    $("#more").hidden = cursor === null;
  };
  $("#more").onclick = more;
  $("#rename").onsubmit = async (event) => {
    event.preventDefault();
    await api(`${base}/clusters/${summary.id}/name`, sending("PUT", { name: $("#new-name").value }));
    await load(state.run);
  };
  await more();
}

function legend(clusters) {
  const list = $("#legend");
  list.replaceChildren();
  $("#legend-title").textContent = state.by === "label" ? "labels" : "clusters";
  if (state.by === "label") {
    state.labels.labels.forEach((name, code) => {
      const swatch = Object.assign(document.createElement("span"), { className: "swatch" });
      swatch.style.background = colourOf(code);
      const li = document.createElement("li");
      li.append(swatch, name);
      li.dataset.label = name;
      list.append(li);
    });
    return;
  }
  for (const summary of clusters) {
    const li = document.createElement("li");
    const swatch = Object.assign(document.createElement("span"), { className: "swatch" });
    swatch.style.background = colourOf(summary.id);
    li.append(swatch, `${summary.name || `cluster ${summary.id}`} (${summary.size.toLocaleString()})`);
    li.dataset.cluster = summary.id;
    li.onclick = () => openCluster(summary);
    list.append(li);
  }
}

async function load(run) {
  const query = run ? `?run=${run}` : "";
  const [clusters, report, buffer] = await Promise.all([
    json(`${base}/clusters${query}`), json(`${base}/report${query}`),
    api(`${base}/map${query}`).then((r) => r.arrayBuffer())]);
  state.run = report.run.run_id;
  state.report = report;
  state.clusters = clusters;
  state.ids = null;
  state.highlight = null;
  const n = new DataView(buffer).getUint32(0, true);
  Object.assign(state, { n, x: new Float32Array(buffer, 4, n), y: new Float32Array(buffer, 4 + 4 * n, n),
                         cluster: new Int32Array(buffer, 4 + 8 * n, n), chosen: null, labels: null });
  state.slots = slotsOf(state.cluster);
  fit();
  await paint();
  const select = $("#run");
  select.replaceChildren(...report.runs.filter((r) => r.status === "complete").map((r) =>
    Object.assign(document.createElement("option"), { value: r.run_id, textContent: `${r.run_id} (${r.mode})`,
                                                      selected: r.run_id === state.run })));
  $("#status").textContent = `${n.toLocaleString()} points · run ${state.run}`;
  history(report);
  formFields();
  window.embcMap = { ready: true, n, run: state.run, screenOf, colourOf, group, cluster: (i) => state.cluster[i],
                     slots: (ids) => Object.fromEntries(slotsOf(ids)),
                     highlighted: () => [...(state.highlight || [])].sort((a, b) => a - b) };
}

// The run's metrics, k sweep and cluster id events, and the collection's runs.
const SHOWN = ["silhouette", "nmi", "ari", "davies_bouldin", "noise_fraction", "new_points"];
function history(report) {
  $("#metrics").textContent = SHOWN.filter((m) => m in report.metrics)
    .map((m) => `${m} ${Number(report.metrics[m]).toFixed(3)}`).join(" · ");
  drawSweep($("#sweep"), report.sweep);
  $("#events").replaceChildren(...eventLines(report.events).map((line) =>
    Object.assign(document.createElement("li"), { textContent: line })));
  runRows(report.runs);
}

// The collection's runs, newest first; one that did not complete says why when hovered.
function runRows(runs) {
  $("#runs tbody").replaceChildren(...runs.map((r) => {
    const row = document.createElement("tr");
    row.dataset.run = r.run_id;
    if (r.error) row.title = r.error;
    for (const value of [r.run_id, `${r.mode}${r.status === "complete" ? "" : ` (${r.status})`}`, r.n_points,
                         r.n_clusters, (r.finished_at || "").slice(0, 16).replace("T", " ")]) {
      row.insertCell().textContent = value ?? "";
    }
    if (r.run_id === state.run) row.className = "shown";
    else if (r.status === "complete") {  // opens as the run selector does
      row.className = "openable";
      row.onclick = () => load(r.run_id);
    }
    return row;
  }));
}

// A line per split and merge, and one for all the births and one for all the deaths (a first run's twenty
// births would push the run history off the panel).
function eventLines(events) {
  const lines = [];
  for (const kind of ["birth", "death"]) {
    const ids = events.filter((e) => e.kind === kind).map((e) => e.cluster);
    if (ids.length) lines.push(`${kind}: cluster${ids.length > 1 ? "s" : ""} ${ids.join(", ")}`);
  }
  return lines.concat(events.filter((e) => e.kind !== "birth" && e.kind !== "death")
    .map((e) => `${e.kind}: cluster ${e.cluster} (${e.related.join(", ")})`));
}

// Colours, names and legend for what the points are coloured by.
async function paint() {
  if (state.by === "label" && !state.labels) state.labels = await json(`${base}/map/labels?run=${state.run}`);
  const names = state.by === "label" ? new Map(state.labels.labels.map((name, code) => [code, name]))
    : new Map(state.clusters.map((c) => [c.id, c.name || `cluster ${c.id}`]));
  centres(names);
  colours();
  draw();
  legend(state.clusters);
}

// Where each hit is drawn: its point id found among the map's (sorted, 16 bytes each) by bisection.
async function indicesOf(ids) {
  if (!state.ids) state.ids = new Uint8Array(await (await api(`${base}/map/ids?run=${state.run}`)).arrayBuffer());
  const compare = (i, key) => {
    for (let b = 0; b < 16; b++) if (state.ids[16 * i + b] !== key[b]) return state.ids[16 * i + b] - key[b];
    return 0;
  };
  const found = [];
  for (const id of ids) {
    const hex = id.replaceAll("-", "");
    const key = Array.from({ length: 16 }, (_, b) => parseInt(hex.slice(2 * b, 2 * b + 2), 16));
    let [lo, hi] = [0, state.n];
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (compare(mid, key) < 0) lo = mid + 1; else hi = mid;
    }
    if (lo < state.n && compare(lo, key) === 0) found.push(lo);
  }
  return found;
}

$("#title").textContent = collection;
document.title = `${collection} · embc`;
$("#run").onchange = (event) => load(Number(event.target.value));
async function showHits(hits) {
  $("#hits").replaceChildren();
  listItems($("#hits"), hits);
  state.chosen = null;
  state.highlight = new Set(await indicesOf(hits.map((h) => h.id)));
  colours();
  draw();
}

$("#search").onsubmit = async (event) => {
  event.preventDefault();
  await showHits(await json(`${base}/similar`, sending("POST", { text: $("#query").value, limit: 20 })));
};
$("#image-query").onchange = async (event) => {
  const form = new FormData();
  form.append("image", event.target.files[0]);
  form.append("limit", "20");
  await showHits(await json(`${base}/similar`, { method: "POST", body: form }));
};
$("#colour-by").onchange = (event) => {
  state.by = event.target.value;
  paint();
};
// The recluster form asks for what the algorithm takes: that chosen, or else the last run's, which the server
// keeps. Where the last run's algorithm is the one chosen, each field's hint is what that run used (asked for,
// or chosen from the data).
function algorithm() {
  const last = state.report?.runs.find((r) => r.status === "complete");
  return { chosen: $("#algorithm").value || last?.algorithm, last };
}
function formFields() {
  const { chosen, last } = algorithm();
  const density = ["hdbscan", "dbscan"].includes(chosen);
  $("#k").hidden = density;
  $("#min-size").hidden = !density;
  $("#eps").hidden = chosen !== "dbscan";
  $("#linkage").hidden = chosen !== "agglomerative";
  const used = last?.algorithm === chosen ? last.params : {};
  const eps = used.eps ?? used.eps_chosen;
  const hint = (name, value) => (value === undefined || value === null ? name : `${name} (${value})`);
  $("#k").placeholder = hint("k", used.k_auto === true ? "auto" : used.k_auto || used.k);
  $("#min-size").placeholder = hint("min size", used.min_size ?? used.min_size_chosen);
  $("#eps").placeholder = hint("eps", eps && Number(eps.toPrecision(2)));
  $("#linkage").options[0].textContent = hint("linkage", used.linkage);
}
$("#algorithm").onchange = formFields;
// A recluster from the page, followed as any job on the collection is.
$("#recluster").onsubmit = async (event) => {
  event.preventDefault();
  const fields = { k: "#k", min_size: "#min-size", eps: "#eps", linkage: "#linkage" };
  const given = Object.entries(fields).map(([name, id]) => [name, $(id).hidden ? "" : $(id).value.trim()])
    .filter(([, value]) => value);
  const number = (value) => (/^\d*\.?\d+$/.test(value) ? Number(value) : value);
  const body = { full: $("#full").checked, ...($("#algorithm").value ? { algorithm: $("#algorithm").value } : {}),
                 ...Object.fromEntries(given.map(([name, value]) => [name, number(value)])) };
  $("#start").disabled = true;
  try {
    await follow((await json(`${base}/recluster`, sending("POST", body))).job_id);
  } catch (error) {
    $("#job").textContent = `error: ${error.message}`;
    $("#start").disabled = false;
  }
};
// A job on the collection: its steps as it runs, with a button to cancel it, then the map of the run it made.
async function follow(id) {
  const [start, cancel] = [$("#start"), $("#cancel")];
  start.disabled = true;
  cancel.hidden = false;
  cancel.onclick = () => api(`/v1/jobs/${id}`, { method: "DELETE" });
  try {
    let job = await json(`/v1/jobs/${id}`);
    for (; job.state === "queued" || job.state === "running"; job = await json(`/v1/jobs/${id}`)) {
      $("#job").textContent = jobLine(job);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    if (job.state !== "done") {
      runRows(await json(`${base}/runs`));
      if (job.state === "failed") throw new Error(job.error);
      $("#job").textContent = "cancelled: the clusters are as they were";
      return;
    }
    const made = job.result;
    if (!("run_id" in made)) {  // a decoder's training
      $("#job").textContent = `decoder trained on ${made.items} items`;
      return;
    }
    $("#job").textContent = made.run_id === null ? made.reason
      : `run ${made.run_id} (${made.mode}: ${made.reason}), ${made.clusters.length} clusters`;
    if (made.run_id !== null) await load(made.run_id);
  } catch (error) {
    $("#job").textContent = `error: ${error.message}`;
  } finally {
    start.disabled = false;
    cancel.hidden = true;
  }
}
let dragging = null;
let pressedAt = null;
canvas.onmousedown = (event) => {
  dragging = [event.clientX, event.clientY];
  pressedAt = dragging;
};
// A click (not the end of a drag) on a point opens the point's cluster, as its legend entry does.
canvas.onclick = (event) => {
  if (!pressedAt || Math.hypot(event.clientX - pressedAt[0], event.clientY - pressedAt[1]) > 4) return;
  const i = nearest(event.clientX, event.clientY);
  const summary = i < 0 ? null : state.clusters.find((c) => c.id === state.cluster[i]);
  if (summary) openCluster(summary);
};
addEventListener("mouseup", () => { dragging = null; });
canvas.onmousemove = (event) => {
  if (dragging) {
    const box = canvas.getBoundingClientRect();
    state.dx += (event.clientX - dragging[0]) / box.width * 2;
    state.dy -= (event.clientY - dragging[1]) / box.height * 2;
    dragging = [event.clientX, event.clientY];
    draw();
    return;
  }
  hover(event);
};
canvas.onwheel = (event) => {
  event.preventDefault();
  const box = canvas.getBoundingClientRect();
  const sx = (event.clientX - box.left) / box.width * 2 - 1;
  const sy = 1 - (event.clientY - box.top) / box.height * 2;
  const factor = Math.exp(-event.deltaY * 0.001);
  state.dx = sx - (sx - state.dx) * factor;
  state.dy = sy - (sy - state.dy) * factor;
  state.scale *= factor;
  draw();
};
addEventListener("resize", draw);
// A collection with no complete run has no map yet: the page says so and offers its recluster form. A job on
// the collection that is running when the page opens (one a schedule or another client started) is followed.
json(`${base}/runs`).then(async (runs) => {
  if (runs.some((r) => r.status === "complete")) await load(null);
  else $("#status").textContent = "not clustered yet: recluster it (beside the map)";
  const [running] = await json(`/v1/jobs?collection=${encodeURIComponent(collection)}&live=true`);
  if (running) await follow(running.id);
}).catch((error) => { $("#status").textContent = `error: ${error.message}`; });
