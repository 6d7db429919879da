"""`embc plot`: figures of a collection's latest (or a given) run, as PNG, SVG or PDF files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from embc.cli.app import app, workspace
from embc.cli.ingest import COLLECTION
from embc.cli.output import choices, tell
from embc.cli.query import RUN, cluster_id
from embc.errors import EmbcError
from embc.report.plots import KINDS


Kind = choices("Kind", KINDS)


@app.command()
def plot(ctx: typer.Context,
         kind: Kind = typer.Argument(..., metavar="KIND", help="map, elbow, silhouette, montage; with a decoder: "
                                     "centroids, interpolate, loss."),
         collection: str = COLLECTION, run: Optional[int] = RUN,
         cluster: Optional[str] = typer.Option(None, "--cluster", metavar="ID", help="Montage: only this cluster."),
         out: Optional[Path] = typer.Option(None, "--out", "-o", metavar="FILE", help="File to write: PNG, or SVG or "
                                            "PDF by its name [default: COLLECTION-KIND.png, never overwritten]."),
         per_cluster: int = typer.Option(8, "--per-cluster", min=1, help="Montage: thumbnails per cluster."),
         start: Optional[str] = typer.Option(None, "--from", metavar="KEY",
                                             help="Interpolate: the item to start from."),
         end: Optional[str] = typer.Option(None, "--to", metavar="KEY",
                                           help="Interpolate: the item to end at.")) -> None:
    """Draw a figure of the latest run: map (the 2-D map coloured by cluster), elbow (the k sweep of a
    --k auto run), silhouette (per-cluster blades), montage (thumbnails of each cluster's images). With a
    decoder (`embc decoder train`): centroids (each cluster's decoded centre beside its nearest members),
    interpolate (decoded images between --from and --to), loss (the decoder's loss per epoch)."""
    if (start is None) != (end is None):
        raise EmbcError("interpolate needs both --from KEY and --to KEY")
    target = out or Path(f"{collection}-{kind.value}.png")
    if out is None and target.exists():
        raise EmbcError(f"{target} exists: name the file to write with --out")
    ctx.obj.check_output(target)
    path = workspace(ctx).plot(collection, kind.value, target, run, None if cluster is None else cluster_id(cluster),
                               per_cluster, None if start is None else (start, end))
    tell(f"wrote {path}")
