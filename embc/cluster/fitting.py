"""Fitting a whole collection: in memory when its vectors fit the memory budget (paged out by
`embc.store.page_out`), else streamed through pages (a sample for the estimator, then MiniBatchKMeans passes
or sample-fit assignment of every page)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from embc.cluster import memory
from embc.cluster.assign import NOISE, CentroidModel
from embc.cluster.progress import Clock
from embc.cluster.params import check_size, k_range
from embc.store.page_out import PAGE, Vectors, payloads_of, previous_clusters
from embc.store.vector_cache import HASH_KEY, keys
from embc.store.vectors import Store

POINT_OVERHEAD = 300  # bytes per paged-out point besides its vector: id, labels, previous cluster
DESCRIBE_SAMPLE = 20_000  # points whose payloads name the clusters (keywords, representatives)
STREAMED_POINT = 182  # bytes per point a streamed fit keeps: id, its vector's key, label, previous cluster
STREAM_SAMPLE = 10_000
EPOCHS = 2  # MiniBatchKMeans passes over the pages after a k-means++ fit on the sample


@dataclass
class Fit:
    """A fitted collection: every point's id, fitted label, previous cluster and ground truth; the vectors of
    every point, or of a sample when streamed (`x_rows`: their positions among `ids`), None once freed; the
    payloads of the points at `rows`; which vector each point had when it was read (`keys`, see
    `embc.store.page_out.changed`)."""

    ids: list[str]
    keys: np.ndarray
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


def fits_in_memory(n: int, dim: int) -> bool:
    """True when n vectors fit the memory budget; False when they must be streamed; refuses a job too big to
    stream."""
    if n * (dim * 4 + POINT_OVERHEAD) <= memory.budget():
        return True
    memory.require(n * STREAMED_POINT, f"streaming {n:,} points", "give the job more memory")
    return False


def _choose_k(X: np.ndarray, params: dict, seed: int, clock: Clock) -> tuple[dict, list[dict]]:
    """`k: auto` (or a range, "LO-HI") resolved by a sweep on X (see `embc.cluster.sweep`)."""
    span = k_range(params.get("k"))
    if span is None:
        return params, []
    from embc.cluster.sweep import choose_k, sweep

    clock.begin("sweep")
    rows = sweep(X, seed, span, report=clock.report)
    params = {**params, "k": choose_k(rows), "k_auto": params["k"]}  # what was asked: the next run asks it again
    for row in rows:
        row["chosen"] = row["k"] == params["k"]
    return params, rows


def _with_chosen(params: dict, estimator) -> dict:
    """The run's parameters with those the estimator chose from the data (as `eps_chosen`): recorded with the
    run, and left out of the next run's, which chooses again."""
    return {**params, **getattr(estimator, "chosen_", {})}


def fit_in_memory(data: Vectors, collection: str, algorithm: str, params: dict, seed: int, clock: Clock) -> Fit:
    """A fit of every paged-out point (`spill` with keep=DESCRIBE_SAMPLE)."""
    from embc.cluster.algorithms import make_estimator

    check_size(params, len(data.ids), collection)
    params, sweep_rows = _choose_k(data.X, params, seed, clock)
    clock.begin("fit")
    estimator = make_estimator(algorithm, params, seed)
    labels = estimator.fit(data.X).labels_.astype(np.int64)
    return Fit(data.ids, data.keys, labels, data.previous, data.truth, data.X, None, data.rows, data.payloads,
               CentroidModel().fit(data.X, labels), getattr(estimator, "inertia_", None),
               _with_chosen(params, estimator), sweep_rows)


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
        payloads = payloads_of(store, collection, sample_ids)
    check_size(params, total, collection)
    Xs = np.vstack(picked)
    check_size(params, len(Xs), collection)
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
        params = _with_chosen(params, estimator)
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
    point_keys: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    previous: list[np.ndarray] = []
    truth: list = []
    clock.begin("assign")
    for page in store.pages(collection, page_size=PAGE, keys=["cluster", "label", HASH_KEY]):
        page_labels = np.asarray(predict(page.vectors), np.int64)
        inside = np.flatnonzero(page_labels != NOISE)
        rows = np.array([row_of[int(c)] for c in page_labels[inside]], np.int64)
        d2 = ((page.vectors[inside] - centres[rows]) ** 2).sum(axis=1)
        inertia += float(d2.sum())
        np.maximum.at(radii, rows, np.sqrt(d2))
        ids += page.ids
        point_keys.append(keys(page.ids, [p.get(HASH_KEY) for p in page.payloads]))
        labels.append(page_labels)
        previous.append(previous_clusters(page.payloads))
        truth += [p.get("label") for p in page.payloads]
        clock.report(len(ids), page.total)
    position = {point: i for i, point in enumerate(ids)}
    # A sampled point deleted meanwhile has no position: leave it out of the sample.
    kept = [j for j, point in enumerate(sample_ids) if point in position]
    all_labels = np.concatenate(labels)
    present = np.isin(centre_ids, all_labels)
    model = CentroidModel(np.asarray(centre_ids)[present], centres[present], radii[present])
    rows = np.array([position[sample_ids[j]] for j in kept], np.int64)
    return Fit(ids, np.concatenate(point_keys), all_labels, np.concatenate(previous), truth, Xs[kept], rows, rows,
               [payloads[j] for j in kept], model, inertia, params, sweep_rows)
