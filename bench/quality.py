"""Cluster quality on labelled sets: NMI and ARI against the labels, the number of clusters and the noise, for
k-means at the true k, `--k auto`, hdbscan, dbscan (their defaults), agglomerative at the true k, and BERTopic's
defaults on the same vectors (the peer), with the default embedders (MiniLM for text, EfficientNet-Lite0 for
images): `make bench`. It prints one row per set, then how each set meets issue 18's targets. `--large`: the larger
sets instead, beyond the sample of 10,000 points that the density fits and agglomerative clustering fit.

The sets are the shipped samples and those `bench/datasets.py` makes (made first when missing; it needs the
Debian packages it names). BERTopic is installed for the bench only (`make bench`); without it its column
says so."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHIPPED = {"wordnet-nouns-8 (shipped)": ROOT / "examples" / "wordnet-nouns-8.jsonl",
           "fashion-mnist-600 (shipped)": ROOT / "images" / "samples" / "fashion-mnist-600"}
RUNS = {"k-means, true k": {"algorithm": "kmeans"}, "--k auto": {"algorithm": "kmeans", "k": "auto"},
        "hdbscan": {"algorithm": "hdbscan"}, "dbscan": {"algorithm": "dbscan"},
        "agglomerative, true k": {"algorithm": "agglomerative"}}
AUTOMATIC = ("--k auto", "hdbscan", "dbscan")
PEER = "BERTopic defaults"


@dataclass
class Score:
    nmi: float
    ari: float
    clusters: int
    noise: float

    @classmethod
    def of(cls, truth: list, labels: np.ndarray) -> "Score":
        from sklearn import metrics

        from embc.cluster.assign import cluster_count

        return cls(metrics.normalized_mutual_info_score(truth, labels), metrics.adjusted_rand_score(truth, labels),
                   cluster_count(labels), float((labels < 0).mean()))

    def cell(self) -> str:
        noise = "" if not self.noise else f", {self.noise:.0%} noise" if self.noise >= 0.005 else ", <1% noise"
        return f"{self.nmi:.2f} / {self.ari:.2f} ({self.clusters}{noise})"


def sets(large: bool = False) -> dict[str, Path]:
    """Every set by name: the shipped ones, and those of `bench/datasets.py` (made when missing); or its larger
    ones."""
    from datasets import LARGE, SETS, make

    chosen = LARGE if large else SETS
    missing = [name for name in chosen if not (DATA / name).exists()]
    if missing:
        make(DATA, missing)
    return {**({} if large else SHIPPED), **{name.removesuffix(".jsonl"): DATA / name for name in chosen}}


def bertopic(X: np.ndarray, docs: list[str], truth: list) -> Score | None:
    """BERTopic with its defaults on the vectors embc stored; its UMAP seeded for a repeatable table. Its
    clusters do not depend on the documents (they only name the topics): images pass their keys."""
    try:
        from bertopic import BERTopic
        from umap import UMAP
    except ImportError:
        return None
    umap = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=42)
    topics, _ = BERTopic(umap_model=umap).fit_transform(docs, X)
    return Score.of(truth, np.asarray(topics))


def measure(name: str, source: Path, home: Path) -> tuple[int, int, dict[str, Score | None]]:
    """The set's size, its number of classes, and the score of each clustering."""
    from embc import Workspace

    scores: dict[str, Score | None] = {}
    with Workspace(home) as ws:
        started = time.perf_counter()
        ws.ingest("eval", source)
        items, vectors, docs, truth = [], [], [], []
        for page in ws.store.pages("eval", keys=["label", "text", "item"]):
            items += [p["item"] for p in page.payloads]
            vectors.append(page.vectors)
            docs += [p.get("text") or p["item"] for p in page.payloads]
            truth += [p.get("label") for p in page.payloads]
        true_k = len(set(truth))
        print(f"{name}: {len(items)} items, {true_k} classes, embedded in {time.perf_counter() - started:.0f} s",
              file=sys.stderr)
        for run, params in RUNS.items():
            k = true_k if "true k" in run else params.get("k")
            ws.recluster("eval", params["algorithm"], k, full=True, seed=0, projection="none")
            labels = ws.labels("eval")
            scores[run] = Score.of(truth, np.array([labels.get(i, -1) for i in items]))
        scores[PEER] = bertopic(np.vstack(vectors), docs, truth)
    return len(items), true_k, scores


def targets(true_k: int, scores: dict[str, Score | None]) -> str:
    """Issue 18's targets on one set: which are met, which are not."""
    from tuning import density_misses, k_in_range

    base = scores["k-means, true k"].nmi
    auto = scores["--k auto"]
    misses = []
    if auto.nmi < base - 0.005:
        misses.append(f"--k auto NMI {auto.nmi:.2f} < {base:.2f}")
    if not k_in_range(auto.clusters, true_k):
        misses.append(f"--k auto chose {auto.clusters} of {true_k}")
    for run in ("hdbscan", "dbscan"):
        s = scores[run]
        misses += [f"{run} {miss}" for miss in density_misses(s.nmi, s.noise, s.clusters, base, true_k)]
    best = max(scores[run].nmi for run in AUTOMATIC)
    peer = scores[PEER]
    if peer is not None and best < peer.nmi:
        misses.append(f"best automatic NMI {best:.2f} < BERTopic's {peer.nmi:.2f}")
    return "all met" if not misses else "missed: " + "; ".join(misses)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="Only these sets (names as in the table).")
    parser.add_argument("--large", action="store_true", help="The larger sets instead (5,000-21,650 items; about "
                        "15 minutes on 2 cores).")
    args = parser.parse_args()
    rows, verdicts = [], []
    for name, source in sets(args.large).items():
        if args.only and name not in args.only:
            continue
        with tempfile.TemporaryDirectory() as home:
            n, true_k, scores = measure(name, source, Path(home))
        cells = [s.cell() if s else "not installed" for s in scores.values()]
        rows.append(f"| {name} | {n:,} | {true_k} | " + " | ".join(cells) + " |")
        verdicts.append(f"- {name}: {targets(true_k, scores)}")
    print("NMI / ARI against the labels (clusters found, noise):\n")
    print("| set | items | classes | " + " | ".join([*RUNS, PEER]) + " |")
    print("| --- | ---: | ---: |" + " --- |" * (len(RUNS) + 1))
    print("\n".join(rows))
    print("\nIssue 18's targets, set by set:\n")
    print("\n".join(verdicts))


if __name__ == "__main__":
    main()
