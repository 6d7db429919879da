"""The evidence behind the density and `--k auto` defaults (docs/quality.md): on every labelled set of
bench/quality.py, how many sets each candidate setting meets issue 18's targets on. `python bench/tuning.py`
(not part of `make bench`: it refits every candidate, about 10 minutes here). Vectors are embedded once and
kept in bench/data/vectors.

- hdbscan: reduction (dimensions, neighbours) x smallest cluster x min_samples, each with the noise joined
  (`absorb_noise`) or left, no cluster of the tree over half the points (embc's also counts the noise that joins):
  NMI >= 0.9x k-means at the true k, noise <= 30%, clusters >= half the classes.
- dbscan: the rule that picks eps among the k-distance quantiles, the same targets.
- k: the elbow over several ranges of k, with one or three k-means starts, alone or moved to the best
  silhouette within 2, and over the ranges a user who expects about the true number would give (`--k LO-HI`):
  chosen k within 0.7x-1.4x of the classes."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from sklearn.cluster import DBSCAN, HDBSCAN, KMeans
from sklearn.metrics import normalized_mutual_info_score, silhouette_score

from embc.cluster.algorithms import (MAX_SHARE, absorb_noise, best_resolving, chosen_radius, density_space,
                                     eps_candidates, eps_score, reach_distances)
from embc.cluster.assign import cluster_count
from embc.cluster.sweep import knee

CACHE = Path(__file__).resolve().parent / "data" / "vectors"


def vectors(name: str, source: Path) -> tuple[np.ndarray, np.ndarray]:
    """The set's vectors as embc stores them, and its labels."""
    path = CACHE / f"{name.split()[0]}.npz"
    if not path.exists():
        from embc import Workspace

        CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory() as home, Workspace(home) as ws:
            ws.ingest("eval", source)
            pages = list(ws.store.pages("eval", keys=["label"]))
            np.savez(path, X=np.vstack([p.vectors for p in pages]),
                     y=np.array([str(q.get("label")) for p in pages for q in p.payloads]))
    data = np.load(path)
    return data["X"], data["y"]


def true_k_nmi(X: np.ndarray, y: np.ndarray) -> float:
    """The baseline of issue 18's targets: the NMI of k-means told the true number of classes."""
    return normalized_mutual_info_score(y, KMeans(len(set(y)), n_init=4, random_state=0).fit(X).labels_)


def k_in_range(k: int, classes: int) -> bool:
    """Issue 18's target for a chosen k: within 0.7x-1.4x of the number of classes."""
    return 0.7 * classes <= k <= 1.4 * classes


def density_misses(nmi: float, noise: float, clusters: int, base: float, classes: int) -> list[str]:
    """Issue 18's targets for a density fit that it misses, in words: NMI at least 0.9x `base` (k-means told the
    true k), at most 30% noise, at least half as many clusters as classes."""
    misses = []
    if nmi < 0.9 * base:
        misses.append(f"NMI {nmi:.2f} < 0.9 x {base:.2f}")
    if noise > 0.3:
        misses.append(f"{noise:.0%} noise")
    if clusters < classes / 2:
        misses.append(f"{clusters} clusters of {classes}")
    return misses


def density_ok(y: np.ndarray, labels: np.ndarray, base: float) -> bool:
    return not density_misses(normalized_mutual_info_score(y, labels), float((labels < 0).mean()),
                              cluster_count(labels), base, len(set(y)))


def hdbscan_grid(Z: dict, n: int) -> dict[tuple, np.ndarray]:
    out = {}
    for (dims, neighbours), Zr in Z.items():
        for share in (None, 0.01, 0.02):
            size = 20 if share is None else max(5, round(n * share))
            for min_samples in (None, 5):
                labels = HDBSCAN(min_cluster_size=size, min_samples=min_samples, copy=True,
                                 max_cluster_size=max(size, int(MAX_SHARE * n))).fit(Zr).labels_
                name = f"{dims}-D/{neighbours} nn, size {'20' if share is None else f'{share:.0%}'}, ms {min_samples}"
                out[name + ", noise left"] = labels
                out[name + ", noise joined"] = absorb_noise(Zr, labels)
    return out


def dbscan_rules(Z: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    reach = reach_distances(Z, 10)
    fits = [labels for _, labels in eps_candidates(Z, 10, reach)]
    counts = [cluster_count(f) for f in fits]
    scores = [eps_score(Z, f, seed) for f in fits]
    ordered = np.sort(reach)[::-1]
    knee_eps = float(ordered[knee(list(range(len(ordered))), list(ordered))])
    rules = {"knee of the k-distance curve": DBSCAN(eps=knee_eps, min_samples=10).fit(Z).labels_,
             "best DBCV": fits[int(np.argmax(scores))],
             "most clusters": fits[max(range(len(fits)), key=lambda i: (counts[i], i))],
             "best DBCV, of those with >= half the most clusters": fits[best_resolving(fits, scores)],
             "the same, unless the best DBCV is clear (embc's)": fits[chosen_radius(fits, scores)]}
    return {rule: absorb_noise(Z, labels) for rule, labels in rules.items()}


def k_rules(X: np.ndarray, Z: np.ndarray, true_k: int) -> dict[str, int]:
    out = {}
    for starts in (1, 3):
        fits = {k: KMeans(k, n_init=starts, random_state=0).fit(X) for k in range(2, max(30, 2 * true_k) + 1)}
        for top in (20, 25, 30):
            ks = list(range(2, top + 1))
            elbow = knee(ks, [fits[k].inertia_ for k in ks])
            out[f"elbow 2-{top}, {starts} start(s)"] = elbow
            near = [k for k in ks if abs(k - elbow) <= 2]
            out[f"elbow 2-{top}, {starts} start(s), best silhouette within 2"] = max(
                near, key=lambda k: silhouette_score(X, fits[k].labels_))
        if starts == 3:  # `--k LO-HI`, with the range a user who expects about the true k would give
            for rule, low in (("--k c/2-2c (c: the classes)", max(2, true_k // 2)), ("--k 2-2c", 2)):
                ks = list(range(low, 2 * true_k + 1))
                out[rule] = knee(ks, [fits[k].inertia_ for k in ks])
        if starts == 1:
            out["best silhouette 2-30"] = max(fits, key=lambda k: silhouette_score(X, fits[k].labels_))
            out["best silhouette in the 5-D reduction 2-30"] = max(
                fits, key=lambda k: silhouette_score(Z, fits[k].labels_))
    return out


def main() -> None:
    from quality import sets

    met: dict[str, dict[str, int]] = {"hdbscan": {}, "dbscan": {}, "k": {}}
    total = 0
    for name, source in sets().items():
        X, y = vectors(name, source)
        true_k = len(set(y))
        base = true_k_nmi(X, y)
        Z = {(d, nn): density_space(X, "umap", 0, d, nn) for d, nn in ((10, 15), (5, 15), (5, 30))}
        total += 1
        for config, labels in hdbscan_grid(Z, len(X)).items():
            met["hdbscan"][config] = met["hdbscan"].get(config, 0) + density_ok(y, labels, base)
        for rule, labels in dbscan_rules(Z[5, 30]).items():
            met["dbscan"][rule] = met["dbscan"].get(rule, 0) + density_ok(y, labels, base)
        for rule, k in k_rules(X, Z[5, 30], true_k).items():
            met["k"][rule] = met["k"].get(rule, 0) + k_in_range(k, true_k)
        print(f"{name}: done", flush=True)
    for what, counts in met.items():
        print(f"\n{what}: sets (of {total}) meeting the targets\n")
        for config, count in sorted(counts.items(), key=lambda kv: -kv[1]):
            print(f"- {count}: {config}")


if __name__ == "__main__":
    main()
