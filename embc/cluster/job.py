"""The recluster job: page the vectors out, fit, write each point's cluster back, record the run."""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib import metadata
from typing import Callable

import numpy as np

from embc.cluster.algorithms import make_estimator
from embc.errors import EmbcError
from embc.store.reports import ReportStore
from embc.store.vectors import Store

PAGE = 2048
Progress = Callable[[str, int, int], None]  # (step, done, total)


@dataclass
class Vectors:
    """A collection paged out: ids, the vector matrix and the payload fields the job needs."""

    ids: list[str]
    X: np.ndarray
    payloads: list[dict]


def page_out(store: Store, collection: str, keys: list[str], progress: Progress | None = None) -> Vectors:
    """All vectors of a collection in one float32 matrix, filled page by page."""
    info = store.collection(collection)
    X = np.empty((0, info.dim), np.float32)
    ids: list[str] = []
    payloads: list[dict] = []
    overflow = []  # points a server took in while we paged (the embedded store is locked meanwhile)
    filled = 0
    for page in store.pages(collection, page_size=PAGE, keys=keys):
        if not ids:
            X = np.empty((page.total, info.dim), np.float32)
        take = min(len(page.ids), len(X) - filled)
        X[filled:filled + take] = page.vectors[:take]
        filled += take
        if take < len(page.ids):
            overflow.append(page.vectors[take:])
        ids += page.ids
        payloads += page.payloads
        if progress:
            progress("page out", len(ids), page.total)
    X = np.vstack([X[:filled], *overflow]) if overflow else X[:filled]
    return Vectors(ids, X, payloads)


def versions() -> dict[str, str]:
    """Versions of the libraries a run's result depends on."""
    out = {}
    for package in ("embc", "scikit-learn", "numpy", "umap-learn", "qdrant-edge-py", "qdrant-client",
                    "sentence-transformers"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return out


def recluster(store: Store, reports: ReportStore, collection: str, algorithm: str = "kmeans",
              k: int | str | None = 8, seed: int = 0, projection: str | None = "umap",
              progress: Progress | None = None) -> dict:
    """A full fit of the collection; returns the run as recorded (id, timings, metrics). `k="auto"` sweeps
    k on a sample and picks it by the rule in `embc.cluster.sweep.choose_k`; `projection` is the 2-D map's
    method (umap, tsne, pca) or None for no map."""
    from embc.cluster.describe import describe
    from embc.cluster.evaluate import evaluate
    from embc.cluster.project import project_2d
    from embc.cluster.sweep import choose_k, sweep

    info = store.collection(collection)
    auto = k == "auto"
    make_estimator(algorithm, 2 if auto else k, seed)  # bad parameters fail before any work
    params = {"k": k, "projection": projection}
    run_id = reports.start_run(collection, "full", algorithm, params, seed, info.model, versions())
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def step(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 3)
        clock = now
        if progress:
            progress(name, 1, 1)

    try:
        data = page_out(store, collection, ["item", "label", "text", "path", "cluster", "imagenet_class"], progress)
        if len(data.ids) < (3 if auto else k or 2):
            raise EmbcError(f"collection '{collection}' has {len(data.ids)} points: too few for {k} clusters")
        step("page_out")
        sweep_rows: list[dict] = []
        if auto:
            sweep_rows = sweep(data.X, seed)
            params = {**params, "k": choose_k(sweep_rows), "k_auto": True}
            for row in sweep_rows:
                row["chosen"] = row["k"] == params["k"]
            step("sweep")
        estimator = make_estimator(algorithm, params["k"], seed)
        labels = estimator.fit(data.X).labels_.astype(np.int64)
        step("fit")
        store.set_payloads(collection, [
            ([data.ids[i] for i in np.flatnonzero(labels == c)], {"cluster": int(c), "cluster_run": run_id})
            for c in np.unique(labels)])
        step("write_labels")
        evaluation = evaluate(data.X, labels, [p.get("label") for p in data.payloads],
                              getattr(estimator, "inertia_", None), seed, [p.get("cluster") for p in data.payloads])
        step("evaluate")
        clusters = describe(data.X, labels, data.ids, data.payloads)
        per_cluster = evaluation.per_cluster(labels)
        for c in clusters:
            c["silhouette"] = per_cluster.get(c["id"])
        step("describe")
        coords = None
        if projection:
            xy = project_2d(data.X, labels, seed, projection)
            coords = {"point_id": data.ids, "cluster": labels, "x": xy[:, 0], "y": xy[:, 1]}
        step("project")
    except BaseException as exc:
        reports.fail_run(run_id, str(exc) or type(exc).__name__)
        raise
    timings["total"] = round(sum(timings.values()), 3)
    sample = evaluation.sample
    silhouettes = {"point_id": [data.ids[i] for i in sample], "cluster": labels[sample],
                   "value": evaluation.silhouettes}
    reports.finish_run(run_id, len(data.ids), evaluation.metrics, clusters, coords, silhouettes, timings, params,
                       sweep_rows)
    return {"run_id": run_id, "collection": collection, "params": params, "points": len(data.ids), "clusters": clusters,
            "metrics": evaluation.metrics, "timings": timings}
