"""The text path on the real WordNet sample: ingest, recluster, and every read command's output."""

from __future__ import annotations

import json

import duckdb
import pytest
from typer.testing import CliRunner

from embc.cli import app
from embc.store.embedded import EmbeddedStore

runner = CliRunner()


def cli(home, *args):
    return runner.invoke(app, ["--data-dir", str(home), *args])


def read_json(home, *args):
    result = cli(home, *args, "--json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def test_report_reaches_nmi_floor_on_wordnet(clustered_home):
    report = read_json(clustered_home, "report", "-c", "wordnet")
    metrics = report["metrics"]
    assert metrics["nmi"] >= 0.6 and metrics["ari"] >= 0.5
    assert {"nmi", "ari", "silhouette", "davies_bouldin", "calinski_harabasz", "inertia", "homogeneity",
            "completeness"} <= set(metrics)
    run = report["run"]
    assert (run["status"], run["algorithm"], run["params"], run["seed"], run["n_points"], run["n_clusters"]) == (
        "complete", "kmeans", {"k": 8, "n_init": 4, "projection": "umap"}, 0, 1600, 8)
    assert {"embc", "scikit-learn", "qdrant-edge-py"} <= set(run["versions"])
    assert set(run["timings"]) >= {"page_out", "fit", "write_labels", "evaluate", "project", "total"}
    assert [r["run_id"] for r in report["runs"]] == [run["run_id"]]
    assert len(report["clusters"]) == 8 and sum(c["size"] for c in report["clusters"]) == 1600


def test_every_point_carries_its_cluster_in_qdrant(clustered_home):
    store = EmbeddedStore(clustered_home / "collections")
    payloads = [p for page in store.pages("wordnet", with_vectors=False, keys=["cluster", "cluster_run"])
                for p in page.payloads]
    assert len(payloads) == 1600
    assert {p["cluster"] for p in payloads} == set(range(8))
    assert {p["cluster_run"] for p in payloads} == {1}


def test_duckdb_file_holds_run_metrics_clusters_and_one_coordinate_pair_per_point(clustered_home):
    con = duckdb.connect(str(clustered_home / "reports.duckdb"), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM runs WHERE status = 'complete'").fetchone() == (1,)
        assert con.execute("SELECT value FROM metrics WHERE name = 'nmi'").fetchone()[0] >= 0.6
        assert con.execute("SELECT count(*), sum(size) FROM clusters").fetchone() == (8, 1600)
        assert con.execute("SELECT count(*), count(DISTINCT point_id) FROM coords").fetchone() == (1600, 1600)
        assert con.execute("SELECT count(*) FROM coords WHERE isnan(x) OR isnan(y)").fetchone() == (0,)
    finally:
        con.close()


def test_clusters_json_shape_and_animal_cluster(clustered_home):
    rows = read_json(clustered_home, "clusters", "-c", "wordnet")
    assert [r["id"] for r in rows] == list(range(8))
    assert all({"id", "size", "name"} <= set(r) and isinstance(r["name"], str) and r["name"] for r in rows)
    assert sum(r["size"] for r in rows) == 1600


def test_cluster_members_json_shape_and_limits(clustered_home):
    items = read_json(clustered_home, "cluster", "3", "-c", "wordnet")
    assert len(items) == 10
    assert all(set(i) == {"id", "item", "label", "cluster", "text", "path", "values"} for i in items)
    assert all(i["cluster"] == 3 and i["values"] is None for i in items)
    size = {r["id"]: r["size"] for r in read_json(clustered_home, "clusters", "-c", "wordnet")}[3]
    everything = read_json(clustered_home, "cluster", "3", "-c", "wordnet", "--limit", "0")
    assert len(everything) == size and len({i["id"] for i in everything}) == size
    assert len(read_json(clustered_home, "cluster", "3", "-c", "wordnet", "--limit", "3")) == 3


def test_similar_by_text_by_id_and_inside_a_cluster(clustered_home):
    hits = read_json(clustered_home, "similar", "--text", "a breed of hunting dog", "-c", "wordnet", "-n", "5")
    assert len(hits) == 5
    assert all(set(h) == {"id", "item", "label", "cluster", "text", "path", "values", "score"} for h in hits)
    assert hits[0]["label"] == "noun.animal"
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    by_key = read_json(clustered_home, "similar", "--id", hits[0]["item"], "-c", "wordnet", "-n", "3")
    by_uuid = read_json(clustered_home, "similar", "--id", hits[0]["id"], "-c", "wordnet", "-n", "3")
    assert by_key == by_uuid and hits[0]["id"] not in {h["id"] for h in by_key}
    inside = read_json(clustered_home, "similar", "--text", "a breed of hunting dog", "-c", "wordnet",
                       "--cluster", "2", "-n", "4")
    assert len(inside) == 4 and {h["cluster"] for h in inside} == {2}


def test_collections_json_shape(clustered_home):
    assert read_json(clustered_home, "collections") == [
        {"name": "wordnet", "points": 1600, "model": "minilm", "dim": 384, "modality": "text",
         "precision": "fp32"}]


def test_tables_are_readable(clustered_home):
    result = cli(clustered_home, "report", "-c", "wordnet")
    assert result.exit_code == 0
    assert "nmi" in result.stdout and "run 1 (full, complete)" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["clusters", "-c", "nope"], "embc: error: no collection 'nope'"),
    (["cluster", "99", "-c", "wordnet"], "embc: error: no cluster 99 in collection 'wordnet' (clusters: 0, 1, 2"),
    (["similar", "-c", "wordnet"], "embc: error: give exactly one of --text, --image, --row or --id"),
    (["similar", "--id", "no-such-item", "-c", "wordnet"], "embc: error: no item 'no-such-item'"),
    (["report", "-c", "wordnet", "--run", "42"], "embc: error: no run 42 of collection 'wordnet'"),
])
def test_user_errors_are_one_line_and_exit_1(clustered_home, args, message):
    result = cli(clustered_home, *args)
    assert result.exit_code == 1
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert result.stdout == ""


def test_usage_errors_exit_2(clustered_home):
    assert cli(clustered_home, "cluster", "not-a-number").exit_code == 2


def test_the_whole_job_runs_on_the_server_adapter(tmp_path, wordnet_rows):
    """The same ingest, recluster and queries through qdrant-client, against QdrantClient(":memory:")."""
    from qdrant_client import QdrantClient

    from embc import Workspace
    from embc.store.server import ServerStore

    rows = wordnet_rows[::8]
    (tmp_path / "wn.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    ws = Workspace(tmp_path / "home", store=ServerStore(QdrantClient(":memory:")))
    assert ws.ingest("wn", tmp_path / "wn.jsonl").added == len(rows)
    run = ws.recluster("wn", "kmeans", k=8, seed=0)
    assert run.metrics["nmi"] >= 0.5
    clusters = ws.clusters("wn")
    assert sum(c.size for c in clusters) == len(rows)
    members = ws.members("wn", clusters[0].id)
    assert len(members) == clusters[0].size and {m.cluster for m in members} == {clusters[0].id}
    assert ws.similar("wn", item=members[0].item, limit=3)[0].id != members[0].id
