"""Read commands: `collections`, `clusters`, `cluster ID`, `similar`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

from embc.arguments import check_cluster_id
from embc.cli.app import app, workspace
from embc.cli.ingest import COLLECTION
from embc.cli.output import AS_JSON, FORMAT, Format, choices, chosen, emit, say
from embc.cluster.assign import NOISE, NOISE_NAME
from embc.errors import EmbcError
from embc.queries import ORDERS
from embc.wording import shortened

LIMIT = typer.Option(10, "--limit", "-n", min=0, help="Most items to show; 0 shows all.")
RUN = typer.Option(None, "--run", help="A run id (see `embc report --runs`); default: the latest complete run.")
ITEM_COLUMNS = ["item", "cluster", "label"]
TEXT_SHOWN = 240


Order = choices("Order", ORDERS)


def cluster_id(value: str) -> int:
    """A cluster id on the command line: an integer, or `noise` for -1."""
    try:
        return check_cluster_id(value if value == NOISE_NAME else int(value))
    except ValueError:  # ParameterError is one
        raise typer.BadParameter(f"'{value}' is not a cluster id: ids are >= 0, and -1 or noise name the noise") \
            from None


@app.command()
def collections(ctx: typer.Context, fmt: Optional[Format] = FORMAT, as_json: bool = AS_JSON) -> None:
    """List the collections with their size and model."""
    emit([c.to_dict() for c in workspace(ctx).collections()], chosen(fmt, as_json),
         ["name", "points", "model", "dim", "modality", "precision"], wrap=["model"])


@app.command()
def clusters(ctx: typer.Context, collection: str = COLLECTION, run: Optional[int] = RUN,
             fmt: Optional[Format] = FORMAT, as_json: bool = AS_JSON) -> None:
    """The clusters of the latest (or a given) run: id, size, name, and a representative member."""
    rows = workspace(ctx).clusters(collection, run)
    emit([r.to_dict() for r in rows], chosen(fmt, as_json), ["id", "size", "name", "example"],
         f"clusters of '{collection}'", wrap=["name", "example"])


@app.command(context_settings={"ignore_unknown_options": True})
def cluster(ctx: typer.Context,
            cluster: str = typer.Argument(..., metavar="ID", help="A cluster id, or -1 or noise for the noise."),
            collection: str = COLLECTION, limit: int = LIMIT, run: Optional[int] = RUN,
            order: Order = typer.Option(Order.centre, "--order", help="centre: nearest the cluster's centre "
                                        "first; key: by item key."),
            fmt: Optional[Format] = FORMAT, as_json: bool = AS_JSON) -> None:
    """The items in cluster ID."""
    number, shown = cluster_id(cluster), chosen(fmt, as_json)
    items = workspace(ctx).members(collection, number, limit, run, order.value)
    _note_no_noise(collection, number, items)
    title = f"cluster {number}"
    if shown is Format.table and items:  # a table's title says which cluster this is
        summary = workspace(ctx).cluster(collection, number, run)
        title += f"{f': {summary.name}' if summary.name else ''} ({summary.size:,} items)"
    _items([i.to_dict() for i in items], shown, title, False)


@app.command()
def similar(ctx: typer.Context, text: Optional[str] = typer.Option(None, "--text", metavar="TEXT", help="Query text."),
            item: Optional[str] = typer.Option(None, "--id", metavar="KEY",
                                               help="A stored item: item key or point id."),
            image: Optional[Path] = typer.Option(None, "--image", metavar="FILE",
                                                 help="A query image file (need not be stored)."),
            row: Optional[str] = typer.Option(None, "--row", metavar="JSON", help="A query table row, as a JSON "
                                              "object of column to value (need not be stored)."),
            collection: str = COLLECTION,
            in_cluster: Optional[str] = typer.Option(None, "--cluster", metavar="ID",
                                                     help="Search inside one cluster (an id, or noise)."),
            limit: int = LIMIT, fmt: Optional[Format] = FORMAT, as_json: bool = AS_JSON) -> None:
    """The items nearest to a text, an image, a table row, or a stored item."""
    if sum(q is not None for q in (text, item, image, row)) != 1:
        raise EmbcError("give exactly one of --text, --image, --row or --id")
    number = None if in_cluster is None else cluster_id(in_cluster)
    found = workspace(ctx).similar(collection, text=text, item=item, image=image, row=_row(row), limit=limit,
                                   cluster=number)
    _note_no_noise(collection, number, found)
    _items([i.to_dict() for i in found], chosen(fmt, as_json), "similar items", True)


def _note_no_noise(collection: str, cluster: int | None, items: list) -> None:
    if not items and cluster == NOISE:
        say(f"note: no point of '{collection}' is noise in this run")


def _row(given: str | None) -> dict | None:
    if given is None:
        return None
    try:
        row = json.loads(given)
    except json.JSONDecodeError as exc:
        raise typer.BadParameter(f"--row is not JSON: {exc}") from None
    if not isinstance(row, dict):
        raise typer.BadParameter("--row is a JSON object of column to value, such as '{\"age\": 41}'")
    return row


def _items(items: list[dict], fmt: Format, title: str, scored: bool) -> None:
    if fmt is Format.table:  # a table shows the start of each text; the other formats carry all of it
        items = [{**i, "text": i["text"] and shortened(i["text"], TEXT_SHOWN)} for i in items]
    shown = "values" if any(i["values"] is not None for i in items) else "text"  # a table row's columns
    emit(items, fmt, ITEM_COLUMNS + [shown] + (["score"] if scored else []), title, wrap=[shown])
