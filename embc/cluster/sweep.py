"""Choosing k: the elbow of k-means inertia over a range of k, on a sample; the silhouette of each k is kept
beside it as evidence.

On twenty-one labelled sets of 5-20 classes (docs/quality.md) the elbow over 2-22 with three starts per k is
within 0.7x-1.4x of the true number of classes on 50 of 63 fits (three seeds): on every set of 8-10 classes and most
of 5-6 and 12-13, never on the two of 20. None of the seventy-odd other rules tried did better across the sets: the
best silhouette, in the vectors or in a UMAP reduction, picks 2 or 3 on most of them; the gap statistic and the
L-method fit fewer. Why: the inertia follows a power law in k (R^2 >= 0.97), and the knee of a power law over 2-22
is at 8 for every exponent seen (over 2-25, at 9: 42 of the 63 fits), so the range sets where the elbow lands and
the classes move it only as far as they bend the curve away from the law."""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np

from embc.cluster.evaluate import silhouette
from embc.cluster.params import K_SWEPT

SWEEP_SAMPLE = 5000
SWEEP_STARTS = 3  # one start per k makes the inertia curve jagged enough to move its elbow by 3
KNEE_BAND = 0.9  # the k within 10% of the knee: 8-9 on the shipped WordNet sample, as wide as 6-11 on most sets


def sweep(X: np.ndarray, seed: int = 0, k_range: tuple[int, int] = K_SWEPT, sample: int = SWEEP_SAMPLE,
          report: Callable[[int, int], None] | None = None) -> list[dict]:
    """k-means inertia and silhouette for each k in range, fitted on a random sample of at most `sample`;
    `report(done, total)` after each k."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    rng = np.random.default_rng(seed)
    Xs = X[np.sort(rng.choice(len(X), size=min(len(X), sample), replace=False))]
    rows = []
    with warnings.catch_warnings():
        # The sweep goes past the sample's distinct points knowingly (their inertia is 0 there): scikit-learn's
        # warning for each such k is not for a library's users.
        warnings.simplefilter("ignore", ConvergenceWarning)
        ks = range(k_range[0], min(k_range[1], len(Xs) - 1) + 1)
        for k in ks:
            fitted = KMeans(n_clusters=k, n_init=SWEEP_STARTS, random_state=seed).fit(Xs)
            rows.append({"k": k, "inertia": float(fitted.inertia_),
                         "silhouette": silhouette(Xs, fitted.labels_, seed)})
            if report:
                report(len(rows), len(ks))
    return rows


def below_chord(ks: list[int], inertias: list[float]) -> np.ndarray:
    """How far each point of a decreasing curve lies below the straight line from its first point to its last,
    both axes scaled to [0, 1] (Kneedle's difference curve)."""
    x = (np.asarray(ks, float) - ks[0]) / max(ks[-1] - ks[0], 1)
    y = (np.asarray(inertias) - min(inertias)) / max(max(inertias) - min(inertias), 1e-12)
    return (1 - x) - y


def near_knee(criterion: np.ndarray) -> np.ndarray:
    """Which k lie almost as far below the chord as the knee (within KNEE_BAND of its distance): where they span
    a wide range of k, the curve bends gradually and the data does not settle the number of clusters."""
    return criterion >= KNEE_BAND * criterion.max()


def judged(rows: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """A recorded sweep's criterion for each k (`below_chord`), and which k lie near its knee (`near_knee`)."""
    criterion = below_chord([r["k"] for r in rows], [r["inertia"] for r in rows])
    return criterion, near_knee(criterion)


def knee(ks: list[int], inertias: list[float]) -> int:
    """The elbow of a decreasing curve (Kneedle): the k farthest below the straight line from end to end."""
    return ks[int(np.argmax(below_chord(ks, inertias)))]


def choose_k(rows: list[dict]) -> int:
    """The documented rule: the elbow's knee of the sweep's inertia."""
    return knee([r["k"] for r in rows], [r["inertia"] for r in rows])
