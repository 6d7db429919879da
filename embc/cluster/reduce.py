"""Nearest neighbours by matrix products, and fewer dimensions (UMAP or PCA) for density clustering and maps."""

from __future__ import annotations

import warnings

import numpy as np

from embc.ingest.embedders import normalise

NEIGHBOURS = 15
BLOCK_ELEMENTS = 1 << 21


def nearest(queries: np.ndarray, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and cosine similarities of each query's `k` most similar anchors, most similar first."""
    index = np.empty((len(queries), k), np.int32)
    sims = np.empty((len(queries), k), np.float32)
    # A block of similarities and argpartition's int64 indices of it: 24 MB at most, whatever the sizes.
    chunk = max(1, BLOCK_ELEMENTS // max(len(anchors), 1))
    for start in range(0, len(queries), chunk):
        block = queries[start:start + chunk] @ anchors.T
        top = np.argpartition(block, len(anchors) - k, axis=1)[:, -k:]
        top_sims = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-top_sims, axis=1)
        index[start:start + chunk] = np.take_along_axis(top, order, axis=1)
        sims[start:start + chunk] = np.take_along_axis(top_sims, order, axis=1)
    return index, sims


def centred(X: np.ndarray, share: float) -> np.ndarray:
    """Unit rows of X less `share` of their mean: angles seen from near the collection's centre, where what all
    its items have in common (one domain, one style of picture) weighs less against what sets them apart."""
    return normalise(X - share * X.mean(axis=0, dtype=np.float64).astype(np.float32))


def umap_embed(X: np.ndarray, seed: int, dims: int = 2, min_dist: float = 0.1,
               neighbours: int = NEIGHBOURS) -> np.ndarray:
    """UMAP of unit-length rows into `dims` dimensions."""
    umap = _umap()
    # Exact neighbours by one matrix product: faster than UMAP's own search and needs no JIT compile.
    index, sims = nearest(X, X, neighbours)
    distances = np.sqrt(np.maximum(2 - 2 * sims, 0)).astype(np.float32)
    reducer = umap.UMAP(n_components=dims, n_neighbors=neighbours, min_dist=min_dist, n_epochs=200,
                        random_state=seed, n_jobs=1, precomputed_knn=(index, distances, None))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reducer.fit_transform(X)


def reduce(X: np.ndarray, method: str, dims: int, seed: int, neighbours: int = NEIGHBOURS) -> np.ndarray:
    """X in `dims` dimensions by `method` (umap, pca), or X itself for none."""
    if method == "none" or X.shape[1] <= dims or len(X) <= neighbours + 1:
        return X
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(dims, random_state=seed).fit_transform(X).astype(np.float32)
    # min_dist 0 packs each neighbourhood tightly: what density clustering wants (a map wants spread).
    return umap_embed(X, seed, dims, min_dist=0.0, neighbours=neighbours)


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
