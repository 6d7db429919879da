// The k sweep of a `--k auto` run, drawn as `embc plot elbow` draws it: the inertia over k, the chord from the
// first k to the last, the band of k near the knee (grey) and the chosen k (red).
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 296;
const HEIGHT = 120;
const PAD = 16;

function shape(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function drawSweep(figure, points) {
  figure.hidden = points.length === 0;
  if (!points.length) return;
  const ks = points.map((p) => p.k);
  const inertias = points.map((p) => p.inertia);
  const [first, last] = [ks[0], ks.at(-1)];
  const [low, high] = [Math.min(...inertias), Math.max(...inertias)];
  const x = (k) => PAD + ((k - first) / Math.max(last - first, 1)) * (WIDTH - 2 * PAD);
  const y = (inertia) => PAD / 2 + ((high - inertia) / (high - low || 1)) * (HEIGHT - 2 * PAD);
  const near = points.filter((p) => p.near_knee).map((p) => p.k);
  const [from, to] = [Math.min(...near), Math.max(...near)];
  const chosen = points.find((p) => p.chosen);
  const step = x(first + 1) - x(first);
  const svg = shape("svg", { width: WIDTH, height: HEIGHT, viewBox: `0 0 ${WIDTH} ${HEIGHT}` });
  svg.append(
    shape("rect", { x: x(from) - step / 2, y: 0, width: (to - from + 1) * step, height: HEIGHT - PAD,
                    fill: "#dddddd", class: "near-knee" }),
    shape("line", { x1: x(first), y1: y(inertias[0]), x2: x(last), y2: y(inertias.at(-1)), stroke: "#999999",
                    "stroke-dasharray": "4 3" }),
    shape("polyline", { points: points.map((p) => `${x(p.k)},${y(p.inertia)}`).join(" "), fill: "none",
                        stroke: "#222222", "stroke-width": 1.5 }),
    shape("circle", { cx: x(chosen.k), cy: y(chosen.inertia), r: 4, fill: "#d62728", class: "chosen" }),
    ...[...new Set([first, chosen.k, last])].map((k) => shape("text", { x: x(k), y: HEIGHT - 3,
                                                                       "text-anchor": "middle" }, k)),
  );
  const band = to > from ? `; k = ${from}-${to} lie near the knee (grey)` : "";
  figure.querySelector("figcaption").textContent =
    `k = ${chosen.k} (red): the knee of the inertia over k = ${first}-${last}${band}`;
  figure.querySelector("svg")?.remove();
  figure.prepend(svg);
}
