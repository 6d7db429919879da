"""Cluster quality on labelled sets: NMI and ARI against the labels, the number of clusters and the noise, for
k-means at the true k, `--k auto`, hdbscan, dbscan (their defaults) and agglomerative at the true k, with the
default embedders (MiniLM for text, EfficientNet-Lite0 for images): `make bench`.

The sets are the shipped samples and those `bench/datasets.py` makes (made first when missing; it needs the
Debian packages it names)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
SHIPPED = {"wordnet-nouns-8 (shipped)": ROOT / "examples" / "wordnet-nouns-8.jsonl",
           "fashion-mnist-600 (shipped)": ROOT / "images" / "samples" / "fashion-mnist-600"}
MADE = ["wordnet-nouns-10", "wordnet-verbs-12", "fortunes-8", "digits-10", "fashion-train-10", "tuxpaint-8"]
RUNS = {"k-means, true k": {"algorithm": "kmeans"}, "--k auto": {"algorithm": "kmeans", "k": "auto"},
        "hdbscan": {"algorithm": "hdbscan"}, "dbscan": {"algorithm": "dbscan"},
        "agglomerative, true k": {"algorithm": "agglomerative"}}


def sets() -> dict[str, Path]:
    if not all((DATA / f"{name}.jsonl").exists() or (DATA / name).is_dir() for name in MADE):
        from datasets import make

        make(DATA)
    made = {name: DATA / f"{name}.jsonl" if (DATA / f"{name}.jsonl").exists() else DATA / name for name in MADE}
    return {**SHIPPED, **made}


def measure(name: str, source: Path, home: Path) -> list[str]:
    from embc import Workspace

    rows = []
    with Workspace(home) as ws:
        started = time.perf_counter()
        ws.ingest("eval", source)
        labels = {entry for entry in ws.labels_of("eval").values()}
        true_k = len(labels)
        print(f"{name}: {ws.collection('eval').points} items, {true_k} classes, embedded in "
              f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
        for run, params in RUNS.items():
            k = true_k if "true k" in run else params.get("k")
            result = ws.recluster("eval", params["algorithm"], k, full=True, seed=0, projection="none")
            m = result.metrics
            clusters = sum(c.id >= 0 for c in result.clusters)
            rows.append(f"| {name} | {run} | {m.get('nmi', float('nan')):.2f} | {m.get('ari', float('nan')):.2f} | "
                        f"{clusters} (true {true_k}) | {m.get('noise_fraction', 0):.0%} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="Only these sets (names as in the table).")
    args = parser.parse_args()
    rows = []
    for name, source in sets().items():
        if args.only and name not in args.only:
            continue
        with tempfile.TemporaryDirectory() as home:
            rows += measure(name, source, Path(home))
    print("| set | clustering | NMI | ARI | clusters | noise |")
    print("| --- | --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
