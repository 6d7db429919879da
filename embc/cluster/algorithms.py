"""The clustering algorithms, as scikit-learn estimators (`fit`, `predict`, `labels_`).

K-Means fits every point. DBSCAN, HDBSCAN and agglomerative clustering need memory or time that grows
faster than n, so they fit a sample of at most `sample_cap` points and assign the rest to the nearest
cluster. The density algorithms run on a UMAP (or PCA) reduction: in 384 dimensions distances concentrate
and DBSCAN or HDBSCAN call most points noise.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from embc.cluster import memory
from embc.cluster.assign import CentroidModel
from embc.cluster.params import SAMPLE_CAP
from embc.cluster.reduce import reduce

REDUCED_DIMS = 10


class SampledClustering(ClusterMixin, BaseEstimator):
    """Fits `_fit_sample` on at most `sample_cap` points; the rest go to the nearest cluster, or to noise
    outside every cluster's extent (`CentroidModel`)."""

    sample_cap: int
    random_state: int

    def fit(self, X: np.ndarray, y=None) -> "SampledClustering":
        n = len(X)
        rng = np.random.default_rng(self.random_state)
        sample = np.sort(rng.choice(n, size=self.sample_cap, replace=False)) if n > self.sample_cap else None
        Xs = X if sample is None else X[sample]
        self.check_memory(n)
        sample_labels = np.asarray(self._fit_sample(Xs), np.int64)
        self.model_ = CentroidModel().fit(Xs, sample_labels)
        if sample is None:
            self.labels_ = sample_labels
        else:
            self.labels_ = self.model_.predict(X)
            self.labels_[sample] = sample_labels
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)

    def check_memory(self, n: int) -> None:
        """Refuse, before any work, a fit of `n` points that would not fit the memory budget."""
        m = min(n, self.sample_cap)
        memory.require(self._bytes_needed(m), f"{type(self).__name__} on {m:,} points",
                       "lower --sample-cap, or use --algorithm kmeans")

    def _fit_sample(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _bytes_needed(self, m: int) -> float:
        # Pairwise distances, condensed: what hierarchical linkage holds, and DBSCAN's neighbourhoods at worst.
        return 4.0 * m * m


class Agglomerative(SampledClustering):
    def __init__(self, n_clusters: int = 8, linkage: str = "ward", sample_cap: int = SAMPLE_CAP,
                 random_state: int = 0):
        self.n_clusters = n_clusters
        self.linkage = linkage
        self.sample_cap = sample_cap
        self.random_state = random_state

    def _fit_sample(self, X: np.ndarray) -> np.ndarray:
        from sklearn.cluster import AgglomerativeClustering

        return AgglomerativeClustering(self.n_clusters, linkage=self.linkage).fit(X).labels_


class DBSCAN(SampledClustering):
    """DBSCAN on a reduction; without `eps`, eps is the knee of the sorted k-distance curve."""

    def __init__(self, eps: float | None = None, min_samples: int = 10, reduce: str = "umap",
                 sample_cap: int = SAMPLE_CAP, random_state: int = 0):
        self.eps = eps
        self.min_samples = min_samples
        self.reduce = reduce
        self.sample_cap = sample_cap
        self.random_state = random_state

    def _fit_sample(self, X: np.ndarray) -> np.ndarray:
        from sklearn.cluster import DBSCAN as SkDBSCAN

        Z = reduce(X, self.reduce, REDUCED_DIMS, self.random_state)
        self.eps_ = self.eps or k_distance_eps(Z, self.min_samples)
        return SkDBSCAN(eps=self.eps_, min_samples=self.min_samples).fit(Z).labels_


class HDBSCAN(SampledClustering):
    def __init__(self, min_cluster_size: int = 20, reduce: str = "umap", sample_cap: int = SAMPLE_CAP,
                 random_state: int = 0):
        self.min_cluster_size = min_cluster_size
        self.reduce = reduce
        self.sample_cap = sample_cap
        self.random_state = random_state

    def _fit_sample(self, X: np.ndarray) -> np.ndarray:
        from sklearn.cluster import HDBSCAN as SkHDBSCAN

        Z = reduce(X, self.reduce, REDUCED_DIMS, self.random_state)
        return SkHDBSCAN(min_cluster_size=self.min_cluster_size, copy=False).fit(Z).labels_

    def _bytes_needed(self, m: int) -> float:
        return 8.0 * m * (REDUCED_DIMS + 2 * self.min_cluster_size)  # tree-based neighbours, no n x n matrix


def k_distance_eps(Z: np.ndarray, min_samples: int) -> float:
    """The knee of the k-distance curve: each point's distance to its `min_samples`-th neighbour, sorted
    from the largest down. Left of the knee lie the sparse points DBSCAN should call noise."""
    from sklearn.neighbors import NearestNeighbors

    from embc.cluster.sweep import knee

    k = min(min_samples, len(Z) - 1)
    distances = NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z)[0][:, -1]
    ordered = np.sort(distances)[::-1]
    return float(ordered[knee(list(range(len(ordered))), list(ordered))]) or 1e-6


def make_estimator(algorithm: str, params: dict, seed: int):
    """A configured, unfitted estimator for `algorithm` with `params` (as from `params.resolve`)."""
    if algorithm == "kmeans":
        from embc.cluster.kmeans import LeanKMeans  # sklearn.cluster takes a second to import

        # copy_x=False: the job owns its matrix, so KMeans may centre it in place instead of copying it.
        return LeanKMeans(n_clusters=2 if params["k"] == "auto" else params["k"], n_init=params["n_init"],
                          random_state=seed, copy_x=False)
    if algorithm == "agglomerative":
        return Agglomerative(params["k"], params["linkage"], params["sample_cap"], seed)
    if algorithm == "dbscan":
        return DBSCAN(params["eps"], params["min_size"], params["reduce"], params["sample_cap"], seed)
    return HDBSCAN(params["min_size"], params["reduce"], params["sample_cap"], seed)
