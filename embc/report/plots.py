"""The figures of a run, drawn from what the stores hold: map, elbow, silhouette blades, montage."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from embc.decode.decoder import missing
from embc.errors import EmbcError
from embc.queries import check_cluster, chosen_run, cluster_list, clusters_members
from embc.report import figures
from embc.wording import counted

if TYPE_CHECKING:
    from embc.decode.decoder import Decoder
    from embc.store.reports import ReportStore
    from embc.store.vectors import Store

KINDS = ("map", "elbow", "silhouette", "montage", "centroids", "interpolate", "loss")
DECODED = ("centroids", "interpolate")  # the figures a collection's image decoder draws
NEAREST = 3  # real members beside each decoded centre
STEPS = 8  # decoded images between two items


def montage_rows(store: Store, reports: ReportStore, collection: str, cluster: int | None, per_cluster: int,
                 run: int) -> list[dict]:
    """For each cluster of run `run` (or just one): id, name, size and the image paths of up to `per_cluster`
    members."""
    if cluster is not None:
        check_cluster(store, reports, collection, cluster, run)  # NotFound naming the clusters there are
    clusters = [c for c in cluster_list(store, reports, collection, run) if cluster is None or c.id == cluster]
    shown = clusters_members(store, reports, collection, [c.id for c in clusters], per_cluster, run)
    rows = []
    for c, members in zip(clusters, shown):
        paths = [m.path for m in members if m.path]
        if not paths:
            raise EmbcError(f"cluster {c.id} of collection '{collection}' has no images to show")
        rows.append({"id": c.id, "name": c.name or "", "size": c.size, "paths": paths})
    return rows


def centroid_rows(store: Store, reports: ReportStore, collection: str, decoder: Decoder, run: int) -> list[dict]:
    """For each cluster of run `run`: its decoded centre, then the image paths of the members nearest it."""
    ids, centres, _ = reports.centroids(run)
    drawn = dict(zip(ids.tolist(), decoder.decode(centres))) if len(ids) else {}
    clusters = [c for c in cluster_list(store, reports, collection, run) if c.id in drawn]
    nearest = clusters_members(store, reports, collection, [c.id for c in clusters], NEAREST, run)
    return [{"id": c.id, "name": c.name or "", "size": c.size,
             "paths": [drawn[c.id], *(m.path for m in near if m.path)]} for c, near in zip(clusters, nearest)]


def interpolation(store: Store, collection: str, decoder: Decoder, between: tuple[str, str]) -> dict:
    """Two items' images with the decoded points evenly spaced on the line between their vectors."""
    import numpy as np

    from embc.queries import find_point

    ends = [find_point(store, collection, key) for key in between]
    steps = np.linspace(0, 1, STEPS)[:, None]
    drawn = decoder.decode((1 - steps) * ends[0].vector + steps * ends[1].vector)
    return {"id": 0, "name": "", "size": 0, "paths": [ends[0].payload.get("path"), *drawn, ends[1].payload.get("path")],
            "heading": f"{between[0]} (left) to {between[1]} (right): {STEPS} decoded points on the line between"}


def plot(store: Store, reports: ReportStore, collection: str, kind: str, out: Path, run: int | None = None,
         cluster: int | None = None, per_cluster: int = 8, decoder: Decoder | None = None,
         between: tuple[str, str] | None = None) -> Path:
    """Draw figure `kind` of the latest (or a given) run into the PNG file `out` (`decoder`: the collection's,
    for the figures it draws; `between`: the two item keys to interpolate between)."""
    if kind == "loss":
        rows = reports.decoder_epochs(collection)
        if not rows:
            raise missing(collection)
        return figures.loss_curves(rows, out, f"{collection}: decoder loss per epoch ({rows[0]['trained_at']})")
    if kind == "interpolate":
        if between is None:
            raise EmbcError("interpolate needs the two items to go between")
        return figures.montage([interpolation(store, collection, decoder, between)], out,
                               f"{collection}: decoded along the line between two items")
    # The run is looked up once: the latest may change while the figure is drawn, and its rows and heading must
    # come from the same one.
    chosen = chosen_run(reports, collection, run)
    rid = chosen["run_id"]
    names = {c["id"]: c["name"] for c in reports.clusters(rid)}
    heading = f"{collection}: run {rid}, {chosen['algorithm']}, {counted(chosen['n_clusters'], 'cluster')}"
    if kind == "map":
        coords = reports.columns("coords", rid)
        if not len(coords["x"]):
            raise EmbcError(f"run {rid} has no 2-D map: recluster with a projection (umap, tsne or pca)")
        return figures.cluster_map(coords, names, out,
                                   f"{heading}: 2-D map ({counted(len(coords['x']), 'point')})")
    if kind == "elbow":
        rows = reports.sweep(rid)
        if not rows:
            with_sweep = [r["run_id"] for r in reports.runs(collection)
                          if r["status"] == "complete" and reports.sweep(r["run_id"])]
            hint = f"run {with_sweep[0]} has one" if with_sweep else "recluster with k auto"
            raise EmbcError(f"run {rid} has no k sweep: {hint}")
        return figures.elbow(rows, out, f"{heading}: elbow and silhouette over k")
    if kind == "silhouette":
        values = reports.columns("silhouettes", rid)
        if not len(values["value"]):
            raise EmbcError(f"run {rid} has no silhouettes: it needs two clusters or more")
        return figures.silhouette_blades(values, names, reports.metrics(rid).get("silhouette"), out,
                                         f"{heading}: silhouette per cluster")
    if kind == "montage":
        rows = montage_rows(store, reports, collection, cluster, per_cluster, rid)
        return figures.montage(rows, out, f"{collection}: run {rid}, {counted(len(rows), 'cluster')}")
    if kind == "centroids":
        rows = centroid_rows(store, reports, collection, decoder, rid)
        return figures.montage(rows, out, f"{collection}: run {rid}, decoded centres, nearest members")
    raise EmbcError(f"unknown figure '{kind}': choose from {', '.join(KINDS)}")
