"""The k-means fit alone (issue 19): on the recluster bench's vectors (k = 50, one start), the bare scikit-learn
`KMeans.fit`, embc's SampledKMeans (starts fitted on a sample, the best refined on every point), and faiss'
k-means seeded by k-means++ on a 10,000-point sample, the fastest peer measured. One start lands in a different
local minimum for each seed, so each engine runs the same seeds and the inertia is compared seed by seed. Part of
`make bench`, which installs faiss-cpu for the bench only."""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable

import numpy as np
from run import make_vectors
from sklearn.cluster import KMeans

from embc.cluster.kmeans import SampledKMeans, kmeans_plusplus


def _faiss(X: np.ndarray, k: int, seed: int) -> np.ndarray:
    """faiss' centres after 25 iterations on every point, seeded by k-means++ on 10,000 points."""
    import faiss

    rs = np.random.RandomState(seed)
    S = X[np.sort(rs.choice(len(X), min(10_000, len(X)), replace=False))]
    km = faiss.Kmeans(X.shape[1], k, niter=25, seed=seed, max_points_per_centroid=len(X))
    km.train(X, init_centroids=kmeans_plusplus(S, k, rs, (S * S).sum(1)))
    return km.centroids


def _inertia(X: np.ndarray, centres: np.ndarray, chunk: int = 65536) -> float:
    """The sum of squared distances from each point to its nearest centre, in float64."""
    total = 0.0
    for first in range(0, len(X), chunk):
        block = X[first:first + chunk]
        d = (block * block).sum(1)[:, None] - 2 * block @ centres.T + (centres * centres).sum(1)
        total += float(np.maximum(d.min(1), 0).sum(dtype=np.float64))
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--seeds", type=int, default=3, help="seeds at 100k; one at larger sizes")
    args = parser.parse_args()
    k = args.k
    engines: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
        "scikit-learn KMeans (bare)": lambda X, s: KMeans(k, n_init=1, random_state=s).fit(X).cluster_centers_,
        "embc SampledKMeans": lambda X, s: SampledKMeans(k, n_init=1, random_state=s).fit(X).cluster_centers_,
        "faiss, k-means++ on 10,000 points": lambda X, s: _faiss(X, k, s),
    }
    for n in args.sizes:
        X = make_vectors(n)
        seeds = range(args.seeds if n <= 100_000 else 1)
        times: dict[str, list[float]] = {name: [] for name in engines}
        inertias: dict[str, list[float]] = {name: [] for name in engines}
        for seed in seeds:  # the engines alternate, so a busy spell slows each of them alike
            for name, fit in engines.items():
                started = time.perf_counter()
                centres = fit(X, seed)
                times[name].append(time.perf_counter() - started)
                inertias[name].append(_inertia(X, centres))
        base = "scikit-learn KMeans (bare)"
        print(f"\nk-means of {n:,} x {X.shape[1]}, k = {k}, one start, seeds {list(seeds)}:\n")
        print("| engine | median time | vs scikit-learn | inertia vs scikit-learn, by seed |")
        print("| --- | ---: | ---: | --- |")
        for name in engines:
            took = statistics.median(times[name])
            versus = ", ".join(f"{a / b - 1:+.2%}" for a, b in zip(inertias[name], inertias[base]))
            print(f"| {name} | {took:.1f} s | {took / statistics.median(times[base]):.2f}x | {versus} |", flush=True)


if __name__ == "__main__":
    main()
