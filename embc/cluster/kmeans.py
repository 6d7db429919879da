"""scikit-learn's KMeans, made lean: no temporary copy of the vectors, and k-means++ seeding in float32."""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans


class LeanKMeans(KMeans):
    """KMeans with the same results as scikit-learn's on float32 vectors, in less time and memory."""

    def _check_params_vs_input(self, X, *args, **kwargs):
        # scikit-learn's tolerance takes np.var(X, axis=0), which allocates X - mean: as much memory again as
        # the vectors. tol 0 makes it skip that; the same tolerance is then computed a block at a time.
        tol, self.tol = self.tol, 0.0
        try:
            super()._check_params_vs_input(X, *args, **kwargs)
        finally:
            self.tol = tol
        self._tol = _mean_variance(X) * tol

    def _init_centroids(self, X, x_squared_norms, init, random_state, sample_weight, init_size=None,
                        n_centroids=None):
        if isinstance(init, str) and init == "k-means++" and init_size is None and isinstance(X, np.ndarray):
            return kmeans_plusplus(X, n_centroids or self.n_clusters, random_state, x_squared_norms,
                                   sample_weight)
        return super()._init_centroids(X, x_squared_norms, init, random_state, sample_weight, init_size,
                                       n_centroids)


def kmeans_plusplus(X: np.ndarray, k: int, random_state: np.random.RandomState, x_squared_norms: np.ndarray,
                    sample_weight: np.ndarray) -> np.ndarray:
    """Greedy k-means++ centres: scikit-learn's algorithm and random draws, so the same centres (but for a
    float32 rounding tie), with distances from float32 matrix products. scikit-learn computes each block of
    them in float64 from an upcast copy: three quarters of a one-start KMeans fit on 100k x 384 vectors."""
    n = len(X)
    trials = 2 + int(np.log(k))
    centres = np.empty((k, X.shape[1]), X.dtype)
    first = random_state.choice(n, p=sample_weight / sample_weight.sum())
    centres[0] = X[first]
    closest = _squared_distances([first], X, x_squared_norms)[0]
    potential = closest @ sample_weight
    for c in range(1, k):
        candidates = np.searchsorted(np.cumsum(sample_weight * closest),
                                     random_state.uniform(size=trials) * potential)
        np.clip(candidates, None, n - 1, out=candidates)
        distances = np.minimum(closest, _squared_distances(candidates, X, x_squared_norms))
        potentials = distances @ sample_weight
        best = np.argmin(potentials)
        potential, closest = potentials[best], distances[best]
        centres[c] = X[candidates[best]]
    return centres


def _squared_distances(rows: np.ndarray | list[int], X: np.ndarray, x_squared_norms: np.ndarray) -> np.ndarray:
    """Squared distances from the points at `rows` to every point."""
    d = X[rows] @ X.T
    d *= -2
    d += x_squared_norms
    d += x_squared_norms[rows][:, None]
    return np.maximum(d, 0, out=d)


def _mean_variance(X: np.ndarray, chunk: int = 4096) -> float:
    """Mean over columns of each column's variance, a block of rows at a time, in float64."""
    total = np.zeros(X.shape[1])
    squares = np.zeros(X.shape[1])
    for start in range(0, len(X), chunk):
        block = X[start:start + chunk].astype(np.float64)
        total += block.sum(axis=0)
        squares += (block * block).sum(axis=0)
    mean = total / len(X)
    return float(np.mean(squares / len(X) - mean * mean))
