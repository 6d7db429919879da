"""`embc report`: a run's metrics and clusters, and the run history; `embc export`."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from embc.cli.app import app
from embc.cli.ingest import COLLECTION
from embc.cli.output import emit_json, stdout, table
from embc.errors import EmbcError
from embc.store.reports import ReportStore

METRICS = ["nmi", "ari", "homogeneity", "completeness", "silhouette", "davies_bouldin", "calinski_harabasz",
           "inertia", "stability_ari", "noise_fraction", "labelled_fraction", "new_points", "new_noise_fraction"]


def build_report(reports: ReportStore, collection: str, run_id: Optional[int] = None) -> dict:
    """The report document: the run, its metrics and clusters, and the run history."""
    from embc.queries import latest_run

    run = reports.run(collection, run_id) if run_id is not None else latest_run(reports, collection)
    if run is None:
        raise EmbcError(f"no run {run_id} of collection '{collection}': see `embc report -c {collection}`")
    return {"collection": collection, "run": run, "metrics": reports.metrics(run["run_id"]),
            "clusters": reports.clusters(run["run_id"]), "events": reports.events(run["run_id"]),
            "runs": reports.runs(collection)}


def print_report(reports: ReportStore, collection: str, run_id: Optional[int] = None) -> None:
    doc = build_report(reports, collection, run_id)
    run, metrics = doc["run"], doc["metrics"]
    stdout.print(f"[bold]{collection}[/bold] run {run['run_id']} ({run['mode']}, {run['status']}): {run['algorithm']} "
                 f"{run['params']}, seed {run['seed']}, {run['n_points']} points, {run['n_clusters']} clusters, "
                 f"model {run['model']}")
    table("metrics", ["metric", "value"],
          [[name, f"{metrics[name]:.4f}"] for name in METRICS if name in metrics])
    if run["mode"] == "incremental":
        stdout.print(f"metrics of full run {run['base_run']}, with the points this run assigned")
    table("clusters", ["id", "size", "name"], [[c["id"], c["size"], c["name"]] for c in doc["clusters"]])
    if doc["events"]:
        table("cluster id events", ["event", "cluster", "related"],
              [[e["kind"], e["cluster"], ", ".join(map(str, e["related"]))] for e in doc["events"]])
    _history_table(doc["runs"][:10])


def _history_table(runs: list[dict]) -> None:
    table("runs", ["run", "mode", "status", "algorithm", "params", "points", "clusters", "seconds", "finished"],
          [[r["run_id"], r["mode"], r["status"], r["algorithm"],
            " ".join(f"{k}={v}" for k, v in (r["params"] or {}).items()), r["n_points"], r["n_clusters"],
            (r["timings"] or {}).get("total"), (r["finished_at"] or "")[:16].replace("T", " ")] for r in runs])


@app.command()
def export(ctx: typer.Context, collection: str = COLLECTION,
           out: Path = typer.Option(..., "--out", "-o", help="Parquet file to write.")) -> None:
    """Write every point with its cluster, cluster name, label and 2-D position to a Parquet file."""
    from embc.export import export_parquet

    rows = export_parquet(ctx.obj.store, ctx.obj.reports, collection, out)
    stdout.print(f"wrote {rows} rows to {out}")


@app.command()
def report(ctx: typer.Context, collection: str = COLLECTION,
           run: Optional[int] = typer.Option(None, "--run", help="A run id; default: the latest complete run."),
           runs: bool = typer.Option(False, "--runs", help="Only the run history."),
           as_json: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
    """Metrics and clusters of the latest (or a given) run, and the run history."""
    ctx.obj.store.collection(collection)
    if runs:
        history = ctx.obj.reports.runs(collection)
        if as_json:
            emit_json(history)
        else:
            _history_table(history)
    elif as_json:
        emit_json(build_report(ctx.obj.reports, collection, run))
    else:
        print_report(ctx.obj.reports, collection, run)
