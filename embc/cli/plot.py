"""`embc plot`: figures of a collection's latest run, as PNG files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from embc.cli.app import app
from embc.cli.ingest import COLLECTION
from embc.cli.output import stdout
from embc.errors import EmbcError

KINDS = ("map", "elbow", "silhouette", "montage")


@app.command()
def plot(ctx: typer.Context, kind: str = typer.Argument(..., help="Figure: map, elbow, silhouette or montage."),
         collection: str = COLLECTION,
         cluster: Optional[int] = typer.Option(None, "--cluster", help="Montage: only this cluster."),
         out: Optional[Path] = typer.Option(None, "--out", "-o", help="PNG file [default: KIND.png]."),
         per_cluster: int = typer.Option(8, "--per-cluster", help="Montage: thumbnails per cluster.")) -> None:
    """Draw a figure of the latest run: map (the 2-D map coloured by cluster), elbow (the k sweep of a
    --k auto run), silhouette (per-cluster blades), montage (thumbnails of each cluster's images)."""
    if kind not in KINDS:
        raise EmbcError(f"unknown figure '{kind}': choose from {', '.join(KINDS)}")
    from embc.queries import latest_run, montage_rows
    from embc.report import figures

    reports = ctx.obj.reports
    ctx.obj.store.collection(collection)
    run = latest_run(reports, collection)
    names = {c["id"]: c["name"] for c in reports.clusters(run["run_id"])}
    heading = f"{collection}: run {run['run_id']}, {run['algorithm']}, {run['n_clusters']} clusters"
    target = out or Path(f"{kind}.png")
    if kind == "map":
        coords = reports.columns("coords", run["run_id"])
        if not len(coords["x"]):
            raise EmbcError(f"run {run['run_id']} has no 2-D map: recluster with --projection umap, tsne or pca")
        path = figures.cluster_map(coords, names, target, f"{heading}: 2-D map ({len(coords['x'])} points)")
    elif kind == "elbow":
        rows = reports.sweep(run["run_id"])
        if not rows:
            raise EmbcError(f"run {run['run_id']} has no k sweep: recluster with --k auto")
        path = figures.elbow(rows, target, f"{heading}: elbow and silhouette over k")
    elif kind == "silhouette":
        values = reports.columns("silhouettes", run["run_id"])
        if not len(values["value"]):
            raise EmbcError(f"run {run['run_id']} has no silhouettes: it needs two clusters or more")
        overall = reports.metrics(run["run_id"]).get("silhouette")
        path = figures.silhouette_blades(values, names, overall, target, f"{heading}: silhouette per cluster")
    else:
        rows = montage_rows(ctx.obj.store, reports, collection, cluster, per_cluster)
        path = figures.montage(rows, target, f"{collection}: run {run['run_id']}, {len(rows)} clusters")
    stdout.print(f"wrote {path}")
