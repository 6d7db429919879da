"""The density defaults on small collections (docs/quality.md): samples of a dozen to a few hundred items drawn
from every labelled set of bench/quality.py, each fitted by embc's hdbscan and dbscan with their defaults, and
how many fits meet issue 18's targets against k-means at the true k on the same points. `python bench/small.py`
(not part of `make bench`: about 2,200 fits over the twenty-two sets, 8 minutes here). Vectors as bench/tuning.py
caches them.

Four kinds of sample, four draws of each set at each size, the reduction seeded by the draw:
- a few dozen items from 2-3 of a set's classes;
- 40-180 items from 2 to one class per 8 items of its classes: a few classes of a dozen items or more;
- 200-500 items at random from the whole set: many classes, a few each;
- 250-600 items from 2-5 of its classes: a few large classes.

On the last kind it also scores the knee of k-means' inertia (three starts a k, as `--k` sweeps) over 2-8, the
small range the README advises for a few large topics, and over K_SWEPT (`--k auto`): the chosen k within 0.7x-1.4x
of the classes, and the sweep's fit at that k within 0.9x the NMI of k-means at the true k."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score

from embc.cluster.algorithms import DBSCAN, HDBSCAN
from embc.cluster.params import K_SWEPT
from embc.cluster.sweep import SWEEP_STARTS, knee
from tuning import density_ok, k_in_range, true_k_nmi, vectors

SIZES = {"a few dozen": (12, 20, 31), "few classes": (40, 60, 100, 150, 180), "random": (200, 300, 500),
         "2-5 classes": (250, 400, 600)}
MOST_CLASSES = {"a few dozen": 3, "2-5 classes": 5}  # else one class per 8 items
DRAWS = 4
ALGORITHMS = {"hdbscan": HDBSCAN, "dbscan": DBSCAN}
KNEE_KIND = "2-5 classes"
KNEE_RANGES = {"--k 2-8": 8, f"--k auto ({K_SWEPT[0]}-{K_SWEPT[1]})": K_SWEPT[1]}


@dataclass
class Tally:
    """Fits of one algorithm at one size: how many met the targets, their NMI and k-means' at the true k."""
    met: int = 0
    nmi: list[float] = field(default_factory=list)
    base: list[float] = field(default_factory=list)

    def add(self, met: bool, nmi: float, base: float) -> None:
        self.met += met
        self.nmi.append(nmi)
        self.base.append(base)

    def cell(self) -> str:
        return f"{self.met} of {len(self.nmi)} ({np.mean(self.nmi):.2f} / {np.mean(self.base):.2f})"


def knee_scores(X: np.ndarray, y: np.ndarray, base: float) -> dict[str, tuple[bool, bool]]:
    """For each of KNEE_RANGES, whether its knee is within 0.7x-1.4x of the classes, and whether the sweep's fit
    there reaches 0.9x `base`."""
    fits = {k: KMeans(k, n_init=SWEEP_STARTS, random_state=0).fit(X) for k in range(2, max(KNEE_RANGES.values()) + 1)}
    classes = len(set(y))
    out = {}
    for rule, top in KNEE_RANGES.items():
        ks = list(range(2, top + 1))
        k = knee(ks, [fits[j].inertia_ for j in ks])
        out[rule] = (k_in_range(k, classes),
                     normalized_mutual_info_score(y, fits[k].labels_) >= 0.9 * base)
    return out


def draw(y: np.ndarray, kind: str, n: int, rng: np.random.Generator) -> np.ndarray | None:
    """The rows of one sample of `n` items of a `kind`, or None where the set is too small for it."""
    if kind == "random":
        return np.sort(rng.choice(len(y), n, replace=False)) if len(y) > n else None
    classes = np.unique(y)
    most = MOST_CLASSES.get(kind, n // 8)
    chosen = rng.choice(classes, min(len(classes), int(rng.integers(2, max(2, most) + 1))), replace=False)
    rows = np.flatnonzero(np.isin(y, chosen))
    return np.sort(rng.choice(rows, n, replace=False)) if len(rows) >= n else None


def main() -> None:
    from quality import sets

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="Only these sets (names as in bench/quality.py's table).")
    args = parser.parse_args()
    tallies: dict[tuple[str, int], dict[str, Tally]] = {}
    knees: dict[str, list[tuple[bool, bool]]] = {rule: [] for rule in KNEE_RANGES}
    started = time.perf_counter()
    for number, (name, source) in enumerate(sets().items()):
        if args.only and name not in args.only:
            continue
        X, y = vectors(name, source)
        for kind, sizes in SIZES.items():
            for n in sizes:
                for seed in range(DRAWS):
                    rows = draw(y, kind, n, np.random.default_rng([number, n, seed]))
                    if rows is None:
                        continue
                    Xs, ys = X[rows], y[rows]
                    base = true_k_nmi(Xs, ys)
                    for algorithm, estimator in ALGORITHMS.items():
                        labels = estimator(random_state=seed).fit(Xs).labels_
                        tally = tallies.setdefault((kind, n), {a: Tally() for a in ALGORITHMS})[algorithm]
                        tally.add(density_ok(ys, labels, base), normalized_mutual_info_score(ys, labels), base)
                    if kind == KNEE_KIND:
                        for rule, scores in knee_scores(Xs, ys, base).items():
                            knees[rule].append(scores)
        print(f"{name}: done ({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    print("Fits that met issue 18's density targets (mean NMI / k-means' at the true k on the same points):\n")
    print("| sample | items | " + " | ".join(ALGORITHMS) + " |")
    print("| --- | ---: |" + " --- |" * len(ALGORITHMS))
    for (kind, n), tally in tallies.items():
        print(f"| {kind} | {n} | " + " | ".join(t.cell() for t in tally.values()) + " |")
    print(f"\nk by the knee, on the samples from {KNEE_KIND}:\n")
    print("| sweep | k within 0.7x-1.4x of the classes | NMI at 0.9x k-means' at the true k or more |")
    print("| --- | --- | --- |")
    for rule, scores in knees.items():
        in_range, near = np.sum(scores, axis=0, dtype=int) if scores else (0, 0)
        print(f"| {rule} | {in_range} of {len(scores)} | {near} of {len(scores)} |")


if __name__ == "__main__":
    main()
