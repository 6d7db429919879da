// The collections page: a row per collection, with its map's thumbnail and its last complete run.
import { api, json } from "/static/api.js";

const rows = document.querySelector("#collections tbody");
for (const c of await json("/v1/collections")) {
  const row = rows.insertRow();
  row.dataset.collection = c.name;
  const base = `/v1/collections/${encodeURIComponent(c.name)}`;
  const map = `/c/${encodeURIComponent(c.name)}`;
  const picture = row.insertCell();
  const link = Object.assign(document.createElement("a"), { href: map, textContent: c.name });
  row.insertCell().append(link);
  for (const value of [c.points.toLocaleString(), c.model, c.modality]) row.insertCell().textContent = value;
  const last = row.insertCell();
  // A collection with no complete run yet has no map: its map opens to be reclustered.
  api(`${base}/runs`).then((r) => (r.ok ? r.json() : [])).then((runs) => {
    const run = runs.find((r) => r.status === "complete");
    if (!run) {
      last.textContent = "not clustered yet";
      return;
    }
    const clusters = `${run.n_clusters} cluster${run.n_clusters === 1 ? "" : "s"}`;
    last.textContent = `${run.run_id} (${run.mode}, ${run.algorithm}), ${clusters}`;
    thumbnail(base, map, picture, c.name);
  });
}

async function thumbnail(base, map, cell, name) {
  const response = await api(`${base}/map/thumbnail?size=96`);
  if (!response.ok) return;
  const img = Object.assign(document.createElement("img"), { src: URL.createObjectURL(await response.blob()),
                                                              width: 96, alt: `map of ${name}` });
  cell.append(Object.assign(document.createElement("a"), { href: map }));
  cell.firstChild.append(img);
}
