"""k-means in numpy: every start is seeded (k-means++) on a small sample and fitted on a larger one, and the
best start is refined on every point. Up to SEED_SAMPLE points the starts are scikit-learn's for the same seed,
and so are the clusters (tests/test_kmeans.py).

scikit-learn's KMeans runs each start on every point until the centres stop moving. On 1,000,000 x 384
vectors (k = 50) that took 53 full passes; from a start fitted on a 100,000-point sample, the inertia on every
point settles within 0.001% in five, after which the centres creep for fifty more. The sample's starts cost a
tenth of a pass each, so several of them cost less than one start of scikit-learn's (docs/performance.md).
Each pass scores a chunk of points at a time against every centre: one matrix product, and no n x k matrix.
It was written in torch, whose passes were faster (docs/performance.md), but whose import cost a recluster
1-2 s and 450 MB."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_is_fitted

SAMPLE = 100_000  # points each start is fitted on
SEED_SAMPLE = 20_000  # of them, points k-means++ picks the start from: it reads them all k log k times
CHUNK = 32_768  # points scored at a time: a CHUNK x k block of scores


class SampledKMeans(ClusterMixin, BaseEstimator):
    """k-means with k-means++ starts (seeded on SEED_SAMPLE points) fitted on a sample of `sample_size` points,
    the start of least inertia refined on every point. Lloyd iterations stop when an iteration lowers the
    inertia by less than `tol` of it, or after `max_iter`."""

    _parameter_constraints: dict = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "n_init": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "sample_size": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, n_clusters: int = 8, *, n_init: int = 4, max_iter: int = 300, tol: float = 1e-5,
                 sample_size: int = SAMPLE, random_state=None):
        self.n_clusters = n_clusters
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.sample_size = sample_size
        self.random_state = random_state

    def fit(self, X: np.ndarray, y=None) -> SampledKMeans:
        self._validate_params()
        X = np.ascontiguousarray(X, dtype=np.float32)
        if len(X) < self.n_clusters:
            raise ValueError(f"n_samples={len(X)} should be >= n_clusters={self.n_clusters}.")
        rs = check_random_state(self.random_state)
        # Up to SEED_SAMPLE points nothing is drawn but the starts: scikit-learn's starts, for the same seed.
        sample = _subset(X, self.sample_size, rs)
        sample_norms = _squared_norms(sample)
        seeding = _subset(sample, max(SEED_SAMPLE, self.n_clusters), rs)
        seeding_norms = sample_norms if seeding is sample else _squared_norms(seeding)
        best, self.n_iter_ = None, 0
        for _ in range(self.n_init):
            start = kmeans_plusplus(seeding, self.n_clusters, rs, seeding_norms)
            centres, inertia, iterations = _lloyd(sample, sample_norms, start, self.max_iter, self.tol)
            self.n_iter_ += iterations
            if best is None or inertia < best[1]:
                best = centres, inertia
        centres = best[0]
        norms = sample_norms if sample is X else _squared_norms(X)
        if sample is not X:
            centres, _, iterations = _lloyd(X, norms, centres, self.max_iter, self.tol)
            self.n_iter_ += iterations
        labels, distances = _nearest(X, norms, centres)
        self.cluster_centers_ = centres
        self.labels_ = labels
        self.inertia_ = float(distances.sum(dtype=np.float64))
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The nearest centre of each row of X."""
        check_is_fitted(self)
        X = np.ascontiguousarray(X, dtype=np.float32)
        return _nearest(X, _squared_norms(X), self.cluster_centers_)[0]


def _lloyd(X: np.ndarray, norms: np.ndarray, centres: np.ndarray, max_iter: int,
           tol: float) -> tuple[np.ndarray, float, int]:
    """Lloyd iterations from `centres`: the centres after the last, the inertia before it, the iterations."""
    centres = np.ascontiguousarray(centres, dtype=np.float32)
    previous = np.inf
    for iteration in range(1, max_iter + 1):
        labels, distances = _nearest(X, norms, centres)
        inertia = float(distances.sum(dtype=np.float64))
        centres = _means(X, labels, distances, centres)
        if previous - inertia <= tol * inertia:
            break
        previous = inertia
    return centres, inertia, iteration


def _nearest(X: np.ndarray, norms: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each point's nearest centre and squared distance to it, a CHUNK of points at a time."""
    # The nearest centre c maximises x.c - |c|^2 / 2: one matrix product a chunk, and no n x k matrix.
    half_norms = 0.5 * np.einsum("ij,ij->i", centres, centres)
    labels = np.empty(len(X), np.int64)
    scores = np.empty(len(X), np.float32)
    for first in range(0, len(X), CHUNK):
        block = X[first:first + CHUNK] @ centres.T
        block -= half_norms
        labels[first:first + CHUNK] = nearest = block.argmax(axis=1)
        scores[first:first + CHUNK] = np.take_along_axis(block, nearest[:, None], axis=1)[:, 0]
    return labels, np.maximum(norms - 2 * scores, 0)


def _means(X: np.ndarray, labels: np.ndarray, distances: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """The mean of each centre's points; an empty centre moves to one of the points farthest from theirs, as
    scikit-learn does."""
    k = len(centres)
    sums = np.zeros((k, X.shape[1]), np.float64)
    for first in range(0, len(X), CHUNK):
        chunk = labels[first:first + CHUNK]
        # Each centre's sum as a product with a sparse 0/1 matrix: one pass over the chunk, in C.
        members = sparse.csr_matrix((np.ones(len(chunk), np.float32), (chunk, np.arange(len(chunk)))),
                                    shape=(k, len(chunk)))
        sums += members @ X[first:first + CHUNK]
    counts = np.bincount(labels, minlength=k)
    means = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
    empty = np.flatnonzero(counts == 0)
    if len(empty):
        means[empty] = X[np.argpartition(distances, -len(empty))[:-len(empty) - 1:-1]]
    return means


def _subset(X: np.ndarray, size: int, rs: np.random.RandomState) -> np.ndarray:
    """X itself when it has at most `size` rows, else `size` of them drawn at random, in order."""
    return X if len(X) <= size else X[np.sort(rs.choice(len(X), size, replace=False))]


def _squared_norms(X: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", X, X)


def kmeans_plusplus(X: np.ndarray, k: int, random_state: np.random.RandomState,
                    x_squared_norms: np.ndarray) -> np.ndarray:
    """Greedy k-means++ centres: scikit-learn's algorithm and random draws, so the same centres (but for a
    float32 rounding tie), with distances from float32 matrix products. scikit-learn computes each block of
    them in float64 from an upcast copy: three quarters of a one-start KMeans fit on 100k x 384 vectors."""
    n = len(X)
    sample_weight = np.ones(n, X.dtype)
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
