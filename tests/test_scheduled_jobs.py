"""Recluster as a scheduled job: every algorithm on real data, incremental runs, stable cluster ids, one job
per collection, recovery from SIGKILL, the memory budget, --every, and a server's tick that fails."""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from helpers import recluster, run_embc

from embc import Workspace
from embc.errors import EmbcError
from embc.ingest.pipeline import ingest
from embc.ingest.sources import iter_items
from embc.service import schedule
from embc.service.jobs import Jobs
from embc.store.embedded import EmbeddedStore
from embc.store.reports import ReportStore


def _open(home: Path) -> tuple[EmbeddedStore, ReportStore]:
    return EmbeddedStore(home / "collections"), ReportStore(home / "reports.duckdb")


def _labels(store: EmbeddedStore, collection: str) -> dict[str, dict]:
    return {i: p for page in store.pages(collection, with_vectors=False, keys=["cluster", "cluster_run", "label"])
            for i, p in zip(page.ids, page.payloads)}


@pytest.fixture
def home(tmp_path, clustered_home) -> Path:
    """A private copy of the WordNet collection clustered with k-means, k=8 (run 1)."""
    shutil.copytree(clustered_home, tmp_path / "home")
    return tmp_path / "home"


# Floors: what each algorithm reached on WordNet-8 here (seed 0) less about 0.1, so that a broken
# reduction, sample assignment or eps rule fails while library updates that move a score a little do not.
# Measured: dbscan 0.75 (9 clusters, 3% noise), hdbscan 0.70 (5 clusters), ward 0.72, average 0.57,
# complete 0.53, ward on an 800-point sample 0.7.
@pytest.mark.parametrize("algorithm, params, floor", [
    ("dbscan", {}, 0.6),
    ("hdbscan", {}, 0.6),
    ("agglomerative", {"linkage": "ward"}, 0.6),
    ("agglomerative", {"linkage": "average"}, 0.45),
    ("agglomerative", {"linkage": "complete"}, 0.42),
    ("agglomerative", {"linkage": "ward", "sample_cap": 800}, 0.6),
])
def test_each_algorithm_clusters_wordnet_above_its_floor(home, algorithm, params, floor):
    store, reports = _open(home)
    run = recluster(store, reports, "wordnet", algorithm, params, projection="none")
    assert run["mode"] == "full" and run["metrics"]["nmi"] >= floor, run["metrics"]
    labels = _labels(store, "wordnet")
    assert len(labels) == 1600 and all(p["cluster_run"] == run["run_id"] for p in labels.values())
    assert run["metrics"]["noise_fraction"] < 0.15
    assert reports.run("wordnet")["params"] == {**run["params"], "projection": "none"}


def test_incremental_run_assigns_only_new_points_and_keeps_old_ids(tmp_path, minilm, wordnet_rows):
    old_rows = [r for i, r in enumerate(wordnet_rows) if i % 5]
    new_rows = [r for i, r in enumerate(wordnet_rows) if not i % 5]
    (tmp_path / "old.jsonl").write_text("".join(json.dumps(r) + "\n" for r in old_rows))
    (tmp_path / "new.jsonl").write_text("".join(json.dumps(r) + "\n" for r in new_rows))
    store, reports = _open(tmp_path)
    ingest(store, "wn", iter_items([tmp_path / "old.jsonl"]), embedder=minilm)
    first = recluster(store, reports, "wn", "kmeans", {"k": 8})
    before = _labels(store, "wn")
    ingest(store, "wn", iter_items([tmp_path / "new.jsonl"]), embedder=minilm)

    second = recluster(store, reports, "wn")  # no options: the last run's algorithm and parameters
    assert (second["mode"], second["points"]) == ("incremental", 320)
    assert reports.metrics(second["run_id"])["new_points"] == 320
    after = _labels(store, "wn")
    assert all(after[i]["cluster"] == p["cluster"] and after[i]["cluster_run"] == first["run_id"]
               for i, p in before.items())
    new = [p for i, p in after.items() if i not in before]
    assert len(new) == 320 and all(p["cluster_run"] == second["run_id"] for p in new)
    assigned = [p for p in new if p["cluster"] >= 0]
    assert len(assigned) >= 0.9 * len(new)
    # The new points land in the clusters their category's old points are in, mostly.
    home_cluster = {}
    for p in before.values():
        home_cluster.setdefault(p["label"], []).append(p["cluster"])
    majority = {label: max(set(c), key=c.count) for label, c in home_cluster.items()}
    assert np.mean([p["cluster"] == majority[p["label"]] for p in assigned]) >= 0.7
    # The map grows: the new points are placed, the old ones keep their coordinates.
    first_map = reports.columns("coords", first["run_id"])
    second_map = reports.columns("coords", second["run_id"])
    assert len(second_map["point_id"]) == 1600
    kept = np.isin(second_map["point_id"], first_map["point_id"])
    np.testing.assert_array_equal(second_map["x"][kept], first_map["x"])
    # They are placed among the full run's anchors (the points UMAP laid out), kept with their vectors.
    anchors = reports.anchors(first["run_id"])
    assert len(anchors["point_id"]) == 1280 and anchors["vector"].shape == (1280, 384)
    assert set(anchors["point_id"]) == set(first_map["point_id"])
    report = json.loads(run_embc("report", "-c", "wn", "--json", home=tmp_path).stdout)
    assert report["run"]["mode"] == "incremental" and report["run"]["base_run"] == first["run_id"]
    assert "nmi" in report["metrics"] and sum(c["size"] for c in report["clusters"]) == 1600

    third = recluster(store, reports, "wn")
    assert (third["run_id"], third["mode"], third["reason"]) == (None, "none",
                                                                 f"nothing new since run {second['run_id']}")
    # A full refit's map replaces the anchors: only the latest full run's are kept.
    refit = recluster(store, reports, "wn", full=True)
    assert len(reports.anchors(refit["run_id"])["point_id"]) == 1600
    assert not len(reports.anchors(first["run_id"])["point_id"])


def test_refit_with_another_seed_keeps_cluster_ids(home):
    store, reports = _open(home)
    before = _labels(store, "wordnet")
    run = recluster(store, reports, "wordnet", seed=7, full=True, projection="none")
    after = _labels(store, "wordnet")
    same = np.mean([after[i]["cluster"] == p["cluster"] for i, p in before.items()])
    assert run["mode"] == "full" and same >= 0.9


def test_more_clusters_are_born_with_new_ids_and_recorded(home):
    store, reports = _open(home)
    before = _labels(store, "wordnet")
    run = recluster(store, reports, "wordnet", params={"k": 10}, full=True, projection="none")
    births = [e for e in run["events"] if e["kind"] == "birth"]
    assert sorted(e["cluster"] for e in births) == [8, 9]
    assert {c["id"] for c in run["clusters"]} == set(range(10))
    after = _labels(store, "wordnet")
    assert np.mean([after[i]["cluster"] == p["cluster"] for i, p in before.items()]) >= 0.6
    assert reports.events(run["run_id"]) == sorted(run["events"], key=lambda e: (e["kind"], e["cluster"]))
    fewer = recluster(store, reports, "wordnet", params={"k": 6}, full=True, projection="none")
    kinds = {e["kind"] for e in fewer["events"]}
    assert "death" in kinds or "merge" in kinds
    assert {c["id"] for c in fewer["clusters"]} <= set(range(10))


class _WriteFailsPartWay(EmbeddedStore):
    """The embedded store, with a label write that stops with an error after its first cluster (as a full disk
    would)."""

    def start_set_payloads(self, name, groups, progress=None):
        wait = super().start_set_payloads(name, groups[:1], progress)

        def fail() -> None:
            wait()
            raise EmbcError("no space left on device")
        return fail


def test_a_label_write_that_fails_records_the_failure_and_nothing_else(home):
    """The run's rows go into the report store while the labels are written, in a transaction that only
    commits once the write has ended well."""
    store, reports = _open(home)
    with pytest.raises(EmbcError, match="no space left"):
        recluster(_WriteFailsPartWay(home / "collections"), reports, "wordnet", seed=3, full=True)
    failed, last = reports.runs("wordnet")[:2]
    assert (failed["status"], failed["error"]) == ("failed", "no space left on device")
    assert reports.metrics(failed["run_id"]) == {} and reports.clusters(failed["run_id"]) == []
    assert len(reports.anchors(last["run_id"])["point_id"]) > 0  # the last complete map's anchors stay
    assert reports.run("wordnet")["run_id"] == last["run_id"]
    assert recluster(store, reports, "wordnet")["reason"] == f"run {failed['run_id']} did not complete"


def test_memory_budget_refuses_a_job_with_advice(home):
    result = run_embc("recluster", "-c", "wordnet", "--algorithm", "agglomerative", home=home,
                      env={"EMBC_MEMORY_BUDGET": "5M"})
    assert result.returncode == 1
    assert result.stderr.startswith("embc: error: Agglomerative on 1,600 points needs about 9.8 MiB of memory, "
                                    "over the 5.0 MiB budget: lower the sample cap, or use the kmeans algorithm")
    assert len(ReportStore(home / "reports.duckdb").runs("wordnet")) == 1  # refused before the run started
    result = run_embc("recluster", "-c", "wordnet", "--full", home=home, env={"EMBC_MEMORY_BUDGET": "100K"})
    assert (result.returncode, result.stderr) == (1, "embc: error: streaming 1,600 points needs about 284.4 KiB of "
                                                     "memory, over the 100.0 KiB budget: give the job more memory "
                                                     "(or set EMBC_MEMORY_BUDGET)\n")


def test_kmeans_streams_through_pages_when_the_vectors_exceed_the_budget(home):
    # 1,600 x 384 floats and their payloads need 3 MiB: under a 2 MiB budget the job samples 541 points for
    # k-means++, refines the centres with MiniBatchKMeans over the pages, and labels every page.
    store, reports = _open(home)
    before = _labels(store, "wordnet")
    result = run_embc("recluster", "-c", "wordnet", "--full", "--json", home=home, env={"EMBC_MEMORY_BUDGET": "2M"})
    assert result.returncode == 0, result.stderr
    run = json.loads(result.stdout)
    assert run["params"]["streamed"] is True and run["metrics"]["nmi"] >= 0.6
    assert sum(c["size"] for c in run["clusters"]) == 1600
    assert store.count("wordnet", {"cluster_run": run["run_id"]}) == 1600
    assert 400 < len(reports.columns("coords", run["run_id"])["point_id"]) < 700  # the map shows the sample
    after = _labels(store, "wordnet")
    assert np.mean([after[i]["cluster"] == p["cluster"] for i, p in before.items()]) >= 0.8  # ids kept


def _blobs(tmp_path: Path, n: int = 40_000, centres: int = 60, dim: int = 16) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(centres, dim))[rng.integers(0, centres, n)] + 0.2 * rng.normal(size=(n, dim))
    np.save(tmp_path / "blobs.npy", X.astype(np.float32))
    (tmp_path / "blobs.ids.txt").write_text("".join(f"b{i}\n" for i in range(n)))
    return tmp_path / "blobs.npy"


def test_sigkill_during_label_write_then_rerun_labels_every_point_by_one_run(tmp_path):
    home = tmp_path / "home"
    assert run_embc("ingest", str(_blobs(tmp_path)), "-c", "b", home=home).returncode == 0
    first = json.loads(run_embc("recluster", "-c", "b", "--k", "60", "--n-init", "1", "--projection", "none",
                                "--json", home=home).stdout)
    job = subprocess.Popen([sys.executable, "-m", "embc", "recluster", "-c", "b", "--full", "--seed", "3"],
                           env={**os.environ, "EMBC_HOME": str(home)}, stderr=subprocess.PIPE, text=True)
    for line in job.stderr:
        if re.match(r"embc: write labels \d+/60$", line):  # a tenth of the 60 clusters' labels are written
            job.send_signal(signal.SIGKILL)
            break
    job.wait()
    store, reports = _open(home)
    killed = first["run_id"] + 1
    runs = {r["run_id"]: r["status"] for r in reports.runs("b")}
    assert runs == {first["run_id"]: "complete", killed: "running"}
    written = store.count("b", {"cluster_run": killed})
    assert 0 < written < 40_000  # killed part-way through the label write
    # Queries answer from the last complete run meanwhile.
    result = run_embc("report", "-c", "b", "--json", home=home)
    assert result.returncode == 0 and json.loads(result.stdout)["run"]["run_id"] == first["run_id"]
    # No job holds the lock, so the killed run is shown as what it is.
    shown = json.loads(run_embc("report", "-c", "b", "--runs", "--json", home=home).stdout)[0]
    assert (shown["run_id"], shown["status"], shown["error"]) == (
        killed, "failed", "interrupted: the job stopped before it completed")
    assert run_embc("clusters", "-c", "b", "--json", home=home).returncode == 0

    rerun = json.loads(run_embc("recluster", "-c", "b", "--json", home=home).stdout)
    assert (rerun["mode"], rerun["reason"]) == ("full", f"run {killed} did not complete")
    assert store.count("b", {"cluster_run": rerun["run_id"]}) == 40_000
    statuses = {r["run_id"]: r["status"] for r in reports.runs("b")}
    assert statuses[killed] == "failed" and statuses[rerun["run_id"]] == "complete"


def test_two_reclusters_take_turns_and_an_ingest_runs_beside_them(home, tmp_path, wordnet_rows):
    env = {**os.environ, "EMBC_HOME": str(home)}
    extra = tmp_path / "extra.jsonl"
    extra.write_text("".join(json.dumps({"id": f"x{i}", "text": r["text"] + " (again)", "label": r["label"]}) + "\n"
                             for i, r in enumerate(wordnet_rows[:200])))
    command = [sys.executable, "-m", "embc", "recluster", "-c", "wordnet", "--full", "--projection", "pca"]
    jobs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    feeder = subprocess.Popen([sys.executable, "-m", "embc", "ingest", str(extra), "-c", "wordnet"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [p.communicate(timeout=300) for p in (*jobs, feeder)]
    assert [p.returncode for p in (*jobs, feeder)] == [0, 0, 0], outputs
    assert any("embc: waiting for the recluster job on 'wordnet'" in err for _, err in outputs[:2])
    store, reports = _open(home)
    complete = [r for r in reports.runs("wordnet") if r["status"] == "complete"]
    assert len(complete) == 3 and store.count("wordnet") == 1800
    recluster(store, reports, "wordnet")  # whatever the two jobs did not see is assigned now
    assert store.count("wordnet", {"cluster": None}) == 0


def test_every_runs_on_a_schedule_and_survives_errors(home, tmp_path):
    log = tmp_path / "worker.log"
    with open(log, "w") as out:
        worker = subprocess.Popen([sys.executable, "-m", "embc", "recluster", "-c", "wordnet", "--every", "1s"],
                                  env={**os.environ, "EMBC_HOME": str(home)}, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while log.read_text().count("nothing new since run 1") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert run_embc("delete", "--all", "-c", "wordnet", home=home).returncode == 0  # each tick now fails
        while log.read_text().count("embc: error:") < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert worker.poll() is None  # still running
        worker.terminate()
        worker.wait(30)
    stamp = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
    assert len(re.findall(stamp + r" wordnet: nothing new since run 1$", log.read_text(), re.M)) >= 2
    failed = re.findall(stamp + r" embc: error: (.*)$", log.read_text(), re.M)
    assert len(failed) >= 2 and set(failed) == {"no collection 'wordnet': ingest into it first"}, log.read_text()
    missing = run_embc("recluster", "-c", "nope", "--every", "1s", home=home)  # permanent: stops at once
    assert (missing.returncode, missing.stderr.splitlines()[-1]) == (
        1, "embc: error: no collection 'nope': ingest into it first")
    for interval in ("soon", "10", "5x"):
        bad = run_embc("recluster", "--every", interval, home=home)
        assert bad.returncode == 2 and bad.stderr.strip().endswith(
            f"Error: Invalid value for --every: '{interval}' is not an interval: write it like 30s, 10m, 1h30m or 1d "
            "(a bare number has no unit)")


def test_no_disk_for_the_page_out_is_one_line_and_keeps_the_last_run(home):
    """A page-out writes the vectors it fetches from the store to the data directory (the vector cache, here
    removed first): a write that fails there (here a 1 MiB file size limit; a full disk reads the same) stops
    the job with one line, and nothing stored changes."""
    store, reports = _open(home)
    before = _labels(store, "wordnet")
    shutil.rmtree(home / "vectors")

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, resource.RLIM_INFINITY))

    job = subprocess.run([sys.executable, "-m", "embc", "recluster", "-c", "wordnet", "--full"], text=True,
                         capture_output=True, env={**os.environ, "EMBC_HOME": str(home)}, preexec_fn=limit_file_size)
    assert job.returncode == 1
    folder = home / "vectors"
    # A log line as the page-out started (stderr is not a terminal), then the error in one line.
    assert job.stderr.splitlines()[:-1] == ["embc: page out"]
    error = job.stderr.splitlines()[-1]
    assert error.startswith(f"embc: error: cannot page the vectors out: writing them to {folder} failed (")
    assert error.endswith("a recluster needs as much free disk there as the collection's vectors take")
    assert [r["status"] for r in reports.runs("wordnet")] == ["failed", "complete"]
    assert _labels(store, "wordnet") == before


def test_report_store_sessions_nest(tmp_path):
    reports = ReportStore(tmp_path / "reports.duckdb")
    with reports.session():
        with reports.session():
            assert reports.runs("x") == []
        # The outer session still holds the file: this call neither reopens it nor waits for its lock.
        assert reports.runs("x") == []
    assert reports.runs("x") == []


def test_a_server_tick_that_fails_is_one_line_with_credentials_masked_and_the_next_one_runs(tmp_path, capsys):
    calls = []

    def failing(workspace, jobs):
        calls.append(time.monotonic())
        raise ConnectionError("cannot reach http://admin:hunter2@qdrant:6333/collections\n  (refused)")

    jobs = Jobs()
    with Workspace(tmp_path) as ws:
        thread = schedule.start(ws, jobs, 0.05, failing)
        deadline = time.monotonic() + 30
        while len(calls) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        jobs.stop(5, thread)
    said = {line.split("embc serve: ", 1)[1] for line in capsys.readouterr().err.splitlines()}
    assert len(calls) >= 2 and said == {"error: ConnectionError: cannot reach http://***@qdrant:6333/collections "
                                        "(refused) (set EMBC_DEBUG=1 to see where)"}


def test_a_scheduled_job_cancelled_by_a_client_is_one_line_and_no_result(capsys):
    jobs, started, results = Jobs(), threading.Event(), []

    def work(progress):
        started.set()
        while True:
            progress("fit", 0, 0)
            time.sleep(0.01)

    runner = threading.Thread(target=lambda: results.append(schedule._run(jobs, "c", work)))
    runner.start()
    assert started.wait(60)
    jobs.cancel(jobs.active("c").id)
    runner.join(60)
    said = [line.split("embc serve: ", 1)[1] for line in capsys.readouterr().err.splitlines()]
    assert (results, said) == ([None], ["c: cancelled by a client"])
