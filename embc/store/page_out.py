"""Paging a collection's vectors out of the store: each point's vector is read from the collection's vector
cache while the point's payload carries the same vector hash, and fetched from the store (then appended to
the cache) otherwise. The vectors are spilled to the cache's file while the store is open, and read into one
matrix once it is closed, so that an embedded engine's own memory and the matrix are never held together."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from embc.errors import EmbcError
from embc.store.vector_cache import HASH_KEY, VectorCache, keys
from embc.store.vectors import Match, Page, Store

PAGE = 2048
PAYLOAD_KEYS = ["item", "label", "text", "path", "cluster", "imagenet_class", "values"]
UNCLUSTERED = -1  # as a previous cluster: the point was never clustered (or was noise)
Progress = Callable[[str, int, int], None]  # (step, done, total)


@dataclass
class Vectors:
    """Points paged out: ids, vectors, each one's previous cluster (-1: none) and ground-truth label, and the
    payloads of `rows`, a sample of them (all when few) that names clusters. `keys` say which vector each point
    had when it was read (see `changed`)."""

    ids: list[str]
    keys: np.ndarray
    X: np.ndarray
    previous: np.ndarray
    truth: list
    rows: np.ndarray
    payloads: list[dict]
    repaired: int = 0  # vectors whose cache record was damaged, read from the store instead
    skipped: int = 0  # points whose stored vector is not finite, or all zeros: left out


@dataclass
class Spill:
    """Points paged out, their vectors still on disk in a vector cache (the collection's, or a scratch one,
    `at` their rows there): `read` them once the store is closed, so that an embedded engine's own memory and
    the matrix are never held together."""

    store: Store
    collection: str
    cache: VectorCache
    at: np.ndarray
    keys: np.ndarray
    ids: list[str]
    previous: np.ndarray
    truth: list
    rows: np.ndarray
    payloads: list[dict]
    complete: bool  # every point of the collection: the cache may drop the records of any other

    def read(self) -> Vectors:
        """The matrix, with any vector whose cache record is damaged read from the store again, and without
        the points whose vector is not finite or is all zeros (another client may have written one)."""
        with self.cache:
            X, bad = self.cache.read(self.at)
            if bad.any():
                wanted = [self.ids[i] for i in np.flatnonzero(bad)]
                stored = {r.id: r.vector for r in self.store.retrieve(self.collection, wanted, with_vectors=True,
                                                                      keys=[])}
                for i in np.flatnonzero(bad):  # a point deleted meanwhile gets NaN, and is left out below
                    X[i] = stored.get(self.ids[i], np.nan)
            if self.complete:
                try:
                    self.cache.compact(self.keys, X, self.at, force=bool(bad.any()))
                except OSError:  # no room to rewrite it: it stays as it was, larger than it need be
                    pass
        usable = _usable(X)
        if usable.all():
            return Vectors(self.ids, self.keys, X, self.previous, self.truth, self.rows, self.payloads,
                           int(bad.sum()))
        kept = np.flatnonzero(usable)
        sampled = usable[self.rows]
        position = np.cumsum(usable) - 1
        return Vectors([self.ids[i] for i in kept], self.keys[kept], X[kept], self.previous[kept],
                       [self.truth[i] for i in kept], position[self.rows[sampled]],
                       [p for p, ok in zip(self.payloads, sampled) if ok], int(bad.sum()), int(len(X) - len(kept)))


def spill(store: Store, collection: str, cache: VectorCache, progress: Progress | None = None,
          match: Match | None = None, keep: int = 0, seed: int = 0) -> Spill:
    """The matching points of a collection, their vectors in `cache` (found there by id and vector hash, or
    fetched from the store and appended), with the payloads (PAYLOAD_KEYS) of a random sample of about `keep`
    points: a million payload dicts cost more memory than the names they give."""
    rng = np.random.default_rng(seed)
    ids: list[str] = []
    previous: list[np.ndarray] = []
    truth: list = []
    rows: list[np.ndarray] = []
    at: list[np.ndarray] = []
    point_keys: list[np.ndarray] = []
    try:
        with store.session(collection):
            cached = len(_load(cache)) > 0
            for page in store.pages(collection, page_size=PAGE, with_vectors=not cached, match=match,
                                    keys=["cluster", "label", HASH_KEY]):
                page, page_keys, page_at = _cache_rows(store, collection, cache, page)
                at.append(page_at)
                point_keys.append(page_keys)
                rows.append(len(ids) + (np.arange(len(page.ids)) if page.total <= keep
                                        else np.flatnonzero(rng.random(len(page.ids)) < keep / page.total)))
                previous.append(previous_clusters(page.payloads))
                truth += [p.get("label") for p in page.payloads]
                ids += page.ids
                if progress:
                    progress("page out", len(ids), page.total)
            sample = _join(rows)
            payloads = payloads_of(store, collection, [ids[i] for i in sample])
    except BaseException:
        cache.close()
        raise
    return Spill(store, collection, cache, _join(at), np.concatenate(point_keys) if point_keys else keys([], []), ids,
                 _join(previous), truth, sample, payloads, complete=match is None)


def _cache_rows(store: Store, collection: str, cache: VectorCache, page: Page) -> tuple[Page, np.ndarray, np.ndarray]:
    """The page (less any point a server deleted meanwhile), its points' cache keys, and their rows in the
    cache: found there, or fetched from the store (unless the page has them) and appended."""
    page_keys = keys(page.ids, [p.get(HASH_KEY) for p in page.payloads])
    at = cache.find(page_keys)
    missing = np.flatnonzero(at < 0)
    if not len(missing):
        return page, page_keys, at
    if page.vectors is not None:
        vectors = page.vectors[missing]
    else:
        fetched = {r.id: r.vector for r in store.retrieve(collection, [page.ids[i] for i in missing],
                                                          with_vectors=True, keys=[])}
        kept = np.array([at[i] >= 0 or page.ids[i] in fetched for i in range(len(page.ids))], bool)
        if not kept.all():
            page = Page([page.ids[i] for i in np.flatnonzero(kept)], None,
                        [page.payloads[i] for i in np.flatnonzero(kept)], page.total)
            page_keys, at = page_keys[kept], at[kept]
            missing = np.flatnonzero(at < 0)
        vectors = np.array([fetched[page.ids[i]] for i in missing], np.float32).reshape(len(missing), -1)
    at[missing] = _append(cache, page_keys[missing], vectors)
    return page, page_keys, at


def changed(store: Store, collection: str, ids: list[str], read: np.ndarray, upserted: set[str]) -> list[str]:
    """Of the points `ids`, read with the cache keys `read`, those upserted since (`upserted`) whose vector is not
    the one read: a run's labels for them are of a vector they no longer have. A point upserted again with the
    same vector, or before its vector was read, keeps its label."""
    # After most jobs nothing was upserted: then no pass over every id (a million at 1M points).
    where = [i for i, point in enumerate(ids) if point in upserted] if upserted else []
    if not where:
        return []
    wanted = [ids[i] for i in where]
    now = {r.id: r.payload.get(HASH_KEY) for r in store.retrieve(collection, wanted, keys=[HASH_KEY])}
    current = keys(wanted, [now.get(point) for point in wanted])  # a deleted point's key is empty: no match
    same = (current == read[where]) & (current != b"")
    return [point for point, kept in zip(wanted, same) if not kept]


def page_out(store: Store, collection: str, scratch: Path, progress: Progress | None = None,
             match: Match | None = None) -> Vectors:
    """The matching vectors of a collection in one float32 matrix, spilled to a scratch file in `scratch`
    (see `spill`)."""
    return spill(store, collection, VectorCache.scratch(scratch, store.collection(collection)), progress,
                 match).read()


def _load(cache: VectorCache) -> VectorCache:
    try:
        return cache.load()
    except OSError as exc:
        raise _no_room(cache, exc) from exc


def _append(cache: VectorCache, point_keys: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Append a page's vectors to the cache; a failed write (a full disk) is one clear error."""
    try:
        return cache.append(point_keys, vectors)
    except OSError as exc:
        raise _no_room(cache, exc) from exc


def _no_room(cache: VectorCache, exc: OSError) -> EmbcError:
    return EmbcError(f"cannot page the vectors out: writing them to {cache.folder} failed ({exc}); a recluster "
                     "needs as much free disk there as the collection's vectors take")


def payloads_of(store: Store, collection: str, ids: list[str]) -> list[dict]:
    """The PAYLOAD_KEYS of the points `ids`, in order; empty for a point a server deleted meanwhile."""
    found = {r.id: r.payload for r in store.retrieve(collection, ids, keys=PAYLOAD_KEYS)}
    return [found.get(i, {}) for i in ids]


def _usable(X: np.ndarray, per: int = 16384) -> np.ndarray:
    """Which rows are finite and not all zeros. Stored vectors are of unit length (the collections' distance is
    the cosine), so those are the rows whose squared norm is finite and not 0: computed a block at a time,
    0.17 s at 1M x 384 against 0.5-1.2 s for isfinite and any over the whole matrix."""
    out = np.empty(len(X), bool)
    for start in range(0, len(X), per):
        block = X[start:start + per]
        squared = np.einsum("ij,ij->i", block, block)
        out[start:start + per] = np.isfinite(squared) & (squared > 0)
    return out


def _join(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


def previous_clusters(payloads: list[dict]) -> np.ndarray:
    """Each point's cluster as stored, -1 for a point no run has clustered."""
    return np.array([UNCLUSTERED if p.get("cluster") is None else p["cluster"] for p in payloads], np.int64)
