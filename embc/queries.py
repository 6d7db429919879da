"""The questions users ask of a clustered collection, answered from the vector store and the report store."""

from __future__ import annotations

import uuid
from pathlib import Path

import numpy as np

from embc.errors import EmbcError
from embc.ingest.items import point_id
from embc.store.reports import ReportStore
from embc.store.vectors import CollectionInfo, Record, Store

ITEM_KEYS = ["item", "label", "cluster", "text", "path"]


def item_view(record: Record) -> dict:
    """The JSON shape of one item: id, item, label, cluster, text, path (each null when none), and score
    for searches."""
    p = record.payload
    out = {"id": record.id, "item": p.get("item"), "label": p.get("label"), "cluster": p.get("cluster"),
           "text": p.get("text"), "path": p.get("path")}
    if record.score is not None:
        out["score"] = round(float(record.score), 6)
    return out


def latest_run(reports: ReportStore, collection: str) -> dict:
    run = reports.run(collection)
    if run is None:
        raise EmbcError(f"collection '{collection}' has no clustering yet: run `embc recluster -c {collection}`")
    return run


def cluster_list(store: Store, reports: ReportStore, collection: str) -> list[dict]:
    """Every cluster: id, size (live, from the store), name and an example (from the latest run)."""
    store.collection(collection)
    run = latest_run(reports, collection)
    described = {c["id"]: c for c in reports.clusters(run["run_id"])}
    sizes = store.facet(collection, "cluster")
    rows = []
    for cid in sorted(set(sizes) | set(described)):
        info = described.get(cid, {})
        reps = info.get("representatives") or [{}]
        rows.append({"id": cid, "size": sizes.get(cid, 0), "name": info.get("name"),
                     "keywords": info.get("keywords", []), "example": reps[0].get("text"), "run_id": run["run_id"]})
    return rows


def cluster_members(store: Store, collection: str, cluster: int, limit: int = 10) -> list[dict]:
    """Items in one cluster, `limit` of them (0: all)."""
    store.collection(collection)
    sizes = store.facet(collection, "cluster")
    if cluster not in sizes:
        known = ", ".join(str(c) for c in sorted(sizes)) or "none yet: run `embc recluster`"
        raise EmbcError(f"no cluster {cluster} in collection '{collection}' (clusters: {known})")
    out: list[dict] = []
    page_size = min(limit, 2048) if limit else 2048
    for page in store.pages(collection, page_size=page_size, with_vectors=False, keys=ITEM_KEYS,
                            match={"cluster": cluster}):
        out += [item_view(Record(i, p)) for i, p in zip(page.ids, page.payloads)]
        if limit and len(out) >= limit:
            return out[:limit]
    return out


def montage_rows(store: Store, reports: ReportStore, collection: str, cluster: int | None = None,
                 per_cluster: int = 8) -> list[dict]:
    """For each cluster (or just one): id, name, size and the image paths of up to `per_cluster` members."""
    clusters = cluster_list(store, reports, collection)
    if cluster is not None:
        clusters = [c for c in clusters if c["id"] == cluster] or [{"id": cluster}]
    rows = []
    for c in clusters:
        members = cluster_members(store, collection, c["id"], per_cluster)
        paths = [m["path"] for m in members if m.get("path")]
        if not paths:
            raise EmbcError(f"cluster {c['id']} of collection '{collection}' has no images to show")
        rows.append({"id": c["id"], "name": c.get("name") or "", "size": c.get("size", len(members)), "paths": paths})
    return rows


def find_point(store: Store, collection: str, point: str) -> Record:
    """A stored point, with its vector, by point id (UUID) or by item key (whose point id derives from it)."""
    ids = [point_id(point)]
    try:
        ids.insert(0, str(uuid.UUID(point)))
    except ValueError:
        pass
    records = {r.id: r for r in store.retrieve(collection, ids, with_vectors=True)}
    found = [records[i] for i in ids if i in records]
    if not found:
        raise EmbcError(f"no item '{point}' in collection '{collection}'")
    return found[0]


def similar_items(store: Store, collection: str, text: str | None = None, point: str | None = None,
                  image: str | None = None, cluster: int | None = None, limit: int = 10) -> list[dict]:
    """Nearest items to a stored item, or to a text or an image embedded with the collection's model."""
    info = store.collection(collection)
    exclude = None
    if point is not None:
        record = find_point(store, collection, point)
        vector, exclude = record.vector, record.id
    else:
        vector = embed_query(info, text=text, image=image)
    wanted = limit or max(store.count(collection), 1)
    hits = store.search(collection, vector, wanted + (exclude is not None),
                        match=None if cluster is None else {"cluster": cluster})
    return [item_view(h) for h in hits if h.id != exclude][:wanted]


def embed_query(info: CollectionInfo, text: str | None = None, image: str | None = None) -> np.ndarray:
    """A query text or image file as a vector in the collection's space."""
    from embc.ingest.embedders import accepts, load_embedder
    from embc.ingest.items import Item, ItemError

    kind = "text" if text is not None else "image"
    if not accepts(info.model, kind):
        raise EmbcError(f"collection '{info.name}' holds {info.modality} items ({info.model}): "
                        f"it cannot be queried with {'a text' if kind == 'text' else 'an image'}")
    if image is not None and not Path(image).is_file():
        raise EmbcError(f"no image file '{image}'")
    query = Item(key="query", source="query", kind=kind, text=text, path=image)
    try:
        return load_embedder(info.model, dim=info.dim, weights=info.weights).embed([query])[0]
    except ItemError as exc:
        raise EmbcError(f"cannot embed the query {'text' if text is not None else f'image {image!r}'}: {exc}") from None
