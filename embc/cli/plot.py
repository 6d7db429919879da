"""`embc plot`: figures of a collection's latest run."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from embc.cli.app import app
from embc.cli.ingest import COLLECTION
from embc.cli.output import stdout
from embc.errors import EmbcError

KINDS = ("montage",)


@app.command()
def plot(ctx: typer.Context, kind: str = typer.Argument(..., help="Figure: montage."),
         collection: str = COLLECTION,
         cluster: Optional[int] = typer.Option(None, "--cluster", help="Only this cluster."),
         out: Optional[Path] = typer.Option(None, "--out", "-o", help="PNG file [default: KIND.png]."),
         per_cluster: int = typer.Option(8, "--per-cluster", help="Thumbnails per cluster (montage).")) -> None:
    """Draw a figure of the latest run as a PNG: montage (thumbnails of each cluster's members)."""
    if kind not in KINDS:
        raise EmbcError(f"unknown figure '{kind}': choose from {', '.join(KINDS)}")
    from embc.queries import latest_run, montage_rows
    from embc.report.figures import montage

    rows = montage_rows(ctx.obj.store, ctx.obj.reports, collection, cluster, per_cluster)
    run = latest_run(ctx.obj.reports, collection)
    path = montage(rows, out or Path(f"{kind}.png"), f"{collection}: run {run['run_id']}, {len(rows)} clusters")
    stdout.print(f"wrote {path}")
