"""2-D maps of the vectors (UMAP, t-SNE or PCA) fitted on a sample, the rest placed among their nearest
sampled neighbours."""

from __future__ import annotations

import warnings

import numpy as np

FIT_SAMPLE = 3000
NEIGHBOURS = 15
PLACE_NEIGHBOURS = 5


PROJECTIONS = ("umap", "tsne", "pca")


def project_2d(X: np.ndarray, labels: np.ndarray, seed: int = 0, method: str = "umap",
               fit_sample: int = FIT_SAMPLE) -> np.ndarray:
    """(n, 2) float32 coordinates of unit-length rows. The method sees at most `fit_sample` points, so the
    cost of the map barely grows with n; the rest are placed among sampled points of their own cluster
    (t-SNE has no transform, and this is how UMAP's own transform starts)."""
    n = len(X)
    sample = np.sort(np.random.default_rng(seed).choice(n, size=min(n, fit_sample), replace=False))
    coords = np.empty((n, 2), np.float32)
    if n <= NEIGHBOURS + 1 or method == "pca":
        from sklearn.decomposition import PCA

        if n < 3:
            return np.zeros((n, 2), np.float32)
        return PCA(2, random_state=seed).fit(X[sample]).transform(X).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        coords[sample] = (_umap_fit if method == "umap" else _tsne_fit)(X[sample], seed)
    rest = np.setdiff1d(np.arange(n), sample)
    for cluster in np.unique(labels[rest]):
        queries = rest[labels[rest] == cluster]
        # A point's nearest sampled neighbours are almost always in its own cluster: searching only there
        # divides the cost by the number of clusters.
        own = sample[labels[sample] == cluster] if cluster >= 0 else sample
        candidates = own if len(own) >= PLACE_NEIGHBOURS else sample
        index, sims = nearest(X[queries], X[candidates], PLACE_NEIGHBOURS)
        weights = np.maximum(sims, 1e-6)[:, :, None]
        coords[queries] = (weights * coords[candidates][index]).sum(1) / weights.sum(1)
    return coords


def _umap_fit(anchors: np.ndarray, seed: int) -> np.ndarray:
    umap = _umap()
    # Exact neighbours by one matrix product: faster than UMAP's own search and needs no JIT compile.
    index, sims = nearest(anchors, anchors, NEIGHBOURS)
    distances = np.sqrt(np.maximum(2 - 2 * sims, 0)).astype(np.float32)
    reducer = umap.UMAP(n_neighbors=NEIGHBOURS, min_dist=0.1, n_epochs=200, random_state=seed, n_jobs=1,
                        precomputed_knn=(index, distances, None))
    return reducer.fit_transform(anchors)


def _tsne_fit(anchors: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(anchors) - 1) / 3)
    return TSNE(2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(anchors)


def nearest(queries: np.ndarray, anchors: np.ndarray, k: int, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine similarities of each query's `k` most similar anchors, most similar first."""
    index = np.empty((len(queries), k), np.int32)
    sims = np.empty((len(queries), k), np.float32)
    for start in range(0, len(queries), chunk):
        block = queries[start:start + chunk] @ anchors.T
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-top_sims, axis=1)
        index[start:start + chunk] = np.take_along_axis(top, order, axis=1)
        sims[start:start + chunk] = np.take_along_axis(top_sims, order, axis=1)
    return index, sims


def _umap():
    """umap, with its numba kernels cached on disk: umap compiles them on every start otherwise (~20 s)."""
    import umap
    import umap.layouts
    import umap.umap_
    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    for module in (umap.umap_, umap.layouts):
        for kernel in vars(module).values():
            if isinstance(kernel, CPUDispatcher) and isinstance(kernel._cache, NullCache):
                kernel.enable_caching()
    return umap
