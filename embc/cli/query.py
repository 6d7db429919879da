"""Read commands over the vector store: `collections`, `clusters`, `cluster ID`, `similar`."""

from __future__ import annotations

from typing import Optional

import typer

from embc.cli.app import app
from embc.cli.ingest import COLLECTION
from embc.cli.output import emit_json, table
from embc.errors import EmbcError

LIMIT = typer.Option(10, "--limit", "-n", help="Most items to show; 0 shows all.")
AS_JSON = typer.Option(False, "--json", help="Print one JSON document.")


@app.command()
def collections(ctx: typer.Context, as_json: bool = AS_JSON) -> None:
    """List the collections with their size and model."""
    rows = [{"name": c.name, "points": c.points, "model": c.model, "dim": c.dim, "modality": c.modality}
            for c in ctx.obj.store.collections()]
    if as_json:
        emit_json(rows)
    else:
        table(None, ["name", "points", "model", "dim"], [[r["name"], r["points"], r["model"], r["dim"]] for r in rows])


@app.command()
def clusters(ctx: typer.Context, collection: str = COLLECTION, as_json: bool = AS_JSON) -> None:
    """The clusters of the latest run: id, size, name, and a representative member."""
    from embc.queries import cluster_list

    rows = cluster_list(ctx.obj.store, ctx.obj.reports, collection)
    if as_json:
        emit_json(rows)
    else:
        table(f"clusters of '{collection}'", ["id", "size", "name", "example"],
              [[r["id"], r["size"], r["name"], r["example"]] for r in rows])


@app.command()
def cluster(ctx: typer.Context, cluster_id: int = typer.Argument(..., metavar="ID"), collection: str = COLLECTION,
            limit: int = LIMIT, as_json: bool = AS_JSON) -> None:
    """The items in cluster ID."""
    from embc.queries import cluster_members

    _items(cluster_members(ctx.obj.store, collection, cluster_id, limit), as_json, f"cluster {cluster_id}")


@app.command()
def similar(ctx: typer.Context, text: Optional[str] = typer.Option(None, "--text", help="Query text."),
            point: Optional[str] = typer.Option(None, "--id", help="A stored item: point id or item key."),
            image: Optional[str] = typer.Option(None, "--image", help="A query image file (need not be stored)."),
            collection: str = COLLECTION,
            in_cluster: Optional[int] = typer.Option(None, "--cluster", help="Search inside one cluster."),
            limit: int = LIMIT, as_json: bool = AS_JSON) -> None:
    """The items nearest to a text, an image, or a stored item."""
    from embc.queries import similar_items

    if sum(q is not None for q in (text, point, image)) != 1:
        raise EmbcError("give exactly one of --text, --image or --id")
    _items(similar_items(ctx.obj.store, collection, text=text, point=point, image=image, cluster=in_cluster,
                         limit=limit), as_json, "similar items")


def _items(items: list[dict], as_json: bool, title: str) -> None:
    if as_json:
        emit_json(items)
        return
    scored = any("score" in i for i in items)
    columns = ["item", "cluster", "label", "text"] + (["score"] if scored else [])
    table(title, columns, [[i["item"], i["cluster"], i["label"], i["text"]] +
                           ([f"{i['score']:.3f}"] if scored else []) for i in items])
