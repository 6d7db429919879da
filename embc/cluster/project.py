"""2-D maps of the vectors (UMAP, t-SNE or PCA) fitted on a sample, the rest placed among their nearest
sampled neighbours."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from embc.cluster.reduce import NEIGHBOURS, nearest, umap_embed

FIT_SAMPLE = 3000
PLACE_NEIGHBOURS = 5
CHUNK = 65536


@dataclass
class MapPlan:
    """A 2-D map of n points, planned while their vectors are at hand and laid out without them: the method
    sees only the sample (`sample`: its rows, `vectors`: theirs, the map's anchors), and every other point
    (`rest`) goes where its nearest anchors of its own cluster (`near`) end up."""

    n: int
    sample: np.ndarray
    vectors: np.ndarray
    method: str
    seed: int
    rest: np.ndarray
    near: tuple[np.ndarray, np.ndarray]
    coords: np.ndarray | None = None  # done already (PCA, or too few points for a neighbourhood)

    def layout(self) -> np.ndarray:
        """(n, 2) float32 coordinates."""
        if self.coords is not None:
            return self.coords
        coords = np.empty((self.n, 2), np.float32)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            coords[self.sample] = (umap_embed if self.method == "umap" else _tsne_fit)(self.vectors, self.seed)
        coords[self.rest] = positions(*self.near, coords[self.sample])
        return coords


def plan_map(X: np.ndarray, labels: np.ndarray, seed: int = 0, method: str = "umap",
             fit_sample: int = FIT_SAMPLE) -> MapPlan:
    """The map of unit-length rows, to lay out once X may be freed. The method sees at most `fit_sample`
    points, so the cost of the map barely grows with n; the rest are placed among the anchors of their own
    cluster (t-SNE has no transform, and this is how UMAP's own transform starts), as points added later can
    be (`place`)."""
    n = len(X)
    sample = np.sort(np.random.default_rng(seed).choice(n, size=min(n, fit_sample), replace=False))
    plan = MapPlan(n, sample, X[sample], method, seed, np.empty(0, np.int64),
                   (np.empty((0, 0), np.int32), np.empty((0, 0), np.float32)))
    if n <= NEIGHBOURS + 1 or method == "pca":
        from sklearn.decomposition import PCA

        plan.coords = np.zeros((n, 2), np.float32)
        if n >= 3:
            pca = PCA(2, random_state=seed).fit(plan.vectors)
            for start in range(0, n, CHUNK):  # PCA.transform centres a copy of what it is given: a block at a time
                plan.coords[start:start + CHUNK] = pca.transform(X[start:start + CHUNK])
        return plan
    plan.rest = np.setdiff1d(np.arange(n), sample)
    plan.near = neighbours(X, labels, plan.vectors, labels[sample], plan.rest)
    return plan


def place(X: np.ndarray, labels: np.ndarray, anchors: np.ndarray, anchor_labels: np.ndarray,
          anchor_xy: np.ndarray) -> np.ndarray:
    """2-D positions for the rows of X (`labels` are theirs) among anchors already on a map, which never
    move, so a map can grow without redrawing it."""
    return positions(*neighbours(X, labels, anchors, anchor_labels), anchor_xy)


def neighbours(X: np.ndarray, labels: np.ndarray, anchors: np.ndarray, anchor_labels: np.ndarray,
               rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """For the rows of X (those at `rows`, else all): the indices of their nearest anchors in the same
    cluster, and their weights (cosine similarities)."""
    rows = np.arange(len(X)) if rows is None else rows
    row_labels = labels[rows]
    k = min(PLACE_NEIGHBOURS, len(anchors))
    index = np.empty((len(rows), k), np.int32)
    weights = np.empty((len(rows), k), np.float32)
    for cluster in np.unique(row_labels):
        at = np.flatnonzero(row_labels == cluster)
        # A point's nearest sampled neighbours are almost always in its own cluster: searching only there
        # divides the cost by the number of clusters (and copies one cluster's vectors at a time).
        own = np.flatnonzero(anchor_labels == cluster) if cluster >= 0 else np.arange(len(anchors))
        candidates = own if len(own) >= k else np.arange(len(anchors))
        found, sims = nearest(X[rows[at]], anchors[candidates], k)
        index[at], weights[at] = candidates[found], np.maximum(sims, 1e-6)
    return index, weights


def positions(index: np.ndarray, weights: np.ndarray, anchor_xy: np.ndarray) -> np.ndarray:
    """The weighted mean position of each point's anchors."""
    w = weights[:, :, None]
    return ((w * anchor_xy[index]).sum(1) / w.sum(1)).astype(np.float32)


def _tsne_fit(anchors: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(anchors) - 1) / 3)
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(anchors)
