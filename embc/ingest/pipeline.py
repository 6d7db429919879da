"""Ingest: items in, vectors stored; unchanged items skipped by content hash, bad ones counted with a reason."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from datetime import datetime, timezone
from itertools import chain, islice
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from embc.errors import EmbcError
from embc.ingest.embedders import Embedder
from embc.ingest.registry import DEFAULT_MODEL, accepts, family, learns, load_embedder, new_precision
from embc.ingest.items import Item, ItemError, cap_text, max_text, vector_problem
from embc.results import IngestResult, Skipped
from embc.store.vector_cache import HASH_KEY, VectorCache, keys, vector_hash
from embc.store.vectors import INGESTED_KEY, CollectionInfo, Store, check_name

# Opening an embedded collection costs up to half a second at 100k points, so each round trip to the store
# (stored hashes looked up, then vectors upserted) covers many items; the model sees smaller batches, and
# the store is never held while the model runs.
CHUNK = 8192
EMBED_BATCH = 512  # items per call to a text model; image models say their own (`batch_size`)
DECODE_THREADS = 2


def existing(store: Store, collection: str) -> CollectionInfo | None:
    """The collection's info, or None when there is none of that name yet (a name that cannot be one is an
    error)."""
    check_name(collection)
    try:
        return store.collection(collection)
    except EmbcError:
        return None


def resolve_model(store: Store, collection: str, requested: str | None,
                  first_kind: str | None, weights: str | None = None) -> tuple[str, CollectionInfo | None]:
    """The model to embed with and the collection, if it exists: its own model; another one is an error."""
    info = existing(store, collection)
    if info is not None:
        check_same_model(info, requested, weights)
        return info.model, info
    return requested or DEFAULT_MODEL.get(first_kind or "text", "minilm"), None


def check_same_model(info: CollectionInfo, requested: str | None, weights: str | None) -> None:
    """EmbcError where an ingest asks for another model, or other weights, than the collection was embedded with."""
    if requested and requested != info.model:
        raise EmbcError(f"collection '{info.name}' was embedded with '{info.model}', not '{requested}': "
                        "use the same model, or another collection")
    if weights and weights != info.weights:
        raise EmbcError(f"collection '{info.name}' was embedded with weights {info.weights or 'standard'}, "
                        f"not {weights}: use the same weights, or another collection")


def ingest(store: Store, collection: str, items: Iterable[Item | Skipped], model: str | None = None,
           embedder: Embedder | None = None, on_progress: Callable[[int], None] | None = None,
           weights: str | None = None, model_dir: Path | None = None, dim: int | None = None,
           retrain: bool = False, vectors_dir: Path | None = None,
           load: Callable[..., Embedder] = load_embedder) -> IngestResult:
    """Embed and store every new or changed item; `on_progress(n)` as each n inputs are done. Models trained
    on the collection's own items (word2vec, table models) train on this ingest's items when the collection
    is new, or with `retrain` (which re-embeds every item given), and are kept in the collection's `model_dir`;
    `dim` sets the autoencoder's bottleneck. The vectors stored are also added to the collection's vector
    cache in `vectors_dir` (see `embc.store.vector_cache`), from which a recluster reads them. `load(name, dim=,
    weights=, precision=)` gives the embedder (a Workspace's keeps them loaded)."""
    summary = IngestResult(collection)
    stream = iter(items)
    first = _first_item(stream, summary)
    if first is None:
        return summary
    stream = chain([first], stream)
    name, info = resolve_model(store, collection, model or (embedder.name if embedder else None), first.kind,
                               weights or (embedder.weights if embedder else None))
    if embedder is not None and info is not None and embedder.precision != info.precision:
        raise EmbcError(f"collection '{collection}' was embedded in {info.precision}, not {embedder.precision}: "
                        "its vectors would be a mix of the two")
    if info is None or retrain:
        if info is None and weights is None and model_dir is not None and learns(name):
            # What an ingest left here that stored nothing (killed between its model's training and its first
            # point) is not this collection's model: the model learns from this ingest's items.
            shutil.rmtree(model_dir, ignore_errors=True)
            weights = str(model_dir)
        embedder = embedder or load(
            name, dim=len(first.vector) if first.vector is not None else (info.dim if info else dim),
            weights=info.weights if info else weights,
            precision=info.precision if info else new_precision(name))
        if learns(name):  # a new collection, or a retrain
            entries = list(stream)
            learned = [e for e in entries if isinstance(e, Item) and accepts(embedder.name, e.kind)]
            if not learned:
                raise EmbcError(f"nothing to train {name} on: it learns its vectors from the "
                                f"{'table rows' if family(name) == 'table' else 'texts'} it embeds, and none of the "
                                "inputs is one")
            embedder.fit(learned)
            stream = iter(entries)
            if info is not None and embedder.dim != info.dim:
                raise EmbcError(f"the retrained {name} model makes {embedder.dim}-dimensional vectors, the "
                                f"collection holds {info.dim}: ingest into a new collection")
    target = _Target(store, info or CollectionInfo(collection, embedder.dim, embedder.name, embedder.modality,
                                                   embedder.weights, precision=embedder.precision), info is not None)
    info = target.info
    # Loading a model takes seconds: an ingest with nothing new never does.
    loaded: list[Embedder] = [embedder] if embedder else []

    def get_embedder() -> Embedder:
        if not loaded:
            loaded.append(load(info.model, dim=info.dim, weights=info.weights, precision=info.precision))
        return loaded[0]

    progress = on_progress or (lambda n: None)
    seen: set[str] = set()
    limit = max_text()
    with (VectorCache(vectors_dir, info) if vectors_dir else nullcontext()) as cache:
        for chunk in chunks(stream, CHUNK):
            wanted = []
            for entry in chunk:
                problem = entry if isinstance(entry, Skipped) else _problem(cap_text(entry, limit), info, seen)
                if problem is not None:
                    summary.skipped.append(problem)
                else:
                    wanted.append(entry)
            progress(len(chunk) - len(wanted))
            _store_chunk(target, get_embedder, wanted, summary, progress, retrain, cache)
    if loaded and hasattr(loaded[0], "notes"):
        summary.notes = loaded[0].notes()
    return summary


def _first_item(stream: Iterator[Item | Skipped], summary: IngestResult) -> Item | None:
    for entry in stream:
        if isinstance(entry, Item):
            return entry
        summary.skipped.append(entry)
    return None


def chunks(stream: Iterable, size: int) -> Iterator[list]:
    """The stream's items in lists of `size` (the last one shorter)."""
    stream = iter(stream)
    while chunk := list(islice(stream, size)):
        yield chunk


def _problem(item: Item, info: CollectionInfo, seen: set[str]) -> Skipped | None:
    if not accepts(info.model, item.kind):
        article = "an" if item.kind[0] in "aeiou" else "a"  # an image item
        return Skipped(item.key, f"{article} {item.kind} item cannot go into a collection of {info.modality} items "
                                 f"({info.model})")
    if item.vector is not None and len(item.vector) != info.dim:
        return Skipped(item.key, f"vector has {len(item.vector)} dimensions, the collection {info.dim}")
    # A NUL makes a file binary (a .txt holding one is skipped), so the item's export could not be read back.
    binary = next((name for name in ("key", "text", "label", "source") if "\0" in (getattr(item, name) or "")), None)
    if binary is not None:
        return Skipped(item.key, f"the {'id' if binary == 'key' else binary} holds a NUL character (\\x00): binary "
                                 "data, not text")
    if item.point_id in seen:
        return Skipped(item.key, "duplicate id in this ingest")
    seen.add(item.point_id)
    return None


class _Target:
    """The collection an ingest writes to. A new one is created with the first vectors stored: an ingest that
    stores nothing (every image unreadable) leaves no empty collection, with its model fixed, behind."""

    def __init__(self, store: Store, info: CollectionInfo, exists: bool):
        self.store, self.info, self.exists = store, info, exists

    def hashes(self, ids: list[str]) -> dict[str, str | None]:
        """The stored content hash of each of `ids` that the collection holds."""
        if not self.exists:
            return {}
        found = self.store.retrieve(self.info.name, ids, keys=["content_hash"])
        return {r.id: r.payload.get("content_hash") for r in found}

    def upsert(self, ids: list[str], vectors: np.ndarray, payloads: list[dict]) -> None:
        if not self.exists:
            made = self.store.create_collection(self.info)
            if made.meta() != self.info.meta():  # another client's ingest created it meanwhile, with another model
                raise EmbcError(f"collection '{made.name}' was just created with '{made.model}' ({made.dim} "
                                f"dimensions), not '{self.info.model}': ingest again")
            self.exists = True
        self.store.upsert(self.info.name, ids, vectors, payloads)


def _store_chunk(target: _Target, get_embedder: Callable[[], Embedder], items: list[Item],
                 summary: IngestResult, progress: Callable[[int], None], everything: bool = False,
                 cache: VectorCache | None = None) -> None:
    """Embed and upsert the items whose content changed (`everything`: all of them), and add their vectors to
    the `cache`."""
    if not items:
        return
    info = target.info
    ids = [item.point_id for item in items]
    stored = target.hashes(ids)
    changed = [(pid, item) for pid, item in zip(ids, items) if everything or stored.get(pid) != item.content_hash]
    summary.unchanged += len(items) - len(changed)
    progress(len(items) - len(changed))
    if not changed:
        return
    embedder = get_embedder()
    vectors = np.empty((len(changed), info.dim), np.float32)
    embedded = np.zeros(len(changed), bool)
    # Batches of similar length waste no padding: the same order sentence-transformers uses within one call.
    order = sorted(range(len(changed)), key=lambda i: -len(changed[i][1].text or ""))
    size = getattr(embedder, "batch_size", EMBED_BATCH)
    batches = [order[start:start + size] for start in range(0, len(order), size)]
    for batch, failures in _prepared([item for _, item in changed], batches, getattr(embedder, "prepare", None)):
        summary.skipped += [Skipped(changed[i][1].key, reason) for i, reason in failures]
        if batch:
            vectors[batch] = embedder.embed([changed[i][1] for i in batch])
            for i in batch:
                problem = vector_problem(vectors[i])
                if problem:  # a model can make one from odd input
                    summary.skipped.append(Skipped(changed[i][1].key, f"the model made no usable vector: {problem}"))
                else:
                    embedded[i] = True
        for i in batch:
            changed[i][1].prepared = None
        progress(len(batch) + len(failures))
    kept = [pair for pair, ok in zip(changed, embedded) if ok]
    if not kept:
        return
    now = datetime.now(timezone.utc).isoformat(timespec="milliseconds")  # what a job's watch on a server compares
    vectors = vectors[embedded]
    kept_ids = [pid for pid, _ in kept]
    hashes = [vector_hash(vector) for vector in vectors]
    target.upsert(kept_ids, vectors,
                  [{**item.payload(), INGESTED_KEY: now, HASH_KEY: h} for (_, item), h in zip(kept, hashes)])
    if cache is not None:
        try:
            cache.append(keys(kept_ids, hashes), vectors)
        except OSError:
            pass  # the cache only saves time: a recluster fetches what it lacks from the store
    updated = sum(1 for pid in kept_ids if pid in stored)
    summary.updated += updated
    summary.added += len(kept) - updated


def _prepared(items: list[Item], batches: list[list[int]],
              prepare: Callable[[Item], object] | None) -> Iterator[tuple[list[int], list[tuple[int, str]]]]:
    """Each batch as (ready indices, [(index, reason)] of items that could not be prepared); worker threads
    prepare the next batch (decode and resize images, check table rows) while the model runs on this one."""
    if prepare is None:
        yield from ((batch, []) for batch in batches)
        return
    with ThreadPoolExecutor(DECODE_THREADS) as pool:
        # A task per thread, not per item: a future per item cost 8-20 us, as much as checking a table row.
        def submit(batch: list[int]) -> list:
            step = max(1, -(-len(batch) // DECODE_THREADS))
            return [pool.submit(_prepare_each, items, batch[start:start + step], prepare)
                    for start in range(0, len(batch), step)]

        futures = submit(batches[0]) if batches else []
        for n, batch in enumerate(batches):
            upcoming = submit(batches[n + 1]) if n + 1 < len(batches) else []
            done = [outcome for future in futures for outcome in future.result()]
            yield [i for i, error in done if error is None], [(i, error) for i, error in done if error is not None]
            futures = upcoming


def _prepare_each(items: list[Item], part: list[int],
                  prepare: Callable[[Item], object]) -> list[tuple[int, str | None]]:
    """(i, None) for each item of `part` prepared, (i, why) for each that cannot be embedded."""
    done = []
    for i in part:
        try:
            items[i].prepared = prepare(items[i])
            done.append((i, None))
        except ItemError as exc:
            done.append((i, str(exc)))
    return done
