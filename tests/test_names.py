"""Cluster names: keywords that tell text clusters apart (no filler), the features that set table-row clusters
apart, the labels that vectors share, and "cluster N" for vectors that carry nothing to name them by."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np

import embc
from helpers import run_embc

FILLER = {"having", "used", "consisting", "large", "small", "genus", "type", "made", "usually", "especially",
          "kind", "form", "use"}


def test_text_clusters_are_named_by_distinctive_keywords_near_their_centre(clustered_home):
    ws = embc.Workspace(clustered_home)
    majority = {}
    for cluster in ws.clusters("wordnet"):
        members = ws.members("wordnet", cluster.id)
        majority[Counter(m.label for m in members).most_common(1)[0][0]] = cluster
        assert len(cluster.keywords) == 4 and cluster.name == ", ".join(cluster.keywords)
        assert not set(cluster.keywords) & FILLER, cluster.keywords
        texts = " ".join(m.text.lower() for m in members)
        assert all(k in texts for k in cluster.keywords)  # every keyword comes from the cluster's own texts
    assert len(majority) == 8  # one cluster per class
    expected = {"noun.animal": {"fishes", "mammals", "bird", "birds", "snakes", "animals", "fish", "insects"},
                "noun.plant": {"shrubs", "flower", "flowers", "perennial", "plants", "trees", "shrub", "herb"},
                "noun.body": {"tissue", "veins", "glands", "membrane", "muscle", "bone", "organ"},
                "noun.feeling": {"emotion", "desire", "guilt", "anxiety", "feeling", "fear", "love"},
                "noun.location": {"city", "islands", "region", "town", "capital", "country"}}
    for label, words in expected.items():
        assert set(majority[label].keywords) & words, (label, majority[label].keywords)


def test_examples_show_the_start_of_a_members_text_cut_at_a_word_end(clustered_home):
    ws = embc.Workspace(clustered_home)
    cut = 0
    for cluster in ws.clusters("wordnet"):
        texts = [" ".join(m.text.split()) for m in ws.members("wordnet", cluster.id)]
        if cluster.example in texts:
            continue
        start = cluster.example.removesuffix("…")
        whole = next(t for t in texts if t.startswith(start))
        assert cluster.example.endswith("…") and len(cluster.example) <= 80
        assert whole[len(start)] in " ,;:-", (start, whole)  # the cut falls between words, not inside one
        cut += 1
    assert cut  # some glosses run past 80 characters


def test_table_clusters_are_named_by_their_most_distinctive_features(tmp_path):
    from sklearn.datasets import load_wine

    wine = load_wine()
    rows = [{**dict(zip(wine.feature_names, map(float, row))), "id": f"w{n}", "label": str(t)}
            for n, (row, t) in enumerate(zip(wine.data, wine.target))]
    ws = embc.Workspace(tmp_path / "data")
    assert ws.ingest("wine", rows, model="raw").added == 178
    run = ws.recluster("wine", k=3, seed=0, projection="none")
    names = {c.name for c in run.clusters}
    assert all(re.fullmatch(r"[\w/]+ (high|low), [\w/]+ (high|low)", n) for n in names), names
    X = np.array([[r[f] for f in wine.feature_names] for r in rows])
    labels = run.labels
    for cluster in run.clusters:
        feature, direction = cluster.keywords[0].split(" ")
        column = X[:, wine.feature_names.index(feature)]
        inside = column[[labels[f"w{n}"] == cluster.id for n in range(178)]]
        assert (inside.mean() > column.mean()) == (direction == "high")


def test_vectors_with_nothing_to_name_them_by_are_cluster_n(tmp_path):
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 8))
    X = np.vstack([c + 0.05 * rng.normal(size=(40, 8)) for c in centres]).astype(np.float32)
    np.save(tmp_path / "v.npy", X)
    home = tmp_path / "home"
    assert run_embc("ingest", str(tmp_path / "v.npy"), "-c", "v", home=home).returncode == 0
    run = json.loads(run_embc("recluster", "-c", "v", "--k", "3", "--projection", "none", "--json",
                              home=home).stdout)
    assert sorted(c["name"] for c in run["clusters"]) == ["cluster 0", "cluster 1", "cluster 2"]


def test_vectors_are_named_by_the_labels_they_share_and_not_by_labels_of_their_own(tmp_path):
    """Three groups labelled a, b, c (one vector in ten of each labelled with the next group's label): each
    cluster is named by its group's label alone, the stray labels being under a quarter of it. Labels that are
    each item's own name nothing: "cluster N"."""
    ws = embc.Workspace(tmp_path / "data")
    rng = np.random.default_rng(0)
    centres = 5 * rng.normal(size=(3, 8))
    records = [{"id": f"{g}-{n}", "vector": (centres[g] + rng.normal(size=8)).tolist(),
                "label": "abc"[(g + (n % 10 == 0)) % 3]} for g in range(3) for n in range(40)]
    ws.ingest("shared", records)
    run = ws.recluster("shared", k=3, seed=0, projection="none")
    assert sorted(c.name for c in run.clusters) == ["a", "b", "c"] and all(len(c.keywords) == 1 for c in run.clusters)
    ws.ingest("own", [{**r, "id": f"own-{r['id']}", "label": r["id"]} for r in records])
    run = ws.recluster("own", k=3, seed=0, projection="none")
    assert sorted(c.name for c in run.clusters) == ["cluster 0", "cluster 1", "cluster 2"]


def test_clusters_of_the_same_texts_have_no_keywords_and_are_cluster_n(tmp_path):
    ws = embc.Workspace(tmp_path / "data")
    assert ws.ingest("same", [{"id": f"s{i}", "text": "the very same sentence"} for i in range(30)]).added == 30
    run = ws.recluster("same", algorithm="agglomerative", k=3, seed=0, projection="none")
    assert len(run.clusters) == 3 and any(not c.keywords for c in run.clusters)  # no word sets these apart
    assert all(c.name == (", ".join(c.keywords) or f"cluster {c.id}") for c in run.clusters)
