"""Choosing k: the elbow of inertia over a range of k, and the silhouette over the same range, on a sample."""

from __future__ import annotations

import numpy as np

from embc.cluster.evaluate import silhouette

SWEEP_SAMPLE = 5000
K_RANGE = (2, 20)
NEAR_KNEE = 2


def sweep(X: np.ndarray, seed: int = 0, k_range: tuple[int, int] = K_RANGE,
          sample: int = SWEEP_SAMPLE) -> list[dict]:
    """k-means inertia and silhouette for each k in range, fitted on a random sample of at most `sample`."""
    from sklearn.cluster import KMeans

    rng = np.random.default_rng(seed)
    Xs = X[np.sort(rng.choice(len(X), size=min(len(X), sample), replace=False))]
    rows = []
    for k in range(k_range[0], min(k_range[1], len(Xs) - 1) + 1):
        fitted = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(Xs)
        rows.append({"k": k, "inertia": float(fitted.inertia_), "silhouette": silhouette(Xs, fitted.labels_, seed)})
    return rows


def knee(ks: list[int], inertias: list[float]) -> int:
    """The elbow of a decreasing curve (Kneedle): the k farthest below the straight line from end to end."""
    x = (np.asarray(ks, float) - ks[0]) / max(ks[-1] - ks[0], 1)
    y = (np.asarray(inertias) - min(inertias)) / max(max(inertias) - min(inertias), 1e-12)
    return ks[int(np.argmax((1 - x) - y))]


def choose_k(rows: list[dict]) -> int:
    """The documented rule: the best silhouette among the k within NEAR_KNEE of the elbow's knee."""
    ks = [r["k"] for r in rows]
    elbow = knee(ks, [r["inertia"] for r in rows])
    near = [r for r in rows if abs(r["k"] - elbow) <= NEAR_KNEE]
    return max(near, key=lambda r: r["silhouette"])["k"]
