"""The questions users ask of a clustered collection, answered from the vector store and the report store."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from embc.arguments import check_image
from embc.cluster.assign import NOISE
from embc.cluster.params import is_integer
from embc.errors import EmbcError, NotFound, ParameterError
from embc.ingest.items import Item, ItemError, point_id
from embc.results import ClusterSummary, Entry
from embc.store.vectors import CollectionInfo, Record, Search, Store

if TYPE_CHECKING:
    from embc.store.reports import ReportStore

ITEM_KEYS = ["item", "label", "cluster", "text", "path", "values"]
ORDERS = ("centre", "key")


def entry(record: Record, scored: bool = True) -> Entry:
    """An item as queries return it, with its score when it comes from a search (and is `scored`)."""
    p = record.payload
    score = None if record.score is None or not scored else round(float(record.score), 6)
    return Entry(record.id, p.get("item"), p.get("label"), p.get("cluster"), p.get("text"), p.get("path"),
                 p.get("values"), score)


def _runs_it_has(reports: ReportStore, collection: str) -> str:
    ids = [str(r["run_id"]) for r in reports.runs(collection)]
    if not ids:
        return "it has no runs yet"
    return f"its runs are {', '.join(ids)}" if len(ids) <= 10 else f"its latest runs are {', '.join(ids[:10])}"


def chosen_run(reports: ReportStore, collection: str, run: int | None = None, complete: bool = True) -> dict:
    """The latest complete run of the collection, or run `run`, which must be one of its runs (and complete,
    unless `complete` is False)."""
    if run is not None and not is_integer(run, -2**63):
        raise ParameterError(f"a run is an integer, one of the collection's run ids, not {run!r}")
    found = reports.run(collection, run) if run is None or run < 2**63 else None  # the store's ids are int64
    if found is None:
        if run is None:
            raise EmbcError(f"collection '{collection}' has no clustering yet: recluster it first")
        raise NotFound(f"no run {run} of collection '{collection}': {_runs_it_has(reports, collection)}")
    if complete and found["status"] != "complete":
        raise EmbcError(f"run {run} of collection '{collection}' did not complete ({found['status']}: "
                        f"{found['error'] or 'no error recorded'})")
    return found


def is_latest(reports: ReportStore, collection: str, run: int | None, chosen: dict) -> bool:
    """Whether `chosen`, the run asked for as `run`, is the collection's latest complete run (as it is when
    none was named): the one whose clusters the store's payloads hold."""
    return run is None or reports.run(collection)["run_id"] == chosen["run_id"]


def _sizes(store: Store, reports: ReportStore, collection: str, chosen: dict, latest: bool) -> dict[int, int]:
    """Cluster sizes: live from the store for the latest run, as recorded for an earlier one."""
    if latest:
        return store.facet(collection, "cluster")
    return {c["id"]: c["size"] for c in reports.clusters(chosen["run_id"])}


def cluster_list(store: Store, reports: ReportStore, collection: str, run: int | None = None) -> list[ClusterSummary]:
    """Every cluster of the latest (or a given) run: id, size, name, keywords and an example."""
    chosen = chosen_run(reports, collection, run)
    described = {c["id"]: c for c in reports.clusters(chosen["run_id"])}
    sizes = _sizes(store, reports, collection, chosen, is_latest(reports, collection, run, chosen))
    rows = []
    for cid in sorted(set(sizes) | set(described)):
        info = described.get(cid, {})
        reps = info.get("representatives") or [{}]
        rows.append(ClusterSummary(cid, sizes.get(cid, 0), info.get("name"), info.get("keywords") or [],
                                   reps[0].get("text"), chosen["run_id"]))
    return rows


def check_cluster(store: Store, reports: ReportStore, collection: str, cluster: int,
                  run: int | None = None, listing: bool = False) -> tuple[dict, bool]:
    """The run (latest, or `run`) in which `cluster` exists, and whether it is the latest; EmbcError naming
    the clusters there if it does not. `listing`: the question lists members, and noise is then in every run, if
    only as an empty cluster (a density fit or an incremental run may leave none): a script asking for it
    wants no points, not an error."""
    chosen = chosen_run(reports, collection, run)
    latest = is_latest(reports, collection, run, chosen)
    known = set(_sizes(store, reports, collection, chosen, latest))
    if latest:  # sizes live from the store: a cluster of the run is there even when the next run's label write
        # has moved all its points (it answers with the points that hold its label by then)
        known |= {c["id"] for c in reports.clusters(chosen["run_id"])}
    if cluster not in known and not (listing and cluster == NOISE):
        listed = ", ".join(str(c) for c in sorted(known)) or "none"
        raise NotFound(f"no cluster {cluster} in collection '{collection}' (clusters: {listed})")
    return chosen, latest


def cluster_members(store: Store, reports: ReportStore, collection: str, cluster: int, limit: int = 10,
                    run: int | None = None, order: str = "centre") -> list[Entry]:
    """Items in one cluster, `limit` of them (0: all): those nearest the cluster's centre first (noise, which
    has none, by key), or by item key."""
    if order not in ORDERS:
        raise ParameterError(f"unknown order {order!r}: choose from {', '.join(ORDERS)}")
    chosen, latest = check_cluster(store, reports, collection, cluster, run, listing=True)
    return _members(store, reports, collection, [cluster], limit, chosen, latest, order)[0]


def clusters_members(store: Store, reports: ReportStore, collection: str, clusters: Sequence[int], limit: int,
                     run: int | None = None) -> list[list[Entry]]:
    """`cluster_members` of each of `clusters`, nearest the centre first, all of one run and known to be in it
    (as `cluster_list` gives them): the run and its centres are looked up once, not once a cluster."""
    chosen = chosen_run(reports, collection, run)
    return _members(store, reports, collection, clusters, limit, chosen, is_latest(reports, collection, run, chosen),
                    "centre")


def _members(store: Store, reports: ReportStore, collection: str, clusters: Sequence[int], limit: int, chosen: dict,
             latest: bool, order: str) -> list[list[Entry]]:
    ids, centres, _ = reports.centroids(chosen["run_id"])
    row = {int(cid): i for i, cid in enumerate(ids)}
    coords = None if latest else reports.columns("coords", chosen["run_id"])
    return [_cluster_entries(store, collection, cluster, limit, chosen["run_id"], coords,
                             centres[row[cluster]] if order == "centre" and cluster in row else None)
            for cluster in clusters]


def _cluster_entries(store: Store, collection: str, cluster: int, limit: int, run_id: int, coords: dict | None,
                     centre: np.ndarray | None) -> list[Entry]:
    """One cluster's members, nearest `centre` first or, without one, by key: from the store's payloads for the
    latest run, from the run's map (`coords`) for an earlier one."""
    if coords is not None:
        if not len(coords["point_id"]):
            raise EmbcError(f"run {run_id} kept no map, so not which point was in which cluster: ask the latest run")
        members = [pid for pid, c in zip(coords["point_id"], coords["cluster"]) if c == cluster]
        records = store.retrieve(collection, members, with_vectors=centre is not None, keys=ITEM_KEYS)
        if centre is not None:
            records.sort(key=lambda r: -float(r.vector @ centre))
            records = [Record(r.id, r.payload) for r in records]
        else:
            records.sort(key=lambda r: str(r.payload.get("item")))
        return [entry(r) for r in records[:limit or None]]
    if centre is not None:
        wanted = limit or store.count(collection, {"cluster": cluster})
        # Nearest the centre first; a member's similarity to it is no query's score.
        hits = store.search(collection, centre, wanted, match={"cluster": cluster})
        return [entry(hit, scored=False) for hit in hits]
    out: list[Entry] = []
    for page in store.pages(collection, page_size=2048, with_vectors=False, keys=ITEM_KEYS, match={"cluster": cluster}):
        out += [entry(Record(i, p)) for i, p in zip(page.ids, page.payloads)]
    out.sort(key=lambda e: str(e.item))
    return out[:limit or None]


def _candidates(point: str) -> list[str]:
    """The point ids `point` may name: itself when it is a UUID, and the id derived from it as an item key."""
    ids = [point_id(point)]
    try:
        ids.insert(0, str(uuid.UUID(point)))
    except ValueError:
        pass
    return ids


def point_ids(items: Sequence[str]) -> list[str]:
    """Every point id that the item keys (or point ids) may name."""
    return list(dict.fromkeys(i for item in items for i in _candidates(str(item))))


def find_points(store: Store, collection: str, points: Sequence[str],
                keys: Sequence[str] | None = None) -> dict[str, Record]:
    """The stored points among `points` (point ids or item keys), with their vectors and the payload `keys`
    (None: all), by the name asked, from one store call; a name that matches no point is left out."""
    named = {point: _candidates(point) for point in points}
    wanted = list(dict.fromkeys(i for ids in named.values() for i in ids))
    records = {r.id: r for r in store.retrieve(collection, wanted, with_vectors=True, keys=keys)}
    return {point: records[next(i for i in ids if i in records)] for point, ids in named.items()
            if any(i in records for i in ids)}


def find_point(store: Store, collection: str, point: str) -> Record:
    """A stored point, with its vector, by point id (UUID) or by item key (whose point id derives from it)."""
    found = find_points(store, collection, [point]).get(point)
    if found is None:
        raise NotFound(f"no item '{point}' in collection '{collection}'")
    return found


ASK = ("text", "image", "row", "item", "vector", "cluster", "limit")  # the arguments of a similarity question


def check_asks(asks: object) -> list[Mapping[str, Any]]:
    """The questions of a `similar_many`, each a mapping of `similar`'s arguments; ParameterError otherwise."""
    if isinstance(asks, (str, bytes, Mapping)) or not isinstance(asks, Iterable):
        raise ParameterError(f"asks is a list of mappings of similar's arguments, not {repr(asks)[:60]}")
    asks = list(asks)
    for n, ask in enumerate(asks):
        if not isinstance(ask, Mapping):
            raise ParameterError(f"ask {n} is not a mapping of similar's arguments ({', '.join(ASK)}): "
                                 f"{repr(ask)[:60]}")
        unknown = sorted(set(ask) - set(ASK), key=str)
        if unknown:
            raise ParameterError(f"ask {n} has an argument similar does not take: {unknown[0]!r} (it takes "
                                 f"{', '.join(ASK)})")
    return asks


@dataclass
class Nearest:
    """A similarity question as searched: its vector, `limit` items (0: all), optionally inside one cluster of
    the latest run, less `exclude` (the point id of the stored item asked about)."""

    vector: np.ndarray
    cluster: int | None = None
    limit: int = 10
    exclude: str | None = None


def similar_items(store: Store, reports: ReportStore, collection: str, asks: Sequence[Nearest]) -> list[list[Entry]]:
    """The nearest items for each question, from one store search."""
    for cluster in {ask.cluster for ask in asks} - {None}:
        check_cluster(store, reports, collection, cluster, listing=True)
    everything = max(store.count(collection), 1) if any(not ask.limit for ask in asks) else 0
    wanted = [ask.limit or everything for ask in asks]
    found = store.search_many(collection, [
        Search(ask.vector, n + (ask.exclude is not None), None if ask.cluster is None else {"cluster": ask.cluster})
        for ask, n in zip(asks, wanted)])
    return [[entry(h) for h in hits if h.id != ask.exclude][:n] for ask, n, hits in zip(asks, wanted, found)]


def embed_query(info: CollectionInfo, load: Callable, text: str | None = None, image=None,
                row: Mapping | None = None) -> np.ndarray:
    """A query text, an image (a file path or a PIL image) or a table row (a mapping of column to value) as a
    vector in the collection's space, embedded by `load(model, dim=, weights=, precision=)` as the collection's
    items were."""
    if text is not None:
        return embed_texts(info, load, [text])[0]
    if row is not None:
        check_accepts(info, "row", "it cannot be queried with a row")
        query, what = _query_row(row), "row"
    else:
        check_accepts(info, "image", "it cannot be queried with an image")
        query = _query_image(image)
        what = "image" + ("" if query.path is None else f" {query.path!r}")
    embedder = load(info.model, dim=info.dim, weights=info.weights, precision=info.precision)
    try:
        query.prepared = embedder.prepare(query)
        return embedder.embed([query])[0]
    except ItemError as exc:
        raise EmbcError(f"cannot embed the query {what}: {exc}") from None


def _query_image(image) -> Item:
    from pathlib import Path

    check_image(image)
    path = image if isinstance(image, (str, os.PathLike)) else None
    if path is not None and not Path(path).is_file():
        raise EmbcError(f"no image file '{image}'")
    return Item(key="query", source="query", kind="image", path=None if path is None else str(path),
                prepared=None if path is not None else image)


def _query_row(row: object) -> Item:
    """A query row as a stored row is read (its id and label are not features); ParameterError for one that
    would be skipped, with the reason."""
    from embc.ingest.sources import Fields, table_row

    if not isinstance(row, Mapping):
        raise ParameterError(f"row is a mapping of column to value, not {repr(row)[:60]}")
    made = table_row({str(k): v for k, v in row.items()}, "query", "query", Fields(table=True))
    if not isinstance(made, Item):
        raise ParameterError(f"cannot embed the query row: {made.reason}")
    return made


def run_query_model(info: CollectionInfo, load: Callable) -> None:
    """Load the model of the collection's text and image questions and embed one of each kind it accepts, so that
    the first real question finds it loaded and its first run's setup done (CLIP's encoders compile then)."""
    from PIL import Image

    from embc.ingest.registry import accepts

    embedder = load(info.model, dim=info.dim, weights=info.weights, precision=info.precision)
    if accepts(info.model, "text"):
        try:
            embedder.embed([Item(key="query", source="query", kind="text", text="the first question")])
        except ItemError:  # a word model that knows none of the words: it has nothing to set up
            pass
    if accepts(info.model, "image"):
        embed_query(info, load, image=Image.new("RGB", (224, 224)))


def embed_texts(info: CollectionInfo, load: Callable, texts: Sequence[str]) -> np.ndarray:
    """Query texts as vectors in the collection's space, in one model call (see `embed_query`)."""
    check_accepts(info, "text", "it cannot be queried with a text")
    embedder = load(info.model, dim=info.dim, weights=info.weights, precision=info.precision)
    try:
        return embedder.embed([Item(key="query", source="query", kind="text", text=text) for text in texts])
    except ItemError as exc:
        raise EmbcError(f"cannot embed the query text: {exc}") from None


def check_accepts(info: CollectionInfo, kind: str, refusal: str) -> None:
    """EmbcError saying `refusal` unless the collection's model embeds `kind` ("text" or "image")."""
    from embc.ingest.registry import accepts

    if not accepts(info.model, kind):
        raise EmbcError(f"collection '{info.name}' holds {info.modality} items ({info.model}): {refusal}")
