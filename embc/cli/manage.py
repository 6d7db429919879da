"""`embc delete` and `embc rename`: changing what is stored."""

from __future__ import annotations

from typing import List, Optional

import typer

from embc.cli.app import app, workspace
from embc.cli.ingest import COLLECTION
from embc.cli.output import tell
from embc.cli.query import cluster_id
from embc.errors import EmbcError
from embc.wording import counted


@app.command()
def delete(ctx: typer.Context, items: Optional[List[str]] = typer.Argument(None, metavar="KEY",
                                                                           help="Item keys or point ids."),
           collection: str = typer.Option(..., "--collection", "-c", metavar="NAME",
                                          help="Collection name (never a default)."),
           everything: bool = typer.Option(False, "--all", help="Delete the whole collection, with its runs, "
                                           "vector cache and trained model."),
           run: Optional[int] = typer.Option(None, "--run", help="Delete a run from the history (a failed one, or "
                                             "one a later full run replaced).")) -> None:
    """Delete items by key, a run with --run, or with --all a whole collection."""
    given = sum((bool(items), everything, run is not None))
    if given > 1:
        raise EmbcError("give one of: item keys, --run N, --all")
    if not given:
        raise EmbcError("name the items to delete, or give --run N to delete a run, or --all to delete the whole "
                        "collection")
    if run is not None:
        workspace(ctx).delete_run(collection, run)
        tell(f"deleted run {run} of '{collection}'")
        return
    items = list(dict.fromkeys(items or []))  # a key named twice is one item
    removed = workspace(ctx).delete(collection, None if everything else items)
    if everything:
        tell(f"deleted collection '{collection}' ({counted(removed, 'point')})")
        return
    tell(f"deleted {removed} of {len(items)} items from '{collection}'")
    if missing := len(items) - removed:
        raise EmbcError(f"{missing} of the items named {'is' if missing == 1 else 'are'} not in collection "
                        f"'{collection}'")


@app.command(context_settings={"ignore_unknown_options": True})
def rename(ctx: typer.Context, cluster: str = typer.Argument(..., metavar="CLUSTER"),
           name: str = typer.Argument(..., metavar="NAME"), collection: str = COLLECTION) -> None:
    """Name a cluster; the name stays with its id in later runs."""
    number = cluster_id(cluster)
    workspace(ctx).rename(collection, number, name)
    tell(f"cluster {number} of '{collection}' is now named '{name.strip()}'")
