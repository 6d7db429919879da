"""2-D maps of the vectors (UMAP, t-SNE or PCA) fitted on a sample, the rest placed among their nearest
sampled neighbours."""

from __future__ import annotations

import warnings

import numpy as np

from embc.cluster.reduce import NEIGHBOURS, nearest, umap_embed

FIT_SAMPLE = 3000
PLACE_NEIGHBOURS = 5
CHUNK = 65536
PROJECTIONS = ("umap", "tsne", "pca")


def project_2d(X: np.ndarray, labels: np.ndarray, seed: int = 0, method: str = "umap",
               fit_sample: int = FIT_SAMPLE) -> tuple[np.ndarray, np.ndarray]:
    """(n, 2) float32 coordinates of unit-length rows, and the rows the method saw: the map's anchors. The
    method sees at most `fit_sample` points, so the cost of the map barely grows with n; the rest are placed
    among the anchors of their own cluster (t-SNE has no transform, and this is how UMAP's own transform
    starts), as points added later can be (`place`)."""
    n = len(X)
    sample = np.sort(np.random.default_rng(seed).choice(n, size=min(n, fit_sample), replace=False))
    coords = np.empty((n, 2), np.float32)
    if n <= NEIGHBOURS + 1 or method == "pca":
        from sklearn.decomposition import PCA

        if n < 3:
            return np.zeros((n, 2), np.float32), sample
        pca = PCA(2, random_state=seed).fit(X[sample])
        for start in range(0, n, CHUNK):  # PCA.transform centres a copy of what it is given: a block at a time
            coords[start:start + CHUNK] = pca.transform(X[start:start + CHUNK])
        return coords, sample
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords[sample] = (umap_embed if method == "umap" else _tsne_fit)(X[sample], seed)
    rest = np.setdiff1d(np.arange(n), sample)
    coords[rest] = place(X, labels, X[sample], labels[sample], coords[sample], rows=rest)
    return coords, sample


def place(X: np.ndarray, labels: np.ndarray, anchors: np.ndarray, anchor_labels: np.ndarray,
          anchor_xy: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """2-D positions for the rows of X (those at `rows`, else all; `labels` are X's): the similarity-weighted
    mean position of their nearest anchors in the same cluster. Anchors never move, so a map can grow
    without redrawing it."""
    rows = np.arange(len(X)) if rows is None else rows
    row_labels = labels[rows]
    coords = np.empty((len(rows), 2), np.float32)
    for cluster in np.unique(row_labels):
        at = np.flatnonzero(row_labels == cluster)
        # A point's nearest sampled neighbours are almost always in its own cluster: searching only there
        # divides the cost by the number of clusters (and copies one cluster's vectors at a time).
        own = np.flatnonzero(anchor_labels == cluster) if cluster >= 0 else np.arange(len(anchors))
        candidates = own if len(own) >= PLACE_NEIGHBOURS else np.arange(len(anchors))
        index, sims = nearest(X[rows[at]], anchors[candidates], min(PLACE_NEIGHBOURS, len(candidates)))
        weights = np.maximum(sims, 1e-6)[:, :, None]
        coords[at] = (weights * anchor_xy[candidates][index]).sum(1) / weights.sum(1)
    return coords


def _tsne_fit(anchors: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(anchors) - 1) / 3)
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(anchors)
