"""Faster k-means engines against scikit-learn (issue 19): on the recluster bench's vectors (100,000 x 384,
k = 50), one start each, the time of the bare `KMeans.fit`, embc's LeanKMeans, and faiss' k-means seeded by
k-means++ (on every point, or on a 10,000-point sample) or from its own random start, with each one's inertia
against scikit-learn's. Part of `make bench`, which installs faiss-cpu for the bench only."""

from __future__ import annotations

import argparse
import time
from typing import Callable

import numpy as np
from run import make_vectors
from sklearn.cluster import KMeans

from embc.cluster.kmeans import LeanKMeans, kmeans_plusplus


def _faiss(X: np.ndarray, k: int, seeding: int | None, redo: int = 1) -> np.ndarray:
    """faiss' centres after 25 iterations: seeded by k-means++ on `seeding` points, or (None) at random."""
    import faiss

    km = faiss.Kmeans(X.shape[1], k, niter=25, seed=0, nredo=redo, max_points_per_centroid=len(X))
    if seeding is None:
        km.train(X)
        return km.centroids
    rs = np.random.RandomState(0)
    S = X[np.sort(rs.choice(len(X), seeding, replace=False))] if seeding < len(X) else X
    km.train(X, init_centroids=kmeans_plusplus(S, k, rs, (S * S).sum(1), np.ones(len(S), np.float32)))
    return km.centroids


def _inertia(X: np.ndarray, centres: np.ndarray) -> float:
    import faiss

    index = faiss.IndexFlatL2(X.shape[1])
    index.add(np.ascontiguousarray(centres, np.float32))
    return float(index.search(X, 1)[0].sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=50)
    args = parser.parse_args()
    X = make_vectors(args.n)
    k = args.k
    engines: dict[str, Callable[[], np.ndarray]] = {
        "scikit-learn KMeans (bare)": lambda: KMeans(k, n_init=1, random_state=0).fit(X).cluster_centers_,
        "embc LeanKMeans": lambda: LeanKMeans(k, n_init=1, random_state=0).fit(X).cluster_centers_,
        "faiss, k-means++ on every point": lambda: _faiss(X, k, len(X)),
        "faiss, k-means++ on 10,000 points": lambda: _faiss(X, k, 10_000),
        "faiss, random start": lambda: _faiss(X, k, None),
        "faiss, best of 4 random starts": lambda: _faiss(X, k, None, redo=4),
    }
    print(f"k-means of {args.n:,} x {X.shape[1]}, k = {k}, one start:\n")
    print("| engine | time | vs scikit-learn | inertia vs scikit-learn |")
    print("| --- | ---: | ---: | ---: |")
    base_time = base_inertia = None
    for name, fit in engines.items():
        started = time.perf_counter()
        centres = fit()
        took = time.perf_counter() - started
        inertia = _inertia(X, centres)
        base_time, base_inertia = base_time or took, base_inertia or inertia
        print(f"| {name} | {took:.1f} s | {took / base_time:.2f}x | {inertia / base_inertia - 1:+.2%} |", flush=True)


if __name__ == "__main__":
    main()
