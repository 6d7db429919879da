"""The clustering algorithms, as scikit-learn estimators (`fit`, `predict`, `labels_`).

K-Means fits its starts on a sample and refines the best on every point (`embc.cluster.kmeans`). DBSCAN,
HDBSCAN and agglomerative clustering need memory or time that grows faster than n, so they fit a sample of at
most `sample_cap` points and assign the rest to the nearest cluster. The density algorithms run on a UMAP (or
PCA) reduction: in 384 dimensions distances concentrate and DBSCAN or HDBSCAN call most points noise. What
they need and users rarely know (DBSCAN's eps, HDBSCAN's smallest cluster) is chosen from the data by default.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin

from embc.cluster import memory
from embc.cluster.assign import NOISE, CentroidModel, cluster_count
from embc.cluster.kmeans import SampledKMeans
from embc.cluster.params import SAMPLE_CAP, k_range
from embc.cluster.reduce import centred, reduce

# Chosen on eight labelled sets and checked on twelve of 5-20 classes (docs/quality.md): 5 dimensions from 30
# neighbours keep topics apart better than 10 from 15, where hdbscan merged most of a set into two clusters.
REDUCED_DIMS = 5
REDUCE_NEIGHBOURS = 30
# UMAP's neighbours are by angle seen from three quarters of the way to the sample's mean (`centred`), so what all
# of a collection shares (one domain, one kind of picture) counts less. On the twenty-two sets at three seeds (docs/
# quality.md) it gained 0.06-0.11 NMI on a computing dictionary and a set of photographs, 0.01 on average, and lost
# 0.05 at most (dbscan on openclipart-sub-13); from the mean itself, handwritten digits lost 0.05-0.07.
CENTRING = 0.75
NEIGHBOURS_PER_POINTS = 20  # on small samples, fewer neighbours (reduce_neighbours)
MIN_NEIGHBOURS = 10
# On large samples, more: one per LARGE_NEIGHBOURS_PER_POINTS points from 3,000 on, at most MOST_NEIGHBOURS (60 at
# the 10,000-point sample). On 21,650 WordNet glosses in 12 classes, 30 neighbours split the large classes into
# sub-topics (hdbscan 0.45-0.47 NMI against k-means' 0.53) and 60 kept them (0.49); four other sets of 5,000-13,000
# items moved by -0.01 to +0.01 (docs/quality.md).
LARGE_NEIGHBOURS_PER_POINTS = 100
MOST_NEIGHBOURS = 60
MIN_SHARE = 0.01
MAX_SHARE = 0.5  # the most of the points fitted that one hdbscan cluster may hold, the noise joined (see HDBSCAN)
# On fewer points no cap: there it split the larger of two or three topics more often than it kept many topics from
# merging (docs/quality.md).
CAPPED_FROM = 30
# dbscan: a radius whose clusters density tells apart this clearly (DBCV) is kept even where finer radii find more,
# unless one of them holds over CLEAR_MAX_SHARE of the points clustered (half of Fashion-MNIST is its five tops).
CLEAR_SCORE = 0.8
CLEAR_MAX_SHARE = 0.45
MIN_CLUSTER = 5
DBSCAN_MIN_SAMPLES = 10
# On fewer than 600 points, a dbscan core needs fewer neighbours: one per CORE_PER_POINTS, at least SMALL_CORE.
CORE_PER_POINTS = 60
SMALL_CORE = 5
# On a few dozen points, groups of a few: fewer points make a core or a cluster (`per_points`).
SAMPLES_PER_POINTS = 6
CLUSTER_PER_POINTS = 8
FEWEST = 3
HDBSCAN_MIN_SAMPLES = 5
HDBSCAN_SAMPLES_PER_POINTS = 50  # on fewer than 250 points, a more local density (`density_samples`)
HDBSCAN_FEWEST_SAMPLES = 2
EPS_QUANTILES = np.arange(0.20, 0.96, 0.05)
SCORE_SAMPLE = 2000
NOISE_VOTERS = 10
NOISE_AGREEMENT = 0.6


class SampledClustering(ClusterMixin, BaseEstimator):
    """Fits `_fit_sample` on at most `sample_cap` points; the rest go to the nearest cluster, or to noise
    outside every cluster's extent (`CentroidModel`)."""

    sample_cap: int
    random_state: int

    def fit(self, X: np.ndarray, y=None) -> "SampledClustering":
        n = len(X)
        rng = np.random.default_rng(self.random_state)
        sample = np.sort(rng.choice(n, size=self.sample_cap, replace=False)) if n > self.sample_cap else None
        Xs = X if sample is None else X[sample]
        self.check_memory(n)
        sample_labels = np.asarray(self._fit_sample(Xs), np.int64)
        self.model_ = CentroidModel().fit(Xs, sample_labels)
        if sample is None:
            self.labels_ = sample_labels
        else:
            self.labels_ = self.model_.predict(X)
            self.labels_[sample] = sample_labels
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)

    def check_memory(self, n: int) -> None:
        """Refuse, before any work, a fit of `n` points that would not fit the memory budget."""
        m = min(n, self.sample_cap)
        memory.require(self._bytes_needed(m), f"{type(self).__name__} on {m:,} points",
                       "lower the sample cap, or use the kmeans algorithm")

    def _fit_sample(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _bytes_needed(self, m: int) -> float:
        # Pairwise distances, condensed: what hierarchical linkage holds, and DBSCAN's neighbourhoods at worst.
        return 4.0 * m * m


class Agglomerative(SampledClustering):
    def __init__(self, n_clusters: int = 8, linkage: str = "ward", sample_cap: int = SAMPLE_CAP,
                 random_state: int = 0):
        self.n_clusters = n_clusters
        self.linkage = linkage
        self.sample_cap = sample_cap
        self.random_state = random_state

    def _fit_sample(self, X: np.ndarray) -> np.ndarray:
        from sklearn.cluster import AgglomerativeClustering

        return AgglomerativeClustering(self.n_clusters, linkage=self.linkage).fit(X).labels_


class DensityClustering(SampledClustering):
    """DBSCAN and HDBSCAN on a UMAP (or PCA) reduction of the sample; UMAP's is of angles seen from near the
    sample's mean (CENTRING). Afterwards a noise point joins a cluster when most of its nearest clustered
    neighbours in the reduced space belong to it (`absorb_noise`): density estimates leave a cluster's fringe
    out, and a user asked for clusters."""

    reduce: str
    chosen_: dict

    def _fit_sample(self, X: np.ndarray) -> np.ndarray:
        return self._cluster(density_space(X, self.reduce, self.random_state))

    def _cluster(self, Z: np.ndarray) -> np.ndarray:
        """The clusters of the reduced points `Z`, their noise joined (`absorb_noise`)."""
        raise NotImplementedError

    def _size(self, given: int | None, default: int) -> int:
        """The size setting a fit uses: `given`, else `default`, recorded as the run's min_size_chosen."""
        self.chosen_ = {} if given else {"min_size_chosen": default}
        return given or default


class DBSCAN(DensityClustering):
    """DBSCAN; without `eps`, one of the quantiles of the distances to the `min_samples`-th neighbour: of those
    that find at least half as many clusters (of `smallest_cluster` points or more) as any, the one whose
    clusters are best told apart by density (`eps_score`), unless another's are told apart clearly (DBCV of
    CLEAR_SCORE or more) with no cluster of more than CLEAR_MAX_SHARE of the points clustered: that one. Without
    `min_samples`, DBSCAN_MIN_SAMPLES, fewer on fewer than 600 points (`core_samples`)."""

    def __init__(self, eps: float | None = None, min_samples: int | None = None, reduce: str = "umap",
                 sample_cap: int = SAMPLE_CAP, random_state: int = 0):
        self.eps = eps
        self.min_samples = min_samples
        self.reduce = reduce
        self.sample_cap = sample_cap
        self.random_state = random_state

    def _cluster(self, Z: np.ndarray) -> np.ndarray:
        from sklearn.cluster import DBSCAN as SkDBSCAN

        min_samples = self._size(self.min_samples, core_samples(len(Z)))
        if self.eps:
            labels = SkDBSCAN(eps=self.eps, min_samples=min_samples).fit(Z).labels_
        else:
            radii, fits = zip(*eps_candidates(Z, min_samples))
            chosen = chosen_radius(list(fits), [eps_score(Z, labels, self.random_state) for labels in fits])
            self.chosen_["eps_chosen"] = radii[chosen]
            labels = fits[chosen]
        return absorb_noise(Z, labels)


class HDBSCAN(DensityClustering):
    """HDBSCAN; without `min_cluster_size`, 1% of the points fitted (`smallest_cluster`). From CAPPED_FROM points
    on, no cluster may hold more than MAX_SHARE of them, once the noise has joined: where the density tree's most
    lasting split is into two far-apart groups of topics, its excess-of-mass choice kept the larger group whole,
    one cluster of most of a collection; the tree is read below it instead. Where no cluster that large was
    chosen, the result is the same."""

    def __init__(self, min_cluster_size: int | None = None, reduce: str = "umap", sample_cap: int = SAMPLE_CAP,
                 random_state: int = 0):
        self.min_cluster_size = min_cluster_size
        self.reduce = reduce
        self.sample_cap = sample_cap
        self.random_state = random_state

    def _cluster(self, Z: np.ndarray) -> np.ndarray:
        from sklearn.cluster import HDBSCAN as SkHDBSCAN

        size = self._size(self.min_cluster_size, smallest_cluster(len(Z)))
        if len(Z) < size:  # no cluster that small can form: all noise, as DBSCAN finds there
            return np.full(len(Z), -1)
        tree = partial(SkHDBSCAN, min_cluster_size=size, min_samples=min(density_samples(len(Z)), size), copy=False)
        most = max(size, int(MAX_SHARE * len(Z))) if len(Z) >= CAPPED_FROM else None  # None: no cap
        found = tree(max_cluster_size=most).fit(Z).labels_
        labels = absorb_noise(Z, found)
        # The cap holds on the tree's clusters; the noise that joins one can take it past (wordnet-verbs-12 at one
        # seed: clusters of 543 and 438 of 1,220 points became 668 and 543), so the tree is read below that one.
        while most and (largest := largest_cluster(labels)) is not None and largest[1] > most:
            below = int((found == largest[0]).sum()) - 1
            if below < size:
                break
            found = tree(max_cluster_size=below).fit(Z).labels_
            labels = absorb_noise(Z, found)
        return labels

    def _bytes_needed(self, m: int) -> float:
        size = min(self.min_cluster_size or smallest_cluster(m), m)  # a larger one finds only noise
        return 8.0 * m * (REDUCED_DIMS + 2 * size)  # tree-based neighbours, no n x n matrix


def density_space(X: np.ndarray, method: str, seed: int, dims: int = REDUCED_DIMS,
                  neighbours: int | None = None) -> np.ndarray:
    """The space the density fits cluster in: X reduced by `method`, UMAP's of angles seen from near X's mean
    (CENTRING), from `reduce_neighbours` neighbours unless given."""
    X = centred(X, CENTRING) if method == "umap" else X
    return reduce(X, method, dims, seed, neighbours=reduce_neighbours(len(X)) if neighbours is None else neighbours)


def per_points(n: int, per: int, fewest: int, most: int) -> int:
    """One per `per` of `n` points, from `fewest` to `most`: a setting that follows a small collection's size."""
    return max(fewest, min(most, n // per))


def reduce_neighbours(n: int) -> int:
    """The neighbours of each point that the reduction of `n` points keeps: REDUCE_NEIGHBOURS, one per
    NEIGHBOURS_PER_POINTS points on fewer than 600 (at least MIN_NEIGHBOURS), and one per LARGE_NEIGHBOURS_PER_POINTS
    from 3,000 (at most MOST_NEIGHBOURS). A neighbourhood wider than a class ties it to the next: on 300 points in 20
    classes, 30 neighbours left 9-11 clusters and 15 found all 20; one narrower than a class's spread parts it."""
    if n < REDUCE_NEIGHBOURS * NEIGHBOURS_PER_POINTS:
        return per_points(n, NEIGHBOURS_PER_POINTS, MIN_NEIGHBOURS, REDUCE_NEIGHBOURS)
    return per_points(n, LARGE_NEIGHBOURS_PER_POINTS, REDUCE_NEIGHBOURS, MOST_NEIGHBOURS)


def core_samples(n: int) -> int:
    """DBSCAN's default min_samples on `n` points: DBSCAN_MIN_SAMPLES from 600 points, one per CORE_PER_POINTS
    from 300 to 600, SMALL_CORE below, and one per SAMPLES_PER_POINTS on fewer than 30 (at least FEWEST). A class
    smaller than min_samples cannot hold a core of its own, so its points join the next class's: on 307 pictures
    in 13 classes of 8-40, a core of 10 found 4-5 clusters and 5 found 14-16 (docs/quality.md)."""
    return min(per_points(n, SAMPLES_PER_POINTS, FEWEST, DBSCAN_MIN_SAMPLES),
               per_points(n, CORE_PER_POINTS, SMALL_CORE, DBSCAN_MIN_SAMPLES))


def density_samples(n: int) -> int:
    """hdbscan's min_samples on `n` points: HDBSCAN_MIN_SAMPLES, or one per HDBSCAN_SAMPLES_PER_POINTS on fewer
    than 250 (at least HDBSCAN_FEWEST_SAMPLES, below 150). A small one keeps the density estimate local: with it
    equal to the cluster size, scikit-learn's default, large sets merged into two or three clusters; on a few
    hundred points or fewer, classes of a dozen hold too few points for 5 neighbours to tell them apart, and on a
    few dozen, classes of a few for 3 (docs/quality.md)."""
    return per_points(n, HDBSCAN_SAMPLES_PER_POINTS, HDBSCAN_FEWEST_SAMPLES, HDBSCAN_MIN_SAMPLES)


def reach_distances(Z: np.ndarray, min_samples: int) -> np.ndarray:
    """Each point's distance to its `min_samples`-th neighbour: within it, DBSCAN counts the point a core."""
    from sklearn.neighbors import NearestNeighbors

    k = min(min_samples, len(Z) - 1)
    return NearestNeighbors(n_neighbors=k + 1).fit(Z).kneighbors(Z)[0][:, -1]


def eps_candidates(Z: np.ndarray, min_samples: int, reach: np.ndarray | None = None) -> list[tuple[float, np.ndarray]]:
    """(eps, labels) of DBSCAN at each radius DBSCAN chooses among: the EPS_QUANTILES of the reach distances,
    with clusters under `smallest_cluster` points dropped into noise."""
    from sklearn.cluster import DBSCAN as SkDBSCAN

    reach = reach_distances(Z, min_samples) if reach is None else reach
    radii = np.maximum(np.unique(np.quantile(reach, EPS_QUANTILES)), 1e-6).tolist()
    smallest = smallest_cluster(len(Z))
    return [(eps, drop_small(SkDBSCAN(eps=eps, min_samples=min_samples).fit(Z).labels_, smallest)) for eps in radii]


def smallest_cluster(n: int) -> int:
    """The smallest cluster a density fit keeps by default: 1% of the points, at least MIN_CLUSTER, or one per
    CLUSTER_PER_POINTS points on fewer than 40 (at least FEWEST). On 12-31 points in 2-3 classes, hdbscan with
    5 found no cluster at most draws, and met issue 18's targets on 20 samples of 120; with an eighth, on 42."""
    return max(per_points(n, CLUSTER_PER_POINTS, FEWEST, MIN_CLUSTER), round(n * MIN_SHARE))


def drop_small(labels: np.ndarray, smallest: int) -> np.ndarray:
    """Clusters of fewer than `smallest` points become noise."""
    ids, counts = np.unique(labels[labels != NOISE], return_counts=True)
    return np.where(np.isin(labels, ids[counts < smallest]), NOISE, labels)


def chosen_radius(fits: list[np.ndarray], scores: list[float]) -> int:
    """Which of DBSCAN's fits at its candidate radii (their labels, scored by `eps_score`) it keeps: the best scored
    where its clusters are told apart clearly (CLEAR_SCORE or more) and none holds over CLEAR_MAX_SHARE of the points
    clustered; else the best of those that find at least half as many clusters as any (`best_resolving`)."""
    best = int(np.argmax(scores))
    if scores[best] >= CLEAR_SCORE and largest_share(fits[best]) <= CLEAR_MAX_SHARE:
        return best
    return best_resolving(fits, scores)


def best_resolving(fits: list[np.ndarray], scores: list[float]) -> int:
    """The best scored of the fits that find at least half as many clusters as any. The score alone rewards, on
    some collections, a radius that merges everything into two or three clusters (DBCV up to 0.72 on the labelled
    sets), where a finer one finds the topics."""
    counts = [cluster_count(labels) for labels in fits]
    return max((i for i, count in enumerate(counts) if count >= max(counts) / 2), key=scores.__getitem__)


def largest_cluster(labels: np.ndarray) -> tuple[int, int] | None:
    """The id and size of the largest cluster (None where no point is clustered)."""
    ids, counts = np.unique(labels[labels != NOISE], return_counts=True)
    return (int(ids[counts.argmax()]), int(counts.max())) if len(ids) else None


def largest_share(labels: np.ndarray) -> float:
    """The share of the clustered points that the largest cluster holds (1 where none is clustered)."""
    largest = largest_cluster(labels)
    return largest[1] / int((labels != NOISE).sum()) if largest else 1.0


def eps_score(Z: np.ndarray, labels: np.ndarray, seed: int) -> float:
    """How well a density fit separates the points it clusters, discounted by those it leaves out: DBCV (in the
    reduced space) on a sample of at most SCORE_SAMPLE points, the same sample for every fit of Z."""
    from embc.cluster.validity import dbcv

    sample = np.sort(np.random.default_rng(seed).permutation(len(Z))[:SCORE_SAMPLE])
    return dbcv(Z[sample], labels[sample])


def absorb_noise(Z: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Each noise point joins the cluster of at least NOISE_AGREEMENT of its NOISE_VOTERS nearest clustered
    points; the others stay noise."""
    from scipy.stats import mode
    from sklearn.neighbors import NearestNeighbors

    noise = labels == NOISE
    if noise.all() or not noise.any():
        return labels
    clustered = np.flatnonzero(~noise)
    voters = min(NOISE_VOTERS, len(clustered))
    neighbours = NearestNeighbors(n_neighbors=voters).fit(Z[clustered]).kneighbors(Z[noise])[1]
    votes = labels[clustered][neighbours]
    winner, count = mode(votes, axis=1)
    agreeing = count / voters
    out = labels.copy()
    out[noise] = np.where(agreeing >= NOISE_AGREEMENT, winner, NOISE)
    return out


def make_estimator(algorithm: str, params: dict, seed: int):
    """A configured, unfitted estimator for `algorithm` with `params` (as from `params.resolve`)."""
    if algorithm == "kmeans":
        return SampledKMeans(n_clusters=2 if k_range(params["k"]) else params["k"], n_init=params["n_init"],
                             random_state=seed)
    if algorithm == "agglomerative":
        return Agglomerative(params["k"], params["linkage"], params["sample_cap"], seed)
    if algorithm == "dbscan":
        return DBSCAN(params["eps"], params["min_size"], params["reduce"], params["sample_cap"], seed)
    return HDBSCAN(params["min_size"], params["reduce"], params["sample_cap"], seed)
