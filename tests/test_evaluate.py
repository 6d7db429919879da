"""embc's own silhouette, Calinski-Harabasz and Davies-Bouldin (faster, smaller) agree with scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics

from embc.cluster.evaluate import calinski_harabasz, davies_bouldin, evaluate, silhouette


def test_silhouette_matches_scikit_learn(wordnet_vectors):
    X, labels, _ = wordnet_vectors
    assert silhouette(X, labels) == pytest.approx(metrics.silhouette_score(X, labels), abs=1e-5)
    # A cluster of one point scores 0, as in scikit-learn.
    single = labels.copy()
    single[0] = 99
    assert silhouette(X, single) == pytest.approx(metrics.silhouette_score(X, single), abs=1e-5)


def test_calinski_harabasz_matches_scikit_learn(wordnet_vectors):
    X, labels, _ = wordnet_vectors
    assert calinski_harabasz(X, labels) == pytest.approx(metrics.calinski_harabasz_score(X, labels), rel=1e-5)


def test_davies_bouldin_matches_scikit_learn(wordnet_vectors):
    X, labels, _ = wordnet_vectors
    assert davies_bouldin(X, labels, chunk=100) == pytest.approx(metrics.davies_bouldin_score(X, labels), rel=1e-5)
    same = np.zeros((4, 3), np.float32)
    assert davies_bouldin(same, np.array([0, 0, 1, 1])) == metrics.davies_bouldin_score(same, [0, 0, 1, 1]) == 0


def test_noise_is_left_out_and_external_metrics_use_labelled_points_only(wordnet_vectors):
    X, labels, truth = wordnet_vectors
    noisy = labels.copy()
    noisy[:10] = -1
    partial = [None] * 5 + truth[5:]
    result = evaluate(X, noisy, partial)
    out = result.metrics
    assert out["noise_fraction"] == pytest.approx(10 / len(X))
    assert out["silhouette"] == pytest.approx(metrics.silhouette_score(X[10:], noisy[10:]), abs=1e-5)
    assert out["labelled_fraction"] == pytest.approx(1 - 5 / len(X))
    assert out["nmi"] == pytest.approx(metrics.normalized_mutual_info_score(truth[5:], noisy[5:]))
    # The silhouette sample is indexed into X and holds no noise; per-cluster means match scikit-learn's.
    assert set(result.sample) == set(range(10, len(X)))
    per_point = metrics.silhouette_samples(X[10:], noisy[10:])
    expected = {c: per_point[noisy[10:] == c].mean() for c in np.unique(noisy[10:])}
    assert result.per_cluster(noisy) == pytest.approx(expected, abs=1e-5)
