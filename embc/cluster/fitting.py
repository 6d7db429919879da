"""Fitting a whole collection: in memory when its vectors fit the memory budget, else streamed through
pages (a sample for the estimator, then MiniBatchKMeans passes or sample-fit assignment of every page)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from embc.cluster import memory
from embc.cluster.assign import NOISE, CentroidModel
from embc.cluster.progress import Clock, Progress
from embc.errors import EmbcError
from embc.ingest.items import HASH_KEY
from embc.store.vector_cache import VectorCache, keys
from embc.store.vectors import Match, Page, Store

PAGE = 2048
PAYLOAD_KEYS = ["item", "label", "text", "path", "cluster", "imagenet_class"]
POINT_OVERHEAD = 300  # bytes per paged-out point besides its vector: id, labels, previous cluster
DESCRIBE_SAMPLE = 20_000  # points whose payloads name the clusters (keywords, representatives)
STREAMED_POINT = 150  # bytes per point a streamed fit keeps: id, label, previous cluster
STREAM_SAMPLE = 10_000
EPOCHS = 2  # MiniBatchKMeans passes over the pages after a k-means++ fit on the sample


@dataclass
class Vectors:
    """Points paged out: ids, vectors, each one's previous cluster (-1: none) and ground-truth label, and the
    payloads of `rows`, a sample of them (all when few) that names clusters."""

    ids: list[str]
    X: np.ndarray
    previous: np.ndarray
    truth: list
    rows: np.ndarray
    payloads: list[dict]


@dataclass
class Fit:
    """A fitted collection: every point's id, fitted label, previous cluster and ground truth; the vectors of
    every point, or of a sample when streamed (`x_rows`: their positions among `ids`), None once freed; the
    payloads of the points at `rows`."""

    ids: list[str]
    labels: np.ndarray
    previous: np.ndarray
    truth: list
    X: np.ndarray | None
    x_rows: np.ndarray | None
    rows: np.ndarray
    payloads: list[dict]
    model: CentroidModel
    inertia: float | None
    params: dict
    sweep: list[dict]


@dataclass
class Spill:
    """Points paged out, their vectors still on disk in a vector cache (the collection's, or a scratch one,
    `at` their rows there): `read` them once the store is closed, so that an embedded engine's own memory and
    the matrix are never held together."""

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
        with self.cache:
            X = self.cache.read(self.at)
            if self.complete:
                try:
                    self.cache.compact(self.keys, X, self.at)
                except OSError:  # no room to rewrite it: it stays as it was, larger than it need be
                    pass
        return Vectors(self.ids, X, self.previous, self.truth, self.rows, self.payloads)


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
                previous.append(_previous(page.payloads))
                truth += [p.get("label") for p in page.payloads]
                ids += page.ids
                if progress:
                    progress("page out", len(ids), page.total)
            sample = _join(rows)
            payloads = _payloads(store, collection, [ids[i] for i in sample])
    except BaseException:
        cache.close()
        raise
    return Spill(cache, _join(at), np.concatenate(point_keys) if point_keys else keys([], []), ids,
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


def _payloads(store: Store, collection: str, ids: list[str]) -> list[dict]:
    """The PAYLOAD_KEYS of the points `ids`, in order; empty for a point a server deleted meanwhile."""
    found = {r.id: r.payload for r in store.retrieve(collection, ids, keys=PAYLOAD_KEYS)} if ids else {}
    return [found.get(i, {}) for i in ids]


def _join(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, np.int64)


def fits_in_memory(n: int, dim: int) -> bool:
    """True when n vectors fit the memory budget; False when they must be streamed; refuses a job too big to
    stream."""
    if n * (dim * 4 + POINT_OVERHEAD) <= memory.budget():
        return True
    memory.require(n * STREAMED_POINT, f"streaming {n:,} points", "give the job more memory")
    return False


def _previous(payloads: list[dict]) -> np.ndarray:
    return np.array([NOISE if p.get("cluster") is None else p["cluster"] for p in payloads], np.int64)


def _choose_k(X: np.ndarray, params: dict, seed: int, clock: Clock) -> tuple[dict, list[dict]]:
    """`k: auto` resolved by a sweep on X (see `embc.cluster.sweep`)."""
    if params.get("k") != "auto":
        return params, []
    from embc.cluster.sweep import choose_k, sweep

    clock.begin("sweep")
    rows = sweep(X, seed)
    params = {**params, "k": choose_k(rows), "k_auto": True}
    for row in rows:
        row["chosen"] = row["k"] == params["k"]
    return params, rows


def _enough(n: int, params: dict, collection: str) -> None:
    if n < max(3, params["k"] if isinstance(params.get("k"), int) else 2):
        raise EmbcError(f"collection '{collection}' has {n} points: too few to cluster")


def fit_in_memory(data: Vectors, collection: str, algorithm: str, params: dict, seed: int, clock: Clock) -> Fit:
    """A fit of every paged-out point (`spill` with keep=DESCRIBE_SAMPLE)."""
    from embc.cluster.algorithms import make_estimator

    _enough(len(data.ids), params, collection)
    params, sweep_rows = _choose_k(data.X, params, seed, clock)
    clock.begin("fit")
    estimator = make_estimator(algorithm, params, seed)
    labels = estimator.fit(data.X).labels_.astype(np.int64)
    return Fit(data.ids, labels, data.previous, data.truth, data.X, None, data.rows, data.payloads,
               CentroidModel().fit(data.X, labels), getattr(estimator, "inertia_", None), params, sweep_rows)


def fit_streamed(store: Store, collection: str, algorithm: str, params: dict, seed: int, clock: Clock) -> Fit:
    """A fit that never holds more than a sample and one page of vectors."""
    from embc.cluster.algorithms import make_estimator

    clock.begin("sample")
    info = store.collection(collection)
    size = max(2, min(STREAM_SAMPLE, memory.budget() // (2 * (info.dim * 4 + POINT_OVERHEAD))))
    rng = np.random.default_rng(seed)
    total = 0  # the collection's size, as counted when the page-out began
    picked: list[np.ndarray] = []
    sample_ids: list[str] = []
    with store.session(collection):
        for page in store.pages(collection, page_size=PAGE, keys=[]):
            total = page.total
            keep = np.flatnonzero(rng.random(len(page.ids)) < size / total)
            picked.append(page.vectors[keep])
            sample_ids += [page.ids[i] for i in keep]
        payloads = _payloads(store, collection, sample_ids)
    _enough(total, params, collection)
    Xs = np.vstack(picked)
    _enough(len(Xs), params, collection)
    params, sweep_rows = _choose_k(Xs, params, seed, clock)
    clock.begin("fit")
    estimator = make_estimator(algorithm, params, seed)
    if algorithm == "kmeans":
        from sklearn.cluster import MiniBatchKMeans

        start = estimator.fit(Xs).cluster_centers_
        estimator = MiniBatchKMeans(len(start), init=start, n_init=1, batch_size=PAGE, random_state=seed)
        for epoch in range(EPOCHS):
            for done, page in enumerate(store.pages(collection, page_size=PAGE, keys=[]), 1):
                estimator.partial_fit(page.vectors)
                clock.report(epoch * total + min(done * PAGE, total), EPOCHS * total)
        centre_ids, centres = np.arange(len(start)), estimator.cluster_centers_.astype(np.float32)
    else:
        estimator.fit(Xs)
        centre_ids, centres = estimator.model_.ids_, estimator.model_.centroids_
    return _assign_pages(store, collection, estimator.predict, centre_ids, centres, Xs, sample_ids, payloads,
                         params, sweep_rows, clock)


def _assign_pages(store: Store, collection: str, predict, centre_ids: np.ndarray, centres: np.ndarray,
                  Xs: np.ndarray, sample_ids: list[str], payloads: list[dict], params: dict, sweep_rows: list[dict],
                  clock: Clock) -> Fit:
    """Every point's label from `predict`, a page at a time, with each cluster's extent and the inertia."""
    row_of = {int(c): r for r, c in enumerate(centre_ids)}
    radii = np.zeros(len(centre_ids))
    inertia = 0.0
    ids: list[str] = []
    labels: list[np.ndarray] = []
    previous: list[np.ndarray] = []
    truth: list = []
    clock.begin("assign")
    for page in store.pages(collection, page_size=PAGE, keys=["cluster", "label"]):
        page_labels = np.asarray(predict(page.vectors), np.int64)
        inside = np.flatnonzero(page_labels != NOISE)
        rows = np.array([row_of[int(c)] for c in page_labels[inside]], np.int64)
        d2 = ((page.vectors[inside] - centres[rows]) ** 2).sum(axis=1)
        inertia += float(d2.sum())
        np.maximum.at(radii, rows, np.sqrt(d2))
        ids += page.ids
        labels.append(page_labels)
        previous.append(_previous(page.payloads))
        truth += [p.get("label") for p in page.payloads]
        clock.report(len(ids), page.total)
    position = {point: i for i, point in enumerate(ids)}
    # A sampled point deleted meanwhile has no position: leave it out of the sample.
    kept = [j for j, point in enumerate(sample_ids) if point in position]
    all_labels = np.concatenate(labels)
    present = np.isin(centre_ids, all_labels)
    model = CentroidModel(np.asarray(centre_ids)[present], centres[present], radii[present])
    rows = np.array([position[sample_ids[j]] for j in kept], np.int64)
    return Fit(ids, all_labels, np.concatenate(previous), truth, Xs[kept], rows, rows, [payloads[j] for j in kept],
               model, inertia, params, sweep_rows)
