"""`embc report`: a run's metrics and clusters, and the run history; `embc export`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from embc.cli.app import app, workspace
from embc.cli.ingest import COLLECTION
from embc.cli.output import AS_JSON, FORMAT, Format, choices, chosen, emit, say, show, table, tell
from embc.cli.query import RUN
from embc.export import FORMATS
from embc.results import Report, Run
from embc.wording import counted, visible

METRICS = ["nmi", "ari", "homogeneity", "completeness", "silhouette", "davies_bouldin", "calinski_harabasz",
           "inertia", "stability_ari", "noise_fraction", "labelled_fraction", "new_points", "new_noise_fraction",
           "skipped_points", "cache_repaired"]
# A band of k near the knee this wide says the data leaves k open: it is 8-9 on the shipped WordNet sample, whose
# 8 classes stand apart, and from 2 to 6 wide (as 6-12), 3 or more on 19, on the twenty-one other labelled sets
# of docs/quality.md.
WIDE_BAND = 3
RUN_COLUMNS = ["run", "mode", "status", "algorithm", "points", "clusters", "seconds", "finished"]


ExportFormat = choices("ExportFormat", FORMATS)


def params_text(params: dict | None) -> str:
    """Parameters as people write them: k=8 n_init=4 eps_chosen=0.45 (a number chosen from the data to four
    significant digits; the JSON formats give it whole)."""
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in (params or {}).items())


def _history_row(run: Run) -> dict:
    """A run as a row of the history table: the algorithm with its parameters, the finish without the year."""
    return {"run": run.run_id, "mode": {"incremental": "incr"}.get(run.mode, run.mode), "status": run.status,
            "algorithm": f"{run.algorithm} {params_text(run.params)}", "points": run.n_points,
            "clusters": run.n_clusters, "seconds": (run.timings or {}).get("total"),
            "finished": (run.finished_at or "")[5:16].replace("T", " ")}


def print_report(report: Report) -> None:
    run, metrics = report.run, report.metrics
    size = (f"{counted(run.n_points, 'point')}, {counted(run.n_clusters, 'cluster')}"
            if run.n_points is not None else "nothing recorded")
    model = escape(visible(run.model))  # a path the user named may hold brackets, which rich reads as markup
    show(f"[bold]{report.collection}[/bold] run {run.run_id} ({run.mode}, {run.status}): {run.algorithm} "
         f"{params_text(run.params)}, seed {run.seed}, {size}, model {model}", highlight=False)
    if run.error:
        show(f"error: {visible(run.error)}", markup=False, highlight=False)
    if metrics:
        table("metrics", ["metric", "value"], [[name, f"{metrics[name]:.4f}"] for name in METRICS if name in metrics])
    if run.mode == "incremental":
        show(f"metrics of full run {run.base_run}, with the points this run assigned")
    if report.clusters:
        table("clusters", ["id", "size", "name"], [[c.id, c.size, c.name] for c in report.clusters], wrap=["name"])
    if report.sweep:
        table("k sweep", ["k", "inertia", "silhouette", "below chord"],
              [[f"{p.k}{' *' if p.chosen else ''}", f"{p.inertia:.1f}",
                "" if p.silhouette is None else f"{p.silhouette:.3f}", f"{p.below_chord:.3f}"] for p in report.sweep])
        from embc.cluster.sweep import KNEE_BAND

        near = [p.k for p in report.sweep if p.near_knee]
        show("k (*): the inertia farthest below the chord from the first k to the last", highlight=False)
        if max(near) - min(near) >= WIDE_BAND:
            show(f"k = {min(near)}-{max(near)} lie within {1 - KNEE_BAND:.0%} of it: the curve bends "
                 "gradually, so the data leaves the number of clusters open; give --k N, or --k LO-HI around what "
                 "you expect", highlight=False)
    if report.events:
        table("cluster id events", ["event", "cluster", "related"],
              [[e.kind, e.cluster, ", ".join(map(str, e.related))] for e in report.events])
    emit([_history_row(r) for r in report.runs[:10]], Format.table, RUN_COLUMNS, "runs", wrap=["algorithm"])


@app.command()
def report(ctx: typer.Context, collection: str = COLLECTION, run: Optional[int] = RUN,
           runs: bool = typer.Option(False, "--runs", help="Only the run history."),
           fmt: Optional[Format] = FORMAT, as_json: bool = AS_JSON) -> None:
    """Metrics and clusters of the latest (or a given) run, and the run history."""
    fmt = chosen(fmt, as_json)
    ws = workspace(ctx)
    if runs:
        history = ws.runs(collection)
        if fmt in (Format.json, Format.jsonl):
            emit([r.to_dict() for r in history], fmt, [])
        else:
            emit([_history_row(r) for r in history], fmt, RUN_COLUMNS, "runs", wrap=["algorithm"])
        return
    result = ws.report(collection, run)
    if fmt is Format.table:
        print_report(result)
    elif fmt in (Format.csv, Format.tsv):  # the run's metrics as rows
        emit([{"metric": k, "value": v} for k, v in result.metrics.items()], fmt, ["metric", "value"])
    else:
        emit(result.to_dict(), fmt, [])


@app.command()
def export(ctx: typer.Context, collection: str = COLLECTION,
           out: str = typer.Option(..., "--out", "-o", metavar="FILE", help="File to write (.parquet, .csv, .tsv, "
                                   ".jsonl), or - for stdout."),
           fmt: Optional[ExportFormat] = typer.Option(None, "--format", "-f", help="Default: from the file's "
                                                      "extension; jsonl for stdout."),
           run: Optional[int] = RUN,
           vectors: bool = typer.Option(False, "--vectors", help="Each point's stored vector too, as a `vector` "
                                        "column (parquet, jsonl).")) -> None:
    """Write every point with its cluster, cluster name, label and 2-D position, a page at a time."""
    ws = workspace(ctx)
    fmt = fmt and fmt.value
    if out == "-":
        rows = ws.export(collection, sys.stdout.buffer, fmt or "jsonl", run, vectors=vectors)
        sys.stdout.flush()
        say(f"wrote {counted(rows, 'row')}")
        return
    ctx.obj.check_output(out)
    rows = ws.export(collection, Path(out), fmt, run, vectors=vectors)
    tell(f"wrote {counted(rows, 'row')} to {out}")
