"""Random sequences of ingests (with repeated keys, changed vectors and bad vectors), deletes, reclusters of every
algorithm (full and incremental), reclusters cancelled at a random moment (through the server) and renames, through
the Workspace and through a Client of a real `embc serve`, checked after every step against a model of the
collection: its keys."""

from __future__ import annotations

import io
import itertools
import json
import time

import numpy as np
from hypothesis import HealthCheck, settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

import embc
from embc.errors import EmbcError
from test_service import KEY, start_server

DIM = 8
CENTRES = np.random.default_rng(0).normal(size=(5, DIM)) * 3
KEYS = [f"k{i}" for i in range(60)]
TAKE_K = ("kmeans", "agglomerative")
SETTINGS = settings(max_examples=8, stateful_step_count=12, deadline=None, suppress_health_check=list(HealthCheck),
                    database=None)


class Collection(RuleBasedStateMachine):
    """One fresh collection of `target` (a Workspace or a Client) per example."""

    target = None
    http = None  # the server's HTTP client, when the target is a Client
    numbers = itertools.count()

    def __init__(self):
        super().__init__()
        self.name = f"c{next(self.numbers)}"
        self.model: set[str] = set()
        self.clustered = False
        self.algorithm = "kmeans"
        self.names: dict[int, str] = {}  # names given to cluster ids, which keep them in later runs

    def teardown(self):
        if any(c.name == self.name for c in self.target.collections()):
            self.target.delete(self.name)

    @rule(keys=st.lists(st.sampled_from(KEYS), min_size=1, max_size=25), seed=st.integers(0, 1000),
          bad=st.sampled_from([None, "nan", "dimensions", "zeros"]))
    def ingest(self, keys, seed, bad):
        rng = np.random.default_rng(seed)
        records = [(key, CENTRES[int(key[1:]) % 5] + rng.normal(size=DIM)) for key in keys]
        records += {None: [], "nan": [("bad", np.full(DIM, np.nan))], "dimensions": [("bad", np.ones(DIM + 1))],
                    "zeros": [("bad", np.zeros(DIM))]}[bad]
        if bad == "nan" and isinstance(self.target, embc.Client):
            records[-1] = ("bad", np.full(DIM, np.inf))  # skipped by the client: JSON cannot carry it
        result = self.target.ingest(self.name, records)
        self.model |= set(keys)
        assert result.added + result.updated + result.unchanged == len(set(keys)), result
        refused = [s.source for s in result.skipped if "duplicate" not in s.reason]
        assert refused == [] if bad is None else refused in (["bad"], [f"records#{len(records) - 1}"]), result

    @precondition(lambda self: self.model)
    @rule(keys=st.lists(st.sampled_from(KEYS), max_size=10))
    def delete(self, keys):
        assert self.target.delete(self.name, keys) == len(set(keys) & self.model)
        self.model -= set(keys)

    @precondition(lambda self: self.model)
    @rule(k=st.integers(2, 6), full=st.booleans(),
          algorithm=st.sampled_from(["kmeans", "agglomerative", "dbscan", "hdbscan", None]))
    def recluster(self, k, full, algorithm):
        chosen = algorithm or self.algorithm
        try:
            run = self.target.recluster(self.name, algorithm, k if chosen in TAKE_K else None, full=full,
                                        projection="pca")
        except EmbcError as exc:
            assert "too few to cluster" in str(exc) or "k must be at most" in str(exc), exc
            return
        self.algorithm = chosen
        if run.run_id is None:
            return
        self.clustered = True
        members = {c.id: [e.item for e in self.target.members(self.name, c.id)]
                   for c in self.target.clusters(self.name)}
        assert sorted(itertools.chain(*members.values())) == sorted(self.model)
        clusters = self.target.clusters(self.name)
        assert sum(c.size for c in clusters) == len(self.model)
        assert all(c.name == self.names[c.id] for c in clusters if c.id in self.names), (clusters, self.names)

    @precondition(lambda self: self.model and self.http is not None)
    @rule(wait=st.floats(0, 0.3), full=st.booleans())
    def cancel_a_recluster(self, wait, full):
        """A recluster cancelled at any moment loses and duplicates nothing (the invariant); a run it cut short is
        recorded as failed, and the next run refits."""
        started = self.http.post(f"/v1/collections/{self.name}/recluster", json={"full": full, "projection": "pca"})
        if started.status_code == 422:  # too few points for the last run's parameters
            return
        job = started.json()["job_id"]
        time.sleep(wait)
        cancelled = self.http.delete(f"/v1/jobs/{job}")
        assert cancelled.status_code in (202, 409), cancelled.text
        while (state := self.http.get(f"/v1/jobs/{job}").json())["state"] in ("queued", "running"):
            time.sleep(0.05)
        # A job past its last step when cancelled ends done; one cancelled before its run began records none.
        assert state["state"] in ("cancelled", "done") and (cancelled.status_code == 202 or state["state"] == "done")
        if state["state"] == "cancelled":
            latest = self.target.runs(self.name)[:1]
            assert all((r.status, r.error) in (("failed", "cancelled by a client"), ("complete", None))
                       for r in latest), latest
        elif state["result"]["run_id"] is not None:
            self.clustered = True

    @precondition(lambda self: self.clustered and self.model)
    @rule(name=st.text(min_size=1, max_size=20).filter(lambda s: s.strip() and s.isprintable()))
    def rename(self, name):
        cluster = self.target.clusters(self.name)[0].id
        self.target.rename(self.name, cluster, name)
        self.names[cluster] = name.strip()
        assert [c.name for c in self.target.clusters(self.name) if c.id == cluster] == [name.strip()]

    @precondition(lambda self: self.clustered and self.model)
    @rule(data=st.data())
    def similar_inside_a_cluster(self, data):
        clusters = self.target.clusters(self.name)
        cluster = data.draw(st.sampled_from([c.id for c in clusters]))
        hits = self.target.similar(self.name, item=data.draw(st.sampled_from(sorted(self.model))), cluster=cluster,
                                   limit=5)
        assert {h.cluster for h in hits} <= {cluster}, hits

    @precondition(lambda self: self.clustered)
    @rule(data=st.data())
    def delete_a_run(self, data):
        runs = {r.run_id: r for r in self.target.runs(self.name)}
        latest = runs[max(i for i, r in runs.items() if r.status == "complete")]
        run = runs[data.draw(st.sampled_from(sorted(runs)))]
        # The runs the clusters come from now stay, and so do the incremental runs on top of them.
        kept = {latest.run_id, latest.base_run} & ({run.run_id} | ({run.base_run} if run.mode == "incremental"
                                                                   else set()))
        try:
            self.target.delete_run(self.name, run.run_id)
        except EmbcError as exc:
            assert kept and "come from now" in str(exc), (run, latest, exc)
        else:
            assert not kept and run.run_id not in [r.run_id for r in self.target.runs(self.name)]

    @invariant()
    def every_key_is_stored_once_and_answers(self):
        if not self.model:
            return
        assert self.target.collection(self.name).points == len(self.model)
        key = min(self.model)
        hits = self.target.similar(self.name, item=key, limit=3)
        assert key not in [h.item for h in hits] and len(hits) == min(3, len(self.model) - 1), hits
        if self.clustered:
            out = io.BytesIO()
            assert self.target.export(self.name, out, format="jsonl") == len(self.model)
            assert sorted(json.loads(line)["item"] for line in out.getvalue().splitlines()) == sorted(self.model)


def _run(target, http=None) -> None:
    Collection.target, Collection.http = target, http
    try:
        Collection.TestCase.settings = SETTINGS
        Collection.TestCase().runTest()
    finally:
        Collection.target = Collection.http = None


def test_random_operations_on_a_workspace_keep_every_key_once(tmp_path):
    with embc.Workspace(tmp_path / "home") as workspace:
        _run(workspace)


def test_random_operations_through_a_served_client_keep_every_key_once(tmp_path):
    process, http = start_server(tmp_path / "home")
    try:
        with embc.Client(str(http.base_url), api_key=KEY) as client:
            _run(client, http)
    finally:
        process.terminate()
        process.wait(60)
