"""Cluster quality without being told k, on two labelled sets beyond the shipped sample (issue 18):
fortunes-8 (quotations from Debian `fortunes`, 8 classes) and digits-10 (scikit-learn's digits as images,
10 classes), made by bench/datasets.py. The floors lie a little below what bench/quality.py measures
(docs/quality.md). Without `fortunes` these tests skip with one line, except under CI=true."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from embc import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from datasets import FORTUNES, make  # noqa: E402

if not (FORTUNES / "computers").exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError("CI=true but no fortunes: apt-get install -y fortunes (as .ci/run does)")
    pytest.skip("no Debian fortunes: quality tests skipped (apt-get install -y fortunes)", allow_module_level=True)

SETS = {"fortunes-8.jsonl": 8, "digits-10": 10}


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> Workspace:
    """One workspace with each set ingested as a collection of its name."""
    data = tmp_path_factory.mktemp("sets")
    make(data, list(SETS))
    with Workspace(tmp_path_factory.mktemp("home")) as ws:
        for name in SETS:
            ws.ingest(name.removesuffix(".jsonl"), data / name)
        yield ws


# (set, true k): NMI floors for k-means at the true k, --k auto and hdbscan.
FLOORS = {("fortunes-8", 8): (0.45, 0.45, 0.42), ("digits-10", 10): (0.30, 0.30, 0.35)}


@pytest.mark.parametrize("collection,true_k", list(FLOORS))
def test_k_auto_finds_about_the_true_k_and_matches_k_means_told_it(evaluated, collection, true_k):
    told, auto_floor, _ = FLOORS[collection, true_k]
    base = evaluated.recluster(collection, "kmeans", true_k, full=True, seed=0, projection="none")
    auto = evaluated.recluster(collection, "kmeans", "auto", full=True, seed=0, projection="none")
    assert base.metrics["nmi"] >= told
    assert 0.7 * true_k <= auto.params["k"] <= 1.4 * true_k and auto.params["k_auto"]
    assert auto.metrics["nmi"] >= auto_floor
    assert auto.metrics["nmi"] >= base.metrics["nmi"] - 0.03
    sweep = evaluated.reports.sweep(auto.run_id)  # the evidence: every k's inertia and silhouette, the chosen one
    assert [r["k"] for r in sweep] == list(range(2, 26))
    assert [r["k"] for r in sweep if r["chosen"]] == [auto.params["k"]]


@pytest.mark.parametrize("collection,true_k", list(FLOORS))
def test_density_defaults_find_the_topics_with_little_noise(evaluated, collection, true_k):
    hdbscan_floor = FLOORS[collection, true_k][2]
    for algorithm, floor in (("hdbscan", hdbscan_floor), ("dbscan", 0.9 * FLOORS[collection, true_k][0])):
        run = evaluated.recluster(collection, algorithm, full=True, seed=0, projection="none")
        clusters = sum(c.id >= 0 for c in run.clusters)
        assert run.metrics["nmi"] >= floor, algorithm
        assert run.metrics["noise_fraction"] <= 0.3, algorithm
        assert clusters >= true_k / 2, algorithm
    assert run.params["eps_chosen"] > 0  # dbscan's radius, chosen from the data, recorded with the run
