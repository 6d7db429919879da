"""Unit tests of the clustering pieces: stable id matching and its events, the knee of the elbow, the
nearest-centroid model, the density fits and the score that chooses DBSCAN's radius."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.metrics import adjusted_rand_score

from embc.cluster.assign import NOISE, CentroidModel
from embc.cluster.matching import match_clusters
from embc.cluster.sweep import below_chord, choose_k, knee, near_knee


def _blobs(sizes: list[int], centres: list[tuple[float, float]], seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(c, 0.05, size=(n, 2)) for n, c in zip(sizes, centres)]).astype(np.float32)


def _gaussian_classes(truth: np.ndarray, spread: float, rng: np.random.Generator) -> np.ndarray:
    """32-D points of the classes `truth` numbers: each class's centre drawn from N(0, 1), its points at `spread`."""
    centres = rng.normal(size=(truth.max() + 1, 32))
    return (centres[truth] + spread * rng.normal(size=(len(truth), 32))).astype(np.float32)


def _match(previous: list[int], labels: list[int], X: np.ndarray, next_id: int = 10):
    previous, labels = np.array(previous), np.array(labels)
    old = CentroidModel().fit(X, previous)
    return match_clusters(previous, labels, old, CentroidModel().fit(X, labels), next_id)


def test_the_same_clusters_under_other_labels_keep_their_ids_with_no_events():
    X = _blobs([30, 30, 30], [(0, 0), (1, 0), (0, 1)])
    previous = [4] * 30 + [7] * 30 + [2] * 30
    mapping, events = _match(previous, [0] * 30 + [1] * 30 + [2] * 30, X)
    assert mapping == {NOISE: NOISE, 0: 4, 1: 7, 2: 2} and events == []


def test_a_new_cluster_is_born_with_an_unused_id_and_a_vanished_one_dies():
    X = _blobs([30, 30, 30], [(0, 0), (1, 0), (0, 1)])
    previous = [0] * 30 + [1] * 30 + [NOISE] * 30  # the third blob is new
    mapping, events = _match(previous, [5] * 30 + [6] * 30 + [8] * 30, X)
    assert mapping == {NOISE: NOISE, 5: 0, 6: 1, 8: 10}
    assert events == [{"kind": "birth", "cluster": 10, "related": []}]
    mapping, events = _match([0] * 30 + [1] * 30 + [2] * 30, [0] * 60 + [NOISE] * 30, X)
    assert {"kind": "death", "cluster": 2, "related": []} in events
    assert {"kind": "death", "cluster": 1, "related": []} in events and mapping[0] == 0


def test_a_split_and_a_merge_are_recorded_with_the_ids_involved():
    X = _blobs([30, 30, 30], [(0, 0), (1, 0), (0, 1)])
    split_mapping, split = _match([0] * 60 + [1] * 30, [0] * 30 + [1] * 30 + [2] * 30, X)
    heirs = sorted(split_mapping[c] for c in (0, 1))
    assert {"kind": "split", "cluster": 0, "related": heirs} in split
    assert [e["kind"] for e in split].count("birth") == 1
    merged_mapping, merged = _match([0] * 30 + [1] * 30 + [2] * 30, [0] * 60 + [1] * 30, X)
    assert {"kind": "merge", "cluster": merged_mapping[0], "related": [0, 1]} in merged
    assert {"kind": "death", "cluster": ({0, 1} - {merged_mapping[0]}).pop(), "related": []} in merged


def test_clusters_that_share_no_members_match_by_centroid_within_the_old_extent():
    X = _blobs([30, 30], [(0, 0), (1, 0)])
    old = CentroidModel().fit(X, np.array([3] * 30 + [9] * 30))
    moved = X + np.float32(0.01)  # the same clusters, re-embedded: no shared members
    new_labels = np.array([0] * 30 + [1] * 30)
    mapping, events = match_clusters(np.full(60, NOISE), new_labels, old, CentroidModel().fit(moved, new_labels), 20)
    assert mapping == {NOISE: NOISE, 0: 3, 1: 9} and events == []
    far = X + np.float32(5)
    mapping, events = match_clusters(np.full(60, NOISE), new_labels, old, CentroidModel().fit(far, new_labels), 20)
    assert sorted(mapping.values()) == [NOISE, 20, 21]
    assert sorted(e["kind"] for e in events) == ["birth", "birth", "death", "death"]


def test_the_knee_is_the_k_farthest_below_the_line_and_choose_k_takes_it_whatever_the_silhouettes():
    ks = list(range(2, 11))
    inertias = [100, 60, 30, 25, 22, 20, 19, 18, 17]
    assert knee(ks, inertias) == 4
    assert knee([2, 3, 4], [5, 5, 5]) == 2  # flat: no bend
    silhouettes = [.9, .2, .3, .5, .4, .2, .1, .6, .1]
    rows = [{"k": k, "inertia": i, "silhouette": s} for k, i, s in zip(ks, inertias, silhouettes)]
    assert choose_k(rows) == 4  # k = 2's best silhouette does not pull it down


def test_near_the_knee_are_the_k_within_a_tenth_of_its_distance_below_the_chord():
    ks = list(range(2, 11))
    sharp = below_chord(ks, [100, 60, 30, 25, 22, 20, 19, 18, 17])
    assert [k for k, near in zip(ks, near_knee(sharp)) if near] == [4]
    gradual = below_chord(ks, [100, 88, 79, 72, 66, 61, 57, 54, 52])  # no bend stands out: a wide band
    assert [k for k, near in zip(ks, near_knee(gradual)) if near] == [4, 5, 6, 7]


def test_centroid_model_assigns_nearest_clusters_and_noise_outside_every_extent():
    X = _blobs([20, 20], [(0, 0), (1, 0)])
    model = CentroidModel().fit(X, np.array([0] * 20 + [1] * 20))
    assert model.ids_.tolist() == [0, 1]
    np.testing.assert_allclose(model.centroids_, [X[:20].mean(0), X[20:].mean(0)], atol=1e-6)
    labels, distances = model.assign(np.array([[0.01, 0], [0.98, 0.01], [0.5, 3.0]], np.float32))
    assert labels.tolist() == [0, 1, NOISE] and distances[2] > model.radii_.max()
    assert model.relabel({0: 7, 1: 3}).predict(X[:1]).tolist() == [7]
    assert CentroidModel().fit(X, np.full(40, NOISE)).predict(X[:2]).tolist() == [NOISE, NOISE]


def test_noise_is_left_out_of_the_centroids():
    X = np.array([[0, 0], [0, 0.1], [1, 0], [1, 0.1], [9, 9], [9, 8]], np.float32)
    model = CentroidModel().fit(X, np.array([0, 0, 1, 1, NOISE, NOISE]))
    assert model.ids_.tolist() == [0, 1] and model.radii_.max() < 1


def test_hdbscan_reads_the_density_tree_below_a_cluster_of_most_of_the_points():
    """Two far-apart groups of blobs, of 400 and 200 points: excess of mass alone keeps the larger group as one
    cluster (two clusters in all); no cluster may hold over half the points, so its four blobs are found."""
    from embc.cluster.algorithms import HDBSCAN

    rng = np.random.default_rng(0)
    blobs = [(60 * group, 6 * blob) for group, count in ((0, 4), (1, 2)) for blob in range(count)]
    X = np.vstack([np.array([x, y, 0, 0, 0]) + rng.normal(size=(100, 5)) for x, y in blobs])
    labels = HDBSCAN(min_cluster_size=6, reduce="none").fit(X).labels_
    sizes = np.unique(labels[labels != NOISE], return_counts=True)[1]
    assert len(sizes) >= 5 and sizes.max() <= 300, sizes
    truth = np.repeat(np.arange(6), 100)
    assert adjusted_rand_score(truth, labels) > 0.8


def test_hdbscan_reads_the_tree_below_a_cluster_that_the_noise_takes_past_half_the_points():
    """Two far-apart groups of two blobs (240 points each) and 40 points scattered far out on one group's side,
    six draws: the tree keeps each group whole, under the cap of half the points. Where it leaves the scattered
    points as noise, they join that group and take it past half (up to 280 of 520). No cluster that users get may
    hold that many: the tree is read below it, and its blobs come apart (at four draws of six)."""
    from embc.cluster.algorithms import HDBSCAN

    split = 0
    for seed in range(6):
        rng = np.random.default_rng(seed)
        blobs = np.vstack([np.array([x, 0, 0, 0, 0]) + rng.normal(size=(120, 5)) for x in (0, 5, 80, 85)])
        away = rng.normal(size=(40, 5))
        away[:, 0] = -np.abs(away[:, 0])
        away *= rng.uniform(150, 300, size=(40, 1)) / np.linalg.norm(away, axis=1, keepdims=True)
        labels = HDBSCAN(min_cluster_size=6, reduce="none").fit(np.vstack([blobs, away])).labels_
        assert np.unique(labels[labels != NOISE], return_counts=True)[1].max() <= 260, seed
        split += adjusted_rand_score(np.repeat(np.arange(4), 120), labels[:480]) > 0.95
    assert split >= 3


def test_hdbscan_on_a_few_dozen_points_keeps_a_class_of_more_than_half_whole():
    """27 points, a class of 18 and one of 9, six draws: on fewer than 30 points no cap splits the larger class
    (with the cap of half: ARI 0.31-0.56)."""
    from embc.cluster.algorithms import HDBSCAN

    truth = np.repeat([0, 1], [18, 9])
    for seed in range(6):
        rng = np.random.default_rng(seed)
        X = np.vstack([rng.normal(size=(18, 5)), np.array([8, 0, 0, 0, 0]) + rng.normal(size=(9, 5))])
        assert adjusted_rand_score(truth, HDBSCAN(reduce="none").fit(X).labels_) == 1.0, seed


def test_density_fits_of_few_points_keep_classes_smaller_than_the_usual_neighbourhood_apart():
    """300 points in 20 classes of 15: a reduction from 30 neighbours ties each class to the next (9-11
    clusters); on so few points it keeps fewer neighbours, and both density fits find every class."""
    from embc.cluster.algorithms import DBSCAN, HDBSCAN

    rng = np.random.default_rng(0)
    truth = np.repeat(np.arange(20), 15)
    X = _gaussian_classes(truth, 0.8, rng)
    for estimator in (DBSCAN(), HDBSCAN()):
        labels = estimator.fit(X).labels_
        assert len(set(labels.tolist()) - {NOISE}) >= 19 and adjusted_rand_score(truth, labels) > 0.9, estimator


@given(n=st.integers(1, 10**6))
def test_the_reduction_keeps_more_neighbours_as_the_sample_grows_and_30_in_between(n):
    """Fewer neighbours on a few hundred points (classes of a dozen), more on many thousands (the large classes' sub-
    topics kept together), a step at most between neighbouring sizes: bench/quality.py --large measures it."""
    from embc.cluster.algorithms import reduce_neighbours

    kept = reduce_neighbours(n)
    assert 0 <= reduce_neighbours(n + 1) - kept <= 1 and 10 <= kept <= 60
    assert kept == 30 or not 600 <= n <= 3_000
    assert kept == 60 or n < 6_000


def test_dbscan_on_a_few_hundred_points_finds_classes_smaller_than_the_usual_core():
    """300 points in 13 classes of 9-38, as a small photo collection, six draws, fitted on the points themselves
    (the reduction's layout moves with the processor's rounding): a core of 10 points cannot form inside a class of
    9, whose points join a neighbour's (6-9 clusters, mean ARI 0.69); on fewer than 600 points a core needs 5, and
    every draw finds more of the classes (9-11 clusters, 0.85)."""
    from embc.cluster.algorithms import DBSCAN

    truth = np.repeat(np.arange(13), [38, 34, 32, 30, 28, 26, 24, 22, 20, 16, 12, 9, 9])
    scores = {"default": [], "core of 10": []}
    for seed in range(6):
        X = _gaussian_classes(truth, 0.8, np.random.default_rng(seed))
        fits = {"default": DBSCAN(reduce="none").fit(X), "core of 10": DBSCAN(min_samples=10, reduce="none").fit(X)}
        assert fits["default"].chosen_["min_size_chosen"] == 5
        found = {name: len(set(fit.labels_.tolist()) - {NOISE}) for name, fit in fits.items()}
        for name, fit in fits.items():
            scores[name].append(adjusted_rand_score(truth, fit.labels_))
        assert found["default"] > found["core of 10"] and scores["default"][-1] > scores["core of 10"][-1], seed
    assert np.mean(scores["default"]) > 0.8 and np.mean(scores["core of 10"]) < 0.75, scores


def test_dbscan_keeps_a_radius_whose_clusters_stand_clearly_apart_over_finer_ones_that_find_more():
    """5 far-apart classes of 60 points, each of three overlapping lumps, six draws: the finer radii find the lumps
    of some classes apart, and the best among those that find at least half the most clusters split them at five
    draws of six (6-7 clusters, mean ARI 0.94); a radius whose clusters density tells apart clearly (DBCV 0.8 or
    more), none of over 45% of the points, finds the five classes at every draw."""
    from embc.cluster.algorithms import DBSCAN

    truth = np.repeat(np.arange(5), 60)
    scores = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        centres = 12 * rng.normal(size=(5, 5))
        lumps = np.repeat(centres, 3, axis=0) + 0.5 * rng.normal(size=(15, 5))
        X = (np.repeat(lumps, 20, axis=0) + 0.4 * rng.normal(size=(300, 5))).astype(np.float32)
        labels = DBSCAN(reduce="none").fit(X).labels_
        assert len(set(labels.tolist()) - {NOISE}) == 5, seed
        scores.append(adjusted_rand_score(truth, labels))
    assert np.mean(scores) > 0.98, scores


def test_hdbscan_on_a_hundred_or_so_points_tells_classes_of_a_few_points_apart():
    """96 points in 12 classes of 8 and 150 in 15 of 10, four draws each: with a density from 5 neighbours,
    classes this small run together (mean ARI 0.69 over the eight fits); on fewer than 250 points it comes
    from fewer (0.82)."""
    from embc.cluster.algorithms import HDBSCAN

    scores = []
    for classes, size in ((12, 8), (15, 10)):
        truth = np.repeat(np.arange(classes), size)
        for seed in range(4):
            rng = np.random.default_rng(seed)
            X = _gaussian_classes(truth, 1.0, rng)
            scores.append(adjusted_rand_score(truth, HDBSCAN().fit(X).labels_))
    assert np.mean(scores) > 0.75, np.round(scores, 2)


def test_density_fits_of_a_few_dozen_points_find_groups_smaller_than_the_usual_core():
    """24 points in 3 classes of 8, eight draws: DBSCAN's usual 10 points to a core span two classes (mean ARI
    0.17); on so few points it asks for fewer (0.73). hdbscan's density from 3 neighbours blurs classes this small
    (0.81); on fewer than 150 points it counts 2 (0.91)."""
    from embc.cluster.algorithms import DBSCAN, HDBSCAN

    truth = np.repeat(np.arange(3), 8)
    for estimator, floor in ((DBSCAN(), 0.6), (HDBSCAN(), 0.86)):
        scores = []
        for seed in range(8):
            rng = np.random.default_rng(seed)
            X = _gaussian_classes(truth, 1.0, rng)
            scores.append(adjusted_rand_score(truth, estimator.fit(X).labels_))
        assert np.mean(scores) > floor and estimator.chosen_["min_size_chosen"] in (3, 4), (estimator, scores)


def test_density_fits_measure_angles_from_near_the_collections_mean():
    """Two items 20 degrees apart on either side of their mean: from the origin nearly alike (cosine 0.94), from
    the mean itself opposite, and from three quarters of the way to it (the density fits' CENTRING) 70 degrees
    apart: what both share counts less."""
    from embc.cluster.algorithms import CENTRING
    from embc.cluster.reduce import centred

    a = np.radians(10)
    X = np.array([[np.cos(a), np.sin(a)], [np.cos(a), -np.sin(a)]], np.float32)
    assert CENTRING == 0.75
    for share, cosine in ((0, np.cos(2 * a)), (1, -1), (CENTRING, np.cos(2 * np.arctan(np.tan(a) / 0.25)))):
        Y = centred(X, share)
        assert np.allclose(np.linalg.norm(Y, axis=1), 1) and Y[0] @ Y[1] == pytest.approx(cosine, abs=1e-6), share


def test_density_fits_of_fewer_points_than_a_cluster_are_all_noise():
    from embc.cluster.algorithms import DBSCAN, HDBSCAN

    X = _blobs([2, 1], [(0, 0), (1, 1)])
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    for estimator in (HDBSCAN(min_cluster_size=4, reduce="pca"), DBSCAN(min_samples=4, reduce="none")):
        assert estimator.fit(X).labels_.tolist() == [NOISE] * 3, estimator
    for estimator in (HDBSCAN(reduce="none"), DBSCAN(reduce="none")):  # by default, a cluster has 3 points or more
        assert estimator.fit(X[:2]).labels_.tolist() == [NOISE] * 2, estimator
    HDBSCAN(min_cluster_size=10**30).check_memory(3)  # a size beyond the points needs no more memory than they do


def test_dbcv_weighs_each_clusters_valley_against_its_sparseness_and_counts_noise_against_it():
    """Worked by hand: in 1-D, clusters {0, 1, 2} and {10, 11, 12}. Core distances 4/3, 1, 4/3; each tree's inner
    node is its middle point, so sparseness 4/3 (its heaviest edge) and separation 10: (10 - 4/3) / 10 each."""
    from embc.cluster.validity import dbcv

    X = np.array([[0.0], [1], [2], [10], [11], [12], [50]])
    assert dbcv(X[:6], np.array([0, 0, 0, 1, 1, 1])) == pytest.approx(13 / 15)
    assert dbcv(X, np.array([0, 0, 0, 1, 1, 1, NOISE])) == pytest.approx(6 / 7 * 13 / 15)
    assert dbcv(X[:6], np.array([0, 0, 0, 0, 0, 0])) == -1.0


def test_dbcv_spanning_trees_are_minimal_and_points_at_one_place_leave_no_cluster_without_one():
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import cdist

    from embc.cluster.validity import _spanning_tree, dbcv

    for n in (2, 3, 40):
        weights = cdist(*2 * [np.random.default_rng(n).normal(size=(n, 3))])
        ends, chosen = _spanning_tree(weights)
        assert len(ends) == n - 1 and len(np.unique(ends)) == n and np.allclose(weights[ends[:, 0], ends[:, 1]], chosen)
        assert chosen.sum() == pytest.approx(minimum_spanning_tree(weights).sum())
    # scipy's sparse trees drop edges of weight 0: five points at one place would have had no tree.
    X = np.vstack([np.zeros((5, 2)), _blobs([20], [(3, 3)])])
    assert 0.5 < dbcv(X, np.repeat([0, 1], [5, 20])) <= 1


def test_dbcv_scores_the_blobs_above_a_blob_cut_in_two_or_two_blobs_merged():
    from embc.cluster.validity import dbcv

    X = _blobs([60, 60, 60], [(0, 0), (1, 0), (0, 1)])
    truth = np.repeat([0, 1, 2], 60)
    cut = truth.copy()
    cut[:30] = 3
    merged = np.where(truth == 2, 1, truth)
    assert dbcv(X, truth) > 0.8 > max(dbcv(X, cut), dbcv(X, merged))
