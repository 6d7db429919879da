"""Density-based clustering validation (DBCV; Moulavi, Jaskowiak, Campello, Zimek and Sander, SDM 2014): how well
a density fit's clusters are separated by low-density valleys, measured by mutual reachability as the fit
itself measures density. The silhouette favours round, equally spread clusters, which density fits need not
find."""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

from embc.cluster.assign import NOISE


def dbcv(Z: np.ndarray, labels: np.ndarray) -> float:
    """DBCV of `labels` (noise -1) on the rows of Z, from -1 to 1: each cluster's validity, (separation -
    sparseness) / the larger of the two, weighted by its share of all the points, noise included (so noise
    costs). Below two clusters, -1. Its memory is the square of the largest cluster: score a sample."""
    ids = np.unique(labels[labels != NOISE])
    if len(ids) < 2:
        return -1.0
    dims = Z.shape[1]
    inner, inner_cores, owners, sparseness = [], [], [], []
    for c in ids:
        members = Z[labels == c].astype(np.float64)
        distances = cdist(members, members)
        core = _core_distances(distances, dims)
        ends, weights = _spanning_tree(np.maximum(distances, np.maximum.outer(core, core)))
        degree = np.bincount(ends.ravel(), minlength=len(members))
        # The tree's inner nodes and edges: its leaves are the cluster's fringe, which says nothing of its density.
        nodes = np.flatnonzero(degree > 1)
        if len(nodes) == 0:  # one or two points (of a sample): the first stands for them, as in the hdbscan package
            nodes = np.zeros(1, np.int64)
        inside = np.isin(ends, nodes).all(1)
        weights = weights[inside] if inside.any() else weights
        sparseness.append(weights.max() if len(weights) else 0.0)
        inner.append(members[nodes])
        inner_cores.append(core[nodes])
        owners.append(np.full(len(nodes), len(owners)))
    points, cores, owner = np.vstack(inner), np.concatenate(inner_cores), np.concatenate(owners)
    reach = np.maximum(cdist(points, points), np.maximum.outer(cores, cores))
    reach[owner[:, None] == owner[None, :]] = np.inf
    validity = 0.0
    for i, c in enumerate(ids):
        separation = reach[owner == i].min()
        worst = max(separation, sparseness[i])
        score = (separation - sparseness[i]) / worst if worst > 0 else 0.0
        validity += np.count_nonzero(labels == c) / len(labels) * score
    return float(validity)


def _core_distances(distances: np.ndarray, dims: int) -> np.ndarray:
    """Each point's all-points core distance: the inverse of the mean of its inverse distances to the rest of
    its cluster, each to the power of the dimensions (points at distance 0 left out)."""
    inverse = np.zeros_like(distances)
    apart = distances > 0
    inverse[apart] = distances[apart] ** -dims
    total = inverse.sum(1) / max(len(distances) - 1, 1)
    out = np.zeros(len(distances))
    np.power(total, -1.0 / dims, out=out, where=total > 0)
    return out


def _spanning_tree(weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The minimum spanning tree of a complete graph, by Prim's algorithm on its dense matrix of weights (n^2
    steps, where a sparse algorithm takes n^2 log n): its edges as (n - 1, 2) ends and their weights. Mutual
    reachability ties many weights, and which of the tied trees is taken moves the score: as the hdbscan
    package, each step takes the lowest-numbered nearest point, joined to the lowest-numbered point of the tree
    at that weight."""
    n = len(weights)
    ends, chosen = np.empty((max(n - 1, 0), 2), np.int64), np.empty(max(n - 1, 0))
    reached = np.zeros(n, bool)
    reached[0] = True
    nearest = weights[0].copy()
    nearest[0] = np.inf
    for step in range(n - 1):
        new = int(np.argmin(nearest))
        chosen[step] = nearest[new]
        ends[step] = np.flatnonzero(reached & np.isclose(weights[new], chosen[step]))[0], new
        reached[new] = True
        np.minimum(nearest, weights[new], out=nearest)
        nearest[reached] = np.inf
    return ends, chosen
