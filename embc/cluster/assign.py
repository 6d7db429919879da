"""Assigning points to fitted clusters by nearest centroid: how a sample fit reaches the rest of the points,
and how an incremental run places new points without refitting."""

from __future__ import annotations

import numpy as np

NOISE = -1
NOISE_NAME = "noise"  # how a user may name the noise, in every interface


def cluster_count(labels: np.ndarray) -> int:
    """The number of clusters in `labels`, noise left out."""
    return len(np.unique(labels[labels != NOISE]))


class CentroidModel:
    """Each cluster's centroid and extent (its farthest member's distance). A point goes to the nearest
    centroid, or to noise when it lies outside that cluster's extent: it resembles no cluster as fitted."""

    def __init__(self, ids: np.ndarray | None = None, centroids: np.ndarray | None = None,
                 radii: np.ndarray | None = None):
        self.ids_ = ids
        self.centroids_ = centroids
        self.radii_ = radii

    def fit(self, X: np.ndarray, labels: np.ndarray) -> "CentroidModel":
        """Centroids and extents of the clusters in `labels` (noise is left out)."""
        self.ids_ = np.array([c for c in np.unique(labels) if c != NOISE], dtype=np.int64)
        dim = X.shape[1]
        self.centroids_ = np.empty((len(self.ids_), dim), np.float32)
        self.radii_ = np.empty(len(self.ids_), np.float64)
        for row, c in enumerate(self.ids_):
            members = X[labels == c]
            self.centroids_[row] = members.mean(axis=0)
            self.radii_[row] = float(np.sqrt(_squared_distances(members, self.centroids_[row:row + 1]).max()))
        return self

    def relabel(self, mapping: dict[int, int]) -> "CentroidModel":
        """The same model under new cluster ids."""
        return CentroidModel(np.array([mapping[int(c)] for c in self.ids_], np.int64), self.centroids_, self.radii_)

    def extents(self) -> dict[int, tuple[np.ndarray, float]]:
        """Each cluster's (centroid, extent), by cluster id."""
        return dict(zip(self.ids_.tolist(), zip(self.centroids_, self.radii_)))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """The nearest cluster's id for each row, or -1 outside every cluster's extent."""
        labels, _ = self.assign(X)
        return labels

    def assign(self, X: np.ndarray, chunk: int = 8192) -> tuple[np.ndarray, np.ndarray]:
        """Labels, and each row's distance to its nearest centroid."""
        labels = np.full(len(X), NOISE, np.int64)
        distances = np.empty(len(X), np.float64)
        if not len(self.ids_):
            distances[:] = np.inf
            return labels, distances
        for start in range(0, len(X), chunk):
            d2 = _squared_distances(X[start:start + chunk], self.centroids_)
            nearest = d2.argmin(axis=1)
            d = np.sqrt(d2[np.arange(len(nearest)), nearest])
            inside = d <= self.radii_[nearest] + 1e-6
            labels[start:start + chunk] = np.where(inside, self.ids_[nearest], NOISE)
            distances[start:start + chunk] = d
        return labels, distances


def _squared_distances(X: np.ndarray, C: np.ndarray) -> np.ndarray:
    d2 = (X * X).sum(1)[:, None] - 2 * (X @ C.T) + (C * C).sum(1)[None, :]
    return np.maximum(d2, 0)
