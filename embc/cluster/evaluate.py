"""Quality metrics of a clustering: internal ones always, external ones where ground-truth labels exist."""

from __future__ import annotations

from typing import Sequence

import numpy as np

SILHOUETTE_SAMPLE = 10_000


def evaluate(X: np.ndarray, labels: np.ndarray, truth: Sequence[str | None] | None = None,
             inertia: float | None = None, seed: int = 0) -> dict[str, float | None]:
    """silhouette (on a sample), davies_bouldin, calinski_harabasz, inertia; nmi, ari, homogeneity, completeness."""
    from sklearn import metrics

    out: dict[str, float | None] = {"inertia": inertia}
    clustered = labels >= 0
    out["noise_fraction"] = float(1 - clustered.mean()) if len(labels) else 0.0
    Xc, lc = X[clustered], labels[clustered]
    if len(np.unique(lc)) >= 2 and len(lc) > len(np.unique(lc)):
        out["silhouette"] = float(metrics.silhouette_score(
            Xc, lc, sample_size=min(len(lc), SILHOUETTE_SAMPLE), random_state=seed))
        out["davies_bouldin"] = float(metrics.davies_bouldin_score(Xc, lc))
        out["calinski_harabasz"] = float(metrics.calinski_harabasz_score(Xc, lc))
    if truth is not None:
        known = np.array([t is not None for t in truth])
        if known.any():
            t = np.array([str(x) for x in np.asarray(truth, dtype=object)[known]])
            p = labels[known]
            out["labelled_fraction"] = float(known.mean())
            out["nmi"] = float(metrics.normalized_mutual_info_score(t, p))
            out["ari"] = float(metrics.adjusted_rand_score(t, p))
            out["homogeneity"] = float(metrics.homogeneity_score(t, p))
            out["completeness"] = float(metrics.completeness_score(t, p))
    return out
