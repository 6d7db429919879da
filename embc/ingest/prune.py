"""`ingest --prune`: remove the points whose file is gone from a folder that was ingested."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from embc.ingest.sources import is_folder
from embc.store.vectors import Store


def prune_missing(store: Store, collection: str, paths: Sequence[Path]) -> int:
    """Delete the points found under one of the folders in `paths` whose source file no longer exists there;
    returns how many. Points ingested from other folders, or from files named one by one, are left alone."""
    folders = {str(p.resolve()): p.resolve() for p in map(Path, filter(is_folder, paths))}
    if not folders:
        return 0
    gone = []
    for page in store.pages(collection, with_vectors=False, keys=["root", "source"]):
        for pid, payload in zip(page.ids, page.payloads):
            folder = folders.get(payload.get("root"))
            if folder is not None and not (folder / payload["source"]).is_file():
                gone.append(pid)
    if gone:
        store.delete(collection, gone)
    return len(gone)
