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
