"""embc's k-means (starts fitted on a sample, the best refined on every point) reaches scikit-learn's
inertia on real embeddings."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.cluster import KMeans, kmeans_plusplus as sklearn_kmeans_plusplus
from sklearn.utils._param_validation import InvalidParameterError

from embc.cluster.kmeans import SampledKMeans, _lloyd, kmeans_plusplus


@pytest.mark.parametrize("k", [2, 8, 30])
def test_seeding_picks_scikit_learns_centres(wordnet_vectors, k):
    X = wordnet_vectors[0]
    ours = kmeans_plusplus(X, k, np.random.RandomState(3), np.einsum("ij,ij->i", X, X))
    theirs, _ = sklearn_kmeans_plusplus(X, k, random_state=np.random.RandomState(3))
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("sample_size", [100_000, 100])
def test_inertia_within_one_percent_of_scikit_learns(wordnet_vectors, seed, sample_size):
    """On the WordNet sample, fitted whole or from starts on a 100-point sample refined on all 400 points."""
    X = wordnet_vectors[0]
    ours = SampledKMeans(8, n_init=4, sample_size=sample_size, random_state=seed).fit(X)
    theirs = KMeans(8, n_init=4, random_state=seed).fit(X)
    assert ours.inertia_ <= theirs.inertia_ * 1.01
    assert ours.inertia_ == pytest.approx(((X - ours.cluster_centers_[ours.labels_]) ** 2).sum(), rel=1e-4)
    np.testing.assert_array_equal(ours.predict(X), ours.labels_)
    assert len(np.unique(ours.labels_)) == 8


@pytest.mark.parametrize("seed", [0, 1])
def test_up_to_the_seeding_sample_the_clusters_are_scikit_learns(wordnet_vectors, seed):
    X = wordnet_vectors[0]
    ours = SampledKMeans(8, n_init=4, random_state=seed, tol=0).fit(X)
    theirs = KMeans(8, n_init=4, random_state=seed).fit(X)
    np.testing.assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.inertia_ == pytest.approx(theirs.inertia_, rel=1e-4)


def test_same_seed_same_clusters(wordnet_vectors):
    X = wordnet_vectors[0]
    first, second = (SampledKMeans(8, n_init=2, sample_size=200, random_state=5).fit(X) for _ in range(2))
    np.testing.assert_array_equal(first.labels_, second.labels_)


def test_an_empty_centre_moves_to_the_farthest_point():
    X = np.array([[0, 0], [0, 1], [10, 0], [10, 1], [50, 50]], np.float32)
    start = np.array([[0, 0.5], [10, 0.5], [-100, -100]], np.float32)
    centres, _, _ = _lloyd(X, np.einsum("ij,ij->i", X, X), start, max_iter=10, tol=0)
    assert sorted(map(tuple, centres.tolist())) == [(0, 0.5), (10, 0.5), (50, 50)]


@pytest.mark.parametrize("bad", [{"n_clusters": 0}, {"n_init": 0}, {"tol": -1.0}, {"sample_size": "all"}])
def test_parameters_are_checked(bad):
    with pytest.raises(InvalidParameterError):
        SampledKMeans(**bad).fit(np.zeros((10, 2), np.float32))
