"""Stable cluster ids: a new fit's clusters take the ids of the previous run's clusters they continue.

Rule: Hungarian matching on shared members (the points both runs clustered); clusters that share no
members are matched by centroid distance, when the new centroid lies within the old cluster's extent. A
new cluster left unmatched is born with an id never used before; an old one left unmatched dies. A split
is an old cluster that sent at least SHARE of its members to each of two or more new clusters; a merge is
a new cluster that took at least SHARE of each of two or more old clusters.
"""

from __future__ import annotations

import numpy as np

from embc.cluster.assign import NOISE, CentroidModel

SHARE = 0.2


def match_clusters(previous: np.ndarray, labels: np.ndarray, old: CentroidModel | None, new: CentroidModel,
                   next_id: int) -> tuple[dict[int, int], list[dict]]:
    """`previous` and `labels`: each point's old cluster id (-1: none) and new fitted label. Returns the map
    from fitted label to stable id (noise stays -1) and the events: dicts with kind (birth, death, split,
    merge), cluster, and related ids."""
    from scipy.optimize import linear_sum_assignment

    new_ids = [int(c) for c in new.ids_]
    old_ids = sorted({int(c) for c in np.unique(previous) if c != NOISE} | set(_ids(old)))
    both = (previous != NOISE) & (labels != NOISE)
    overlap = np.zeros((len(new_ids), len(old_ids)))
    if both.any():
        rows = np.searchsorted(new_ids, labels[both])
        cols = np.searchsorted(old_ids, previous[both])
        np.add.at(overlap, (rows, cols), 1)
    mapping: dict[int, int] = {NOISE: NOISE}
    if overlap.any():
        for r, c in zip(*linear_sum_assignment(-overlap)):
            if overlap[r, c] > 0:
                mapping[new_ids[r]] = old_ids[c]
    _match_by_centroid(mapping, new, old)
    used = set(mapping.values())
    events = []
    for c in new_ids:
        if c not in mapping:
            mapping[c] = next_id
            events.append({"kind": "birth", "cluster": next_id, "related": []})
            next_id += 1
    events += [{"kind": "death", "cluster": c, "related": []} for c in old_ids if c not in used]
    old_sizes = overlap.sum(axis=0)
    for col, c in enumerate(old_ids):
        heirs = [mapping[new_ids[r]] for r in np.flatnonzero(overlap[:, col] >= SHARE * max(old_sizes[col], 1))]
        if len(heirs) >= 2 and old_sizes[col]:
            events.append({"kind": "split", "cluster": c, "related": sorted(heirs)})
    for row, c in enumerate(new_ids):
        sources = [old_ids[col] for col in np.flatnonzero(
            (overlap[row] >= SHARE * np.maximum(old_sizes, 1)) & (old_sizes > 0))]
        if len(sources) >= 2:
            events.append({"kind": "merge", "cluster": mapping[c], "related": sorted(sources)})
    return mapping, events


def _ids(model: CentroidModel | None) -> list[int]:
    return [] if model is None else [int(c) for c in model.ids_]


def _match_by_centroid(mapping: dict[int, int], new: CentroidModel, old: CentroidModel | None) -> None:
    """Pair the still-unmatched new clusters with still-unmatched old ones whose extent holds their centroid."""
    from scipy.optimize import linear_sum_assignment

    if old is None:
        return
    taken = set(mapping.values())
    free_new = [r for r, c in enumerate(new.ids_) if int(c) not in mapping]
    free_old = [r for r, c in enumerate(old.ids_) if int(c) not in taken]
    if not free_new or not free_old:
        return
    d = np.linalg.norm(new.centroids_[free_new][:, None, :] - old.centroids_[free_old][None, :, :], axis=2)
    for r, c in zip(*linear_sum_assignment(d)):
        if d[r, c] <= old.radii_[free_old[c]]:
            mapping[int(new.ids_[free_new[r]])] = int(old.ids_[free_old[c]])
