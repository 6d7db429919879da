"""The recluster job: choose a full fit or an incremental assignment, page the vectors out, keep cluster ids
stable, write each point's cluster back, and record the run.

When a run is full (documented rule, README "Scheduled reclusters"):
- there is no complete run yet, `full=True`, or the parameters (or the map's projection) differ from the
  last run's;
- the newest run did not complete (killed or failed part-way: its labels may be half-written);
- the points added since the last full fit, counting this run's, exceed `refit_fraction` of that fit's points;
- drift: more than DRIFT_LIMIT (and at least DRIFT_MIN_POINTS) of the new points lie outside every
  cluster's extent.
Otherwise only the points no run has clustered are paged out and assigned to the nearest cluster (noise
outside every extent). With no such points the job says so and returns.
"""

from __future__ import annotations

from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np

from embc.cluster.assign import CentroidModel
from embc.cluster.describe import BackgroundWords
from embc.cluster.evaluate import Evaluation
from embc.cluster.fitting import Fit
from embc.cluster.params import REFIT_FRACTION, check_projection, check_size, resolve
from embc.cluster.progress import Clock, Progress
from embc.store.page_out import Spill, Vectors, changed, page_out, spill
from embc.store.reports import INTERRUPTED, ReportStore, RunRecord
from embc.store.vectors import Store

DRIFT_LIMIT = 0.25
DRIFT_MIN_POINTS = 20  # a handful of odd points is noise, not drift


@cache  # those imported cannot change while the process runs; reading them took 8 ms of every run
def versions() -> dict[str, str]:
    """Versions of the libraries a run's result depends on."""
    out = {}
    for package in ("embc", "scikit-learn", "torch", "numpy", "umap-learn", "qdrant-edge-py", "qdrant-client",
                    "sentence-transformers"):
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return out


def recluster(store: Store, reports: ReportStore, collection: str, algorithm: str | None = None,
              params: dict | None = None, seed: int | None = None, projection: str | None = None,
              full: bool = False, refit_fraction: float = REFIT_FRACTION,
              progress: Progress | None = None, *, vectors_dir: Path,
              words: BackgroundWords | None = None) -> dict:
    """Bring the collection's clustering up to date; returns the run as recorded (run_id, mode, reason,
    params, points, clusters, metrics, timings), or run_id None and mode "none" when nothing is new.
    Unset arguments reuse the last run's: algorithm, parameters (`params`, see `embc.cluster.params`), seed
    and `projection` (umap, tsne, pca, or "none"). `vectors_dir` holds the collections' vector caches;
    `words` embeds keywords in the collection's space, to name text clusters (see `embc.cluster.describe`).
    Parameters are checked before any work: a refused run (ParameterError) records nothing."""
    with reports.job(collection), store.watch(collection) as upserted:
        # Deciding, and a small job, make many small queries: one connection to the report store for all.
        with reports.session():
            info = store.collection(collection)
            history = reports.runs(collection)
            last = next((r for r in history if r["status"] == "complete"), None)
            algorithm, chosen = choose(last, algorithm, params)
            same_algorithm = last is not None and algorithm == last["algorithm"]
            seed = seed if seed is not None else (last["seed"] if last else 0)
            projection = check_projection(projection or (last["params"].get("projection") if last else None)
                                          or "umap")
            if history and history[0]["status"] == "running":
                # We hold the job lock, so the process that started this run is gone.
                reports.fail_run(history[0]["run_id"], INTERRUPTED)
            same = (same_algorithm and chosen == _algorithm_params(last)
                    and projection == last["params"].get("projection"))
            reason = _full_reason(last, history, full, same)
            job = Job(store, reports, collection, info.model, algorithm, chosen, seed, projection, last, progress,
                      vectors_dir, words, upserted)
            if not reason:
                # A small job: the store stays open for all its calls (a full fit never holds it).
                with store.session(collection):
                    new = store.count(collection, {"cluster": None})
                    if not new:
                        return {"run_id": None, "mode": "none", "reason": f"nothing new since run {last['run_id']}",
                                "points": 0}
                    base_points = reports.run(collection, last["base_run"] or last["run_id"])["n_points"]
                    added = sum(r["n_points"] or 0 for r in history if r["status"] == "complete"
                                and r["mode"] == "incremental" and r["base_run"] == last["base_run"])
                    if new + added > refit_fraction * base_points:
                        reason = (f"{new + added} points added since the last full fit: over {refit_fraction:.0%} "
                                  f"of its {base_points}")
                    else:
                        run = job.incremental()
                        if isinstance(run, dict):
                            return run
                        reason = run
        return job.full(reason)


def choose(last: dict | None, algorithm: str | None = None, params: dict | None = None) -> tuple[str, dict]:
    """The algorithm and parameters a run after `last` (the latest complete run, or None) uses: those given,
    the others `last`'s when the algorithm is its, else the defaults (kmeans when none is given or was run).
    ParameterError for a parameter the algorithm does not take, or one out of bounds."""
    same_algorithm = last is not None and algorithm in (None, last["algorithm"])
    reused = last is not None and algorithm is None
    algorithm = algorithm or (last["algorithm"] if last else "kmeans")
    return algorithm, resolve(algorithm, params or {}, _asked(last["params"]) if same_algorithm else None, reused)


def _asked(params: dict) -> dict:
    """A run's parameters as they were asked for: k "auto" (or its range), not the k its sweep chose, so that
    asking again is the same run's parameters, and a refit chooses k again."""
    k_auto = params.get("k_auto")
    return {**params, "k": "auto" if k_auto is True else k_auto} if k_auto else params  # True: before 2026-12-06


def _algorithm_params(run: dict | None) -> dict | None:
    return None if run is None else resolve(run["algorithm"], {}, _asked(run["params"]))


def _full_reason(last: dict | None, history: list[dict], full: bool, same_params: bool) -> str | None:
    if last is None:
        return "first run"
    if full:
        return "asked for"
    if history[0]["run_id"] != last["run_id"]:
        return f"run {history[0]['run_id']} did not complete"
    if not same_params:
        return "parameters changed"
    return None


@dataclass
class _FullRun:
    """A full run as started: its id and parameters, the last run's clusters and the next unused id, and the
    points paged out (None when the fit streams them)."""

    run_id: int
    params: dict
    old: CentroidModel | None
    next_id: int
    spilled: Spill | None
    unusable: dict[str, float] = field(default_factory=dict)  # counts of points the page-out left out or repaired


@dataclass
class Job:
    """One recluster of a collection under its job lock: `full` or `incremental`."""

    store: Store
    reports: ReportStore
    collection: str
    model_name: str
    algorithm: str
    params: dict
    seed: int
    projection: str
    last: dict | None
    progress: Progress | None
    vectors_dir: Path
    words: BackgroundWords | None = None
    upserted: Callable[[], set[str]] = set  # the ids upserted into the collection since the job began

    def _write_labels(self, ids: list[str], read: np.ndarray, labels: np.ndarray, run_id: int) -> Callable[[], None]:
        """Start writing each point's cluster and this run's id, one store call per cluster, beside the rest of
        the job; the result waits for the write to end. `read`: the points' cache keys as they were read."""
        order = np.argsort(labels, kind="stable")
        bounds = np.flatnonzero(np.diff(labels[order])) + 1
        groups = [([ids[i] for i in group], {"cluster": int(labels[group[0]]), "cluster_run": run_id})
                  for group in np.split(order, bounds)]
        progress = self.progress
        writing = self.store.start_set_payloads(
            self.collection, groups, progress and (lambda done, total: progress("write labels", done, total)))

        def written() -> None:
            writing()
            if progress and groups:
                # Written beside the job's other steps, the labels may be done before the step itself is announced
                # (done 0 of 0): every group is written once `writing` returns, so a job that has ended says so.
                progress("write labels", len(groups), len(groups))
            # A point upserted with another vector after it was read (by a client of the server, or another embc
            # process) now holds the label of a vector it no longer has: cleared, the next run assigns it.
            if stale := changed(self.store, self.collection, ids, read, self.upserted()):
                self.store.clear_labels(self.collection, stale)
        return written

    def _start(self, mode: str, params: dict, base_run: int | None = None) -> int:
        return self.reports.start_run(self.collection, mode, self.algorithm, {**params, "projection": self.projection},
                                      self.seed, self.model_name, versions(), base_run)

    @contextmanager
    def _failing(self, run_id: int) -> Iterator[None]:
        """Record the run as failed when the work inside raises (or is interrupted)."""
        try:
            yield
        except BaseException as exc:
            self.reports.fail_run(run_id, str(exc) or type(exc).__name__)
            raise

    def full(self, reason: str) -> dict:
        """Fit every point, match the clusters to the last run's ids, write the labels, record everything.
        Vectors over the memory budget are streamed: metrics, names and the map then come from a sample."""
        clock = Clock(self.progress)
        if self.words is not None:
            self.words.start()  # the model that embeds keywords loads while the vectors are paged out and fitted
        run = self._open_full(clock)
        with self._failing(run.run_id):
            fit = self._fit(run, clock)
            clock.begin("match_ids")
            labels, model, events = self._stable_ids(fit, run)
            clock.begin("evaluate")
            # X holds every point, or (streamed) the sample at x_rows; names come from the payloads at rows.
            rows = slice(None) if fit.x_rows is None else fit.x_rows
            ids = fit.ids if fit.x_rows is None else [fit.ids[i] for i in fit.x_rows]
            evaluation = self._evaluate(fit, labels, rows)
            clock.begin("describe")
            clusters = self._describe(fit, labels, model, evaluation.per_cluster(labels[rows]))
            clock.begin("project")
            params = {**fit.params, "projection": self.projection}
            record = RunRecord(len(fit.ids), {**evaluation.metrics, **run.unusable}, clusters, params,
                               silhouettes={"point_id": [ids[i] for i in evaluation.sample],
                                            "cluster": labels[rows][evaluation.sample],
                                            "value": evaluation.silhouettes},
                               sweep=fit.sweep, events=events, anchors={})
            timings = self._map_and_write(fit, labels, ids, rows, run.run_id, record, clock)
        return {"run_id": run.run_id, "mode": "full", "reason": reason, "collection": self.collection,
                "algorithm": self.algorithm, "params": fit.params, "points": len(fit.ids),
                "clusters": _public(clusters), "metrics": self.reports.metrics(run.run_id), "events": events,
                "timings": timings}

    def _open_full(self, clock: Clock) -> _FullRun:
        """Check the job, start the run, and page the vectors out (unless they are to be streamed), all in one
        opening of the store. Bad parameters fail before any work, and a job over the memory budget before it
        pages anything out."""
        from embc.cluster.algorithms import make_estimator
        from embc.cluster.assign import CentroidModel
        from embc.cluster.fitting import DESCRIBE_SAMPLE, fits_in_memory
        from embc.store.vector_cache import VectorCache

        estimator = make_estimator(self.algorithm, self.params, self.seed)
        info = self.store.collection(self.collection)
        with self.store.session(self.collection):
            n = self.store.count(self.collection)
            check_size(self.params, n, self.collection)
            if hasattr(estimator, "check_memory"):
                estimator.check_memory(n)
            in_memory = fits_in_memory(n, info.dim)
            params = self.params if in_memory else {**self.params, "streamed": True}
            with self.reports.session():  # what the run needs of the report store, read in one go
                run_id = self._start("full", params)
                old = CentroidModel(*self.reports.centroids(self.last["run_id"])) if self.last else None
                next_id = self.reports.next_cluster_id(self.collection)
            spilled = None
            if in_memory:
                with self._failing(run_id):
                    clock.begin("page_out")
                    # The vectors are read from the collection's vector cache once the store is closed.
                    spilled = spill(self.store, self.collection, VectorCache(self.vectors_dir, info), self.progress,
                                    keep=DESCRIBE_SAMPLE, seed=self.seed)
        return _FullRun(run_id, params, old, next_id, spilled)

    def _fit(self, run: _FullRun, clock: Clock) -> Fit:
        from embc.cluster.fitting import fit_in_memory, fit_streamed

        if run.spilled is not None:
            data = run.spilled.read()
            run.unusable = unusable(data)
            return fit_in_memory(data, self.collection, self.algorithm, run.params, self.seed, clock)
        return fit_streamed(self.store, self.collection, self.algorithm, run.params, self.seed, clock)

    def _stable_ids(self, fit: Fit, run: _FullRun) -> tuple[np.ndarray, CentroidModel, list[dict]]:
        """Each point's stable cluster id, the centroid model under those ids, and the id events."""
        from embc.cluster.matching import match_clusters

        mapping, events = match_clusters(fit.previous, fit.labels, run.old, fit.model, run.next_id)
        fitted, where = np.unique(fit.labels, return_inverse=True)
        labels = np.array([mapping[int(c)] for c in fitted], np.int64)[where]
        return labels, fit.model.relabel(mapping), events

    def _evaluate(self, fit: Fit, labels: np.ndarray, rows) -> Evaluation:
        from embc.cluster.evaluate import evaluate

        return evaluate(fit.X, labels[rows], np.asarray(fit.truth, dtype=object)[rows], fit.inertia, self.seed,
                        fit.previous[rows] if self.last else None)

    def _describe(self, fit: Fit, labels: np.ndarray, model: CentroidModel,
                  silhouettes: dict[int, float]) -> list[dict]:
        """Each cluster's name, keywords and representatives (from the payloads sampled), size, silhouette,
        centroid and extent."""
        from embc.cluster.describe import describe

        described = {c["id"]: c for c in describe(fit.X[fit.rows] if fit.x_rows is None else fit.X,
                                                  labels[fit.rows], [fit.ids[i] for i in fit.rows], fit.payloads,
                                                  self.words)}
        extents = model.extents()
        clusters = []
        for cid, size in zip(*np.unique(labels, return_counts=True)):
            c = described.get(cid) or {"id": int(cid), "name": f"cluster {cid}", "keywords": [], "representatives": []}
            c["size"], c["silhouette"] = int(size), silhouettes.get(cid)
            c["centroid"], c["radius"] = extents.get(cid, (None, None))
            clusters.append(c)
        return clusters

    def _map_and_write(self, fit: Fit, labels: np.ndarray, ids: list[str], rows, run_id: int, record: RunRecord,
                       clock: Clock) -> dict[str, float]:
        """Plan the 2-D map, free the vectors, then write the labels (in a second process, as the engine holds
        the GIL while it writes) while the map is laid out and the run's rows go into the report store; the run
        completes once the labels are written. Returns the timings."""
        from embc.cluster.project import plan_map

        plan = plan_map(fit.X, labels[rows], self.seed, self.projection) if self.projection != "none" else None
        fit.X = None  # the store opens again, with its own memory
        writing = self._write_labels(fit.ids, fit.keys, labels, run_id)
        try:
            if plan is not None:  # a full run without a map still drops the last map's anchors
                xy = plan.layout()
                record.coords = {"point_id": ids, "cluster": labels[rows], "x": xy[:, 0], "y": xy[:, 1]}
                record.anchors = {"point_id": [ids[i] for i in plan.sample], "cluster": labels[rows][plan.sample],
                                  "x": xy[plan.sample, 0], "y": xy[plan.sample, 1], "vector": plan.vectors}
            clock.begin("write_labels")
            with self.reports.finishing(run_id, record) as timings:
                writing()
                timings.update(clock.total())
        except BaseException:
            with suppress(Exception):
                writing()  # labels are written before the run fails
            raise
        return timings

    def incremental(self) -> dict | str:
        """Assign the points no run has clustered to the last run's clusters; on drift, assign nothing and
        return the reason for a full fit instead."""
        from embc.cluster.assign import CentroidModel

        clock = Clock(self.progress)
        clock.begin("page_out")
        data = page_out(self.store, self.collection, self.vectors_dir, self.progress,
                        match={"cluster": None})
        clock.begin("assign")
        model = CentroidModel(*self.reports.centroids(self.last["run_id"]))
        labels, _ = model.assign(data.X)
        outside = float((labels < 0).mean())
        if outside > DRIFT_LIMIT and (labels < 0).sum() >= DRIFT_MIN_POINTS:
            return f"drift: {outside:.0%} of the {len(labels)} new points fit no cluster"
        clock.begin("write_labels")
        base = self.last["base_run"] or self.last["run_id"]
        # Those of the fit whose clusters the points join: its chosen k (or eps) too, not only what was asked.
        params = {key: value for key, value in self.last["params"].items() if key != "projection"}
        run_id = self._start("incremental", params, base)
        with self._failing(run_id):
            self._write_labels(data.ids, data.keys, labels, run_id)()
            clusters = self.reports.clusters(self.last["run_id"])
            added = dict(zip(*np.unique(labels, return_counts=True)))
            extents = model.extents()
            if -1 in added and all(c["id"] != -1 for c in clusters):
                clusters.append({"id": -1, "size": 0, "name": "noise", "keywords": [], "representatives": []})
            for c in clusters:
                c["size"] += int(added.get(c["id"], 0))
                c["centroid"], c["radius"] = extents.get(c["id"], (None, None))
            clock.begin("project")
            coords = self._place(data, labels, base) if self.projection != "none" else None
        metrics = {"new_points": float(len(labels)), "new_noise_fraction": outside, **unusable(data)}
        timings = clock.total()
        self.reports.finish_run(run_id, RunRecord(len(labels), metrics, clusters,
                                                  {**params, "projection": self.projection}, coords), timings)
        return {"run_id": run_id, "mode": "incremental", "reason": f"{len(labels)} new points",
                "collection": self.collection, "algorithm": self.algorithm, "params": params,
                "points": len(labels), "clusters": _public(clusters), "metrics": self.reports.metrics(run_id),
                "events": [], "timings": timings}

    def _place(self, data: Vectors, labels: np.ndarray, base_run: int) -> dict | None:
        """Map positions for new points among the anchors of the full run's map, which do not move."""
        from embc.cluster.project import place

        anchors = self.reports.anchors(base_run)
        if not len(anchors["point_id"]):
            return None
        xy = np.column_stack([anchors["x"], anchors["y"]]).astype(np.float32)
        placed = place(data.X, labels, anchors["vector"], anchors["cluster"], xy)
        return {"point_id": data.ids, "cluster": labels, "x": placed[:, 0], "y": placed[:, 1]}


def unusable(data: Vectors) -> dict[str, float]:
    """The page-out's counts, as metrics, where there were any: points left out for a vector that is not finite
    or is all zeros (`skipped_points`), and vectors read from the store for a damaged cache record
    (`cache_repaired`)."""
    counts = {"skipped_points": data.skipped, "cache_repaired": data.repaired}
    return {name: float(n) for name, n in counts.items() if n}


def _public(clusters: Iterable[dict]) -> list[dict]:
    """Clusters as reported: without their centroid vectors."""
    return [{k: v for k, v in c.items() if k not in ("centroid", "radius")} for c in clusters]
