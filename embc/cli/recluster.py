"""`embc recluster`, once or on a schedule."""

from __future__ import annotations

import time
from typing import Optional

import typer

from embc.cli.app import app
from embc.cli.ingest import COLLECTION
from embc.cli.output import emit_json, progress_bar, stderr, stdout
from embc.cli.report import print_report
from embc.errors import EmbcError

_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> float:
    """Seconds in an interval such as 90, 30s, 10m, 1h or 1d."""
    unit = text[-1:] if text[-1:] in _SECONDS else "s"
    number = text[:-1] if text[-1:] in _SECONDS else text
    try:
        seconds = float(number) * _SECONDS[unit]
    except ValueError:
        seconds = 0
    if seconds <= 0:
        raise EmbcError(f"--every takes an interval such as 30s, 10m or 1h, not '{text}'")
    return seconds


@app.command()
def recluster(
    ctx: typer.Context,
    collection: str = COLLECTION,
    algorithm: Optional[str] = typer.Option(None, "--algorithm", "-a", help="kmeans, dbscan, hdbscan or "
                                            "agglomerative (default: the last run's, else kmeans)."),
    k: Optional[str] = typer.Option(None, "--k", "-k", help="Clusters (kmeans, agglomerative), or auto: the best "
                                    "silhouette near the elbow of a k sweep (2-20) on a sample (default: 8)."),
    eps: Optional[float] = typer.Option(None, help="dbscan radius in the reduced space (default: the knee of "
                                        "the k-distance curve)."),
    min_size: Optional[int] = typer.Option(None, help="dbscan min_samples (default: 10), hdbscan "
                                           "min_cluster_size (default: 20)."),
    linkage: Optional[str] = typer.Option(None, help="agglomerative: ward, average or complete (default: ward)."),
    reduce: Optional[str] = typer.Option(None, help="dbscan/hdbscan run on: umap (10-D), pca (10-D) or none "
                                         "(default: umap)."),
    sample_cap: Optional[int] = typer.Option(None, help="dbscan, hdbscan, agglomerative fit at most this many "
                                             "points and assign the rest (default: 10000)."),
    n_init: Optional[int] = typer.Option(None, help="kmeans: k-means++ starts, the best kept (default: 4)."),
    seed: Optional[int] = typer.Option(None, help="Random seed, recorded with the run (default: the last run's, "
                                       "else 0)."),
    projection: Optional[str] = typer.Option(None, "--projection", help="2-D map: umap, tsne, pca, or none "
                                             "(default: the last run's, else umap)."),
    full: bool = typer.Option(False, "--full", help="Refit every point even when few are new."),
    refit_fraction: float = typer.Option(0.3, help="Refit when the points added since the last full fit exceed "
                                         "this share of it."),
    every: Optional[str] = typer.Option(None, "--every", help="Run in the foreground on a schedule, e.g. 10m."),
    as_json: bool = typer.Option(False, "--json", help="Print the run as JSON."),
) -> None:
    """Bring the clustering up to date: assign new points to the clusters, or refit when needed; write each
    point's cluster into Qdrant and record the run. Unset options reuse the last run's."""
    from embc.cluster.project import PROJECTIONS

    if k is not None and k != "auto" and not k.isdigit():
        raise EmbcError(f"--k takes a number or auto, not '{k}'")
    if projection is not None and projection not in (*PROJECTIONS, "none"):
        raise EmbcError(f"--projection takes {', '.join(PROJECTIONS)} or none, not '{projection}'")
    params = {"k": k if k in (None, "auto") else int(k), "eps": eps, "min_size": min_size, "linkage": linkage,
              "reduce": reduce, "sample_cap": sample_cap, "n_init": n_init}
    options = dict(algorithm=algorithm, params=params, seed=seed, projection=projection,
                   refit_fraction=refit_fraction)
    if every is None:
        _run_once(ctx, collection, full, as_json, options)
        return
    interval = parse_interval(every)
    while True:
        started = time.monotonic()
        try:
            _run_once(ctx, collection, full, as_json, options)
        except EmbcError as exc:  # a scheduled worker reports and tries again next time
            stderr.print(f"embc: error: {exc}", markup=False, highlight=False)
        full = False  # --full applies to the first run only
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


def _run_once(ctx: typer.Context, collection: str, full: bool, as_json: bool, options: dict) -> None:
    from embc.cluster.job import recluster as run_recluster

    with progress_bar("recluster") as advance:
        def progress(step: str, done: int, total: int) -> None:
            advance(0, description=step, completed=done, total=total)

        run = run_recluster(ctx.obj.store, ctx.obj.reports, collection, full=full, progress=progress, **options)
    if as_json:
        emit_json(run)
    elif run["run_id"] is None:
        stdout.print(f"{collection}: {run['reason']}")
    else:
        stdout.print(f"run {run['run_id']} ({run['mode']}: {run['reason']}): {run['points']} points, "
                     f"{sum(c['id'] >= 0 for c in run['clusters'])} clusters ({run['timings']['total']:.1f} s)")
        if run["mode"] == "full":
            print_report(ctx.obj.reports, collection, run["run_id"])
