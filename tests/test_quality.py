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

SETS = ["fortunes-8.jsonl", "digits-10"]  # as bench/datasets.py names them


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory) -> Workspace:
    """One workspace with each set ingested as a collection of its name."""
    data = tmp_path_factory.mktemp("sets")
    make(data, SETS)
    with Workspace(tmp_path_factory.mktemp("home")) as ws:
        for name in SETS:
            ws.ingest(name.removesuffix(".jsonl"), data / name)
        yield ws


# NMI floors, about 0.03 below what bench/quality.py measured (docs/quality.md): k-means told the true k,
# --k auto, hdbscan, dbscan. hdbscan on fortunes-8 moves with the machine's arithmetic: 0.55 (12 clusters)
# in the bench run on an Intel Xeon machine, 0.494 (18 clusters) on AMD EPYC (0.49-0.56 there over seeds 0-4);
# since its reduction is centred (a3716fc), 0.55 (11) on AMD EPYC. dbscan on digits-10 fell with the centring
# from 0.44 to 0.41 (0.40-0.42 over seeds 0-2), so its floor is 0.38, below that spread.
FLOORS = {("fortunes-8", 8): {"told": 0.50, "auto": 0.48, "hdbscan": 0.47, "dbscan": 0.50},
          ("digits-10", 10): {"told": 0.30, "auto": 0.27, "hdbscan": 0.40, "dbscan": 0.38}}


@pytest.mark.parametrize("collection,true_k", list(FLOORS))
def test_k_auto_finds_about_the_true_k_and_nearly_matches_k_means_told_it(evaluated, collection, true_k):
    floors = FLOORS[collection, true_k]
    base = evaluated.recluster(collection, "kmeans", true_k, full=True, seed=0, projection="none")
    auto = evaluated.recluster(collection, "kmeans", "auto", full=True, seed=0, projection="none")
    assert base.metrics["nmi"] >= floors["told"]
    assert 0.7 * true_k <= auto.params["k"] <= 1.4 * true_k and auto.params["k_auto"]
    assert auto.metrics["nmi"] >= floors["auto"]
    sweep = evaluated.report(collection).sweep  # the evidence: every k's inertia, silhouette and criterion
    assert [p.k for p in sweep] == list(range(2, 23))
    assert max(sweep, key=lambda p: p.below_chord).k == auto.params["k"] == [p.k for p in sweep if p.chosen][0]


@pytest.mark.parametrize("collection,true_k", list(FLOORS))
def test_density_defaults_find_the_topics_with_little_noise(evaluated, collection, true_k):
    floors = FLOORS[collection, true_k]
    told = evaluated.recluster(collection, "kmeans", true_k, full=True, seed=0, projection="none").metrics["nmi"]
    for algorithm in ("hdbscan", "dbscan"):
        run = evaluated.recluster(collection, algorithm, full=True, seed=0, projection="none")
        clusters = sum(c.id >= 0 for c in run.clusters)
        assert run.metrics["nmi"] >= floors[algorithm], algorithm
        assert run.metrics["nmi"] >= 0.9 * told, algorithm  # issue 18's target, against k-means on this machine
        assert run.metrics["noise_fraction"] <= 0.3, algorithm
        assert clusters >= true_k / 2, algorithm
        chosen = {"hdbscan": "min_size_chosen", "dbscan": "eps_chosen"}[algorithm]
        assert run.params[chosen] > 0, algorithm  # chosen from the data, recorded with the run
