// The collections page: a row per collection, with its map's thumbnail, its last complete run, and the job
// running on it, if any.
import { api, jobLine, json } from "/static/api.js";

const rows = document.querySelector("#collections tbody");
const shown = new Map();  // collection -> its row's job line, and what shows its last run again
for (const c of await json("/v1/collections")) {
  const row = rows.insertRow();
  row.dataset.collection = c.name;
  const base = `/v1/collections/${encodeURIComponent(c.name)}`;
  const map = `/c/${encodeURIComponent(c.name)}`;
  const picture = row.insertCell();
  const link = Object.assign(document.createElement("a"), { href: map, textContent: c.name });
  row.insertCell().append(link);
  for (const value of [c.points.toLocaleString(), c.model, c.modality]) row.insertCell().textContent = value;
  const cell = row.insertCell();
  const [last, job] = [document.createElement("span"), Object.assign(document.createElement("div"),
                                                                      { className: "job" })];
  cell.append(last, job);
  const lastRun = () => showLastRun(base, map, picture, last, c.name);
  lastRun();
  shown.set(c.name, { job, lastRun });
}

// A collection with no complete run yet has no map: its map opens to be reclustered.
async function showLastRun(base, map, picture, last, name) {
  const response = await api(`${base}/runs`);
  const run = (response.ok ? await response.json() : []).find((r) => r.status === "complete");
  if (!run) {
    last.textContent = "not clustered yet";
    return;
  }
  const clusters = `${run.n_clusters} cluster${run.n_clusters === 1 ? "" : "s"}`;
  last.textContent = `${run.run_id} (${run.mode}, ${run.algorithm}), ${clusters}`;
  thumbnail(base, map, picture, name);
}

async function thumbnail(base, map, cell, name) {
  const response = await api(`${base}/map/thumbnail?size=96`);
  if (!response.ok) return;
  const img = Object.assign(document.createElement("img"), { src: URL.createObjectURL(await response.blob()),
                                                              width: 96, alt: `map of ${name}` });
  cell.replaceChildren(Object.assign(document.createElement("a"), { href: map }));
  cell.firstChild.append(img);
}

// The jobs running, asked every two seconds: a row shows its job's step, and its last run again once the job
// has ended (a recluster from another client or from the server's schedule).
let running = new Set();
async function poll() {
  try {
    const live = await json("/v1/jobs?live=true");
    for (const [name, { job, lastRun }] of shown) {
      const now = live.find((j) => j.collection === name);
      job.textContent = now ? `${now.origin === "schedule" ? "scheduled job" : "job"} ${jobLine(now)}` : "";
      if (running.has(name) && !now) lastRun();
    }
    running = new Set(live.map((j) => j.collection));
  } catch {
    // asked again at the next tick
  } finally {
    setTimeout(poll, 2000);
  }
}
poll();
