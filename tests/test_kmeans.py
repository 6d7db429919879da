"""embc's k-means (float32 k-means++ seeding, no temporary copy of the vectors) gives scikit-learn's results."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans, kmeans_plusplus

from embc.cluster.kmeans import LeanKMeans


@pytest.mark.parametrize("k", [2, 8, 30])
def test_seeding_picks_scikit_learns_centres(wordnet_vectors, k):
    X = wordnet_vectors[0]
    ours = LeanKMeans(k, n_init=1, max_iter=1, random_state=3)._init_centroids(
        X, np.einsum("ij,ij->i", X, X), "k-means++", np.random.RandomState(3), np.ones(len(X), X.dtype))
    theirs, _ = kmeans_plusplus(X, k, random_state=np.random.RandomState(3))
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("seed", [0, 1])
def test_fit_gives_scikit_learns_clusters(wordnet_vectors, seed):
    X = wordnet_vectors[0]
    ours = LeanKMeans(8, n_init=4, random_state=seed).fit(X)
    theirs = KMeans(8, n_init=4, random_state=seed).fit(X)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-5)
    assert ours.n_iter_ == theirs.n_iter_


def test_the_scikit_learn_hooks_that_lean_kmeans_overrides_are_still_called(wordnet_vectors, monkeypatch):
    """LeanKMeans overrides two private KMeans methods (pyproject pins scikit-learn below its next major
    version): this fails when a release renames them or stops calling them."""
    import inspect

    from embc.cluster import kmeans

    assert list(inspect.signature(KMeans._init_centroids).parameters) == [
        "self", "X", "x_squared_norms", "init", "random_state", "sample_weight", "init_size", "n_centroids"]
    seeded = []
    real = kmeans.kmeans_plusplus
    monkeypatch.setattr(kmeans, "kmeans_plusplus", lambda *a: seeded.append(a[1]) or real(*a))
    model = LeanKMeans(5, n_init=3, random_state=0, tol=1e-3).fit(wordnet_vectors[0])
    assert seeded == [5, 5, 5]
    assert model._tol == pytest.approx(np.var(wordnet_vectors[0], axis=0).mean() * 1e-3, rel=1e-4)
