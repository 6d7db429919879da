"""Quality metrics of a clustering: internal ones always, external ones where ground-truth labels exist."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

SILHOUETTE_SAMPLE = 10_000
BLOCK = 1024  # sample rows per block of distances: 40 MB at the full sample
Parts = tuple[np.ndarray, np.ndarray, np.ndarray]  # each row's cluster as 0..k-1, the sizes, the centroids


@dataclass
class Evaluation:
    """A run's metrics, and the silhouette of each sampled point (row indices into X) for per-cluster views."""

    metrics: dict[str, float | None]
    sample: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    silhouettes: np.ndarray = field(default_factory=lambda: np.empty(0))

    def per_cluster(self, labels: np.ndarray) -> dict[int, float]:
        """Mean silhouette of each cluster's sampled points."""
        sampled = labels[self.sample]
        return {int(c): float(self.silhouettes[sampled == c].mean()) for c in np.unique(sampled)}


def evaluate(X: np.ndarray, labels: np.ndarray, truth: Sequence[str | None] | None = None,
             inertia: float | None = None, seed: int = 0,
             previous: np.ndarray | None = None) -> Evaluation:
    """silhouette (on a sample), davies_bouldin, calinski_harabasz, inertia; nmi, ari, homogeneity, completeness
    where labels exist; stability_ari against the `previous` run's clusters (-1: none) on the points both
    clustered."""
    from sklearn import metrics

    out: dict[str, float | None] = {"inertia": inertia}
    result = Evaluation(out)
    clustered = labels >= 0
    out["noise_fraction"] = float(1 - clustered.mean()) if len(labels) else 0.0
    # Noise is left out of the internal metrics; without noise, no copy of X is made.
    kept = np.flatnonzero(clustered)
    Xc, lc = (X, labels) if clustered.all() else (X[kept], labels[kept])
    n_clusters = len(np.unique(lc))
    if 2 <= n_clusters < len(lc):
        pick, result.silhouettes = silhouette_samples(Xc, lc, seed)
        result.sample = kept[pick]
        out["silhouette"] = float(result.silhouettes.mean())
        parts = _centroids(Xc, lc)  # both indices start from them: 0.4 s at 1M x 384
        out["davies_bouldin"] = davies_bouldin(Xc, lc, parts=parts)
        out["calinski_harabasz"] = calinski_harabasz(Xc, lc, parts=parts)
    if truth is not None:
        known = np.array([t is not None for t in truth], dtype=bool)
        if known.any():
            t = np.array([str(x) for x in np.asarray(truth, dtype=object)[known]])
            p = labels[known]
            out["labelled_fraction"] = float(known.mean())
            out["nmi"] = float(metrics.normalized_mutual_info_score(t, p))
            out["ari"] = float(metrics.adjusted_rand_score(t, p))
            out["homogeneity"] = float(metrics.homogeneity_score(t, p))
            out["completeness"] = float(metrics.completeness_score(t, p))
    if previous is not None:
        before = np.asarray(previous)
        both = (before >= 0) & (labels >= 0)
        if both.any():
            out["stability_ari"] = float(metrics.adjusted_rand_score(before[both], labels[both]))
    return result


def silhouette(X: np.ndarray, labels: np.ndarray, seed: int = 0, sample: int = SILHOUETTE_SAMPLE) -> float:
    """Mean silhouette (Euclidean) of a random sample of unit-length rows."""
    return float(silhouette_samples(X, labels, seed, sample)[1].mean())


def silhouette_samples(X: np.ndarray, labels: np.ndarray, seed: int = 0,
                       sample: int = SILHOUETTE_SAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """(row indices of a random sample, their silhouettes), from one matrix product per pair of row blocks,
    each pair once: about three times as fast as scikit-learn's, in a bounded amount of memory."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(X), size=min(len(X), sample), replace=False))
    Xs = X[pick]
    _, own = np.unique(labels[pick], return_inverse=True)
    onehot = np.zeros((len(pick), own.max() + 1), np.float32)
    onehot[np.arange(len(pick)), own] = 1
    sizes = onehot.sum(axis=0)
    sums = np.zeros_like(onehot)  # each point's summed distance to each cluster's sampled members
    starts = range(0, len(pick), BLOCK)
    for i in starts:
        for j in starts[i // BLOCK:]:  # distances are symmetric: each block below the diagonal is one above it
            block = Xs[i:i + BLOCK] @ Xs[j:j + BLOCK].T
            block *= -2  # |a - b| = sqrt(2 - 2 a.b) for unit vectors, computed in place: no temporaries
            block += 2
            np.sqrt(np.maximum(block, 0, out=block), out=block)
            sums[i:i + BLOCK] += block @ onehot[j:j + BLOCK]
            if j != i:
                sums[j:j + BLOCK] += block.T @ onehot[i:i + BLOCK]
    rows = np.arange(len(pick))
    alone = sizes[own] == 1
    a = sums[rows, own] / np.maximum(sizes[own] - 1, 1)
    means = sums / sizes
    means[rows, own] = np.inf
    b = means.min(axis=1)
    return pick, np.where(alone, 0.0, (b - a) / np.maximum(np.maximum(a, b), 1e-12))


def calinski_harabasz(X: np.ndarray, labels: np.ndarray, parts: Parts | None = None) -> float:
    """The Calinski-Harabasz index without a float64 copy of X (scikit-learn's makes one: 2x the vectors);
    `parts`: `_centroids(X, labels)`, when already made."""
    rows, sizes, centroids = parts or _centroids(X, labels)
    n, k = len(X), len(sizes)
    mean = centroids.T @ sizes / n
    between = float(sizes @ ((centroids - mean) ** 2).sum(axis=1))
    # Sum of squares within clusters = total sum of squares minus the centroids' share, in float64.
    within = float(np.einsum("ij,ij->", X, X, dtype=np.float64) - sizes @ (centroids ** 2).sum(axis=1))
    return 1.0 if within == 0 else between * (n - k) / (within * (k - 1))


def davies_bouldin(X: np.ndarray, labels: np.ndarray, chunk: int = 16384, parts: Parts | None = None) -> float:
    """The Davies-Bouldin index a block of rows at a time (scikit-learn's copies each cluster's rows out of X:
    a second copy of the vectors, and 4 s at 1M x 384); `parts` as for `calinski_harabasz`."""
    rows, sizes, centroids = parts or _centroids(X, labels)
    own = centroids.astype(np.float32)
    spread = np.zeros(len(sizes))
    for start in range(0, len(X), chunk):
        block = rows[start:start + chunk]
        spread += np.bincount(block, np.linalg.norm(X[start:start + chunk] - own[block], axis=1), len(sizes))
    spread /= sizes
    apart = np.sqrt(np.maximum(((centroids[:, None, :] - centroids[None, :, :]) ** 2).sum(-1), 0))
    if np.allclose(spread, 0) or np.allclose(apart, 0):
        return 0.0
    apart[apart == 0] = np.inf
    return float(((spread[:, None] + spread[None, :]) / apart).max(axis=1).mean())


def _centroids(X: np.ndarray, labels: np.ndarray) -> Parts:
    """Each row's cluster as 0..k-1, the clusters' sizes and their centroids in float64."""
    from scipy import sparse

    clusters, rows = np.unique(labels, return_inverse=True)
    n, k = len(X), len(clusters)
    membership = sparse.csr_matrix((np.ones(n, np.float32), (rows, np.arange(n))), shape=(k, n))
    sizes = np.bincount(rows).astype(np.float64)
    return rows, sizes, np.asarray(membership @ X, dtype=np.float64) / sizes[:, None]
