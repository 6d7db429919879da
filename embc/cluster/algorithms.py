"""The clustering algorithms, as scikit-learn estimators (`fit`, `predict`, `labels_`)."""

from __future__ import annotations

from embc.errors import EmbcError

ALGORITHMS = ("kmeans",)


def make_estimator(algorithm: str, k: int | None, seed: int):
    """A configured, unfitted estimator for `algorithm`."""
    if algorithm == "kmeans":
        if not k or k < 2:
            raise EmbcError("kmeans needs --k N with N >= 2")
        from sklearn.cluster import KMeans

        # copy_x=False: the job owns its matrix, so KMeans may centre it in place instead of copying it.
        return KMeans(n_clusters=k, n_init=1, random_state=seed, copy_x=False)
    raise EmbcError(f"unknown algorithm '{algorithm}': choose from {', '.join(ALGORITHMS)}")
