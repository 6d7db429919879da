"""`embc recluster`."""

from __future__ import annotations

import typer

from embc.cli.app import app
from embc.cli.ingest import COLLECTION
from embc.cli.output import emit_json, progress_bar, stdout
from embc.cli.report import print_report
from embc.errors import EmbcError


@app.command()
def recluster(
    ctx: typer.Context,
    collection: str = COLLECTION,
    algorithm: str = typer.Option("kmeans", "--algorithm", "-a", help="Clustering algorithm: kmeans."),
    k: str = typer.Option("8", "--k", "-k", help="Number of clusters, or auto: the best silhouette near the "
                          "elbow of a k sweep (2-20) on a sample."),
    seed: int = typer.Option(0, help="Random seed, recorded with the run."),
    projection: str = typer.Option("umap", "--projection", help="2-D map: umap, tsne, pca, or none."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON."),
) -> None:
    """Cluster the collection, write each point's cluster into Qdrant, and record the run."""
    from embc.cluster.job import recluster as run_recluster

    from embc.cluster.project import PROJECTIONS

    if k != "auto" and not k.isdigit():
        raise EmbcError(f"--k takes a number or auto, not '{k}'")
    if projection not in (*PROJECTIONS, "none"):
        raise EmbcError(f"--projection takes {', '.join(PROJECTIONS)} or none, not '{projection}'")

    with progress_bar("recluster") as advance:
        def progress(step: str, done: int, total: int) -> None:
            advance(0, description=step, completed=done, total=total)

        run = run_recluster(ctx.obj.store, ctx.obj.reports, collection, algorithm, k if k == "auto" else int(k),
                            seed, None if projection == "none" else projection, progress)
    if as_json:
        emit_json(run)
    else:
        stdout.print(f"run {run['run_id']}: {run['points']} points in "
                     f"{sum(c['id'] >= 0 for c in run['clusters'])} clusters ({run['timings']['total']:.1f} s)")
        print_report(ctx.obj.reports, collection, run["run_id"])
