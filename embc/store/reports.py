"""The report store: every run's parameters, metrics, clusters and 2-D map, in one DuckDB file."""

from __future__ import annotations

import json
import os
import sys
import threading
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import wraps
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterator, Sequence

import duckdb
import numpy as np

from embc.errors import EmbcError
from embc.layout import Layout
from embc.store.locking import exclusive, held, holding
from embc.store.vectors import check_name

SCHEMA = """
CREATE SEQUENCE IF NOT EXISTS run_ids START 1;
CREATE TABLE IF NOT EXISTS runs (
    run_id INTEGER PRIMARY KEY, collection VARCHAR NOT NULL, mode VARCHAR, algorithm VARCHAR,
    params JSON, seed INTEGER, model VARCHAR, versions JSON, n_points INTEGER, n_clusters INTEGER,
    started_at TIMESTAMP, finished_at TIMESTAMP, timings JSON, status VARCHAR, error VARCHAR);
CREATE TABLE IF NOT EXISTS metrics (run_id INTEGER, name VARCHAR, value DOUBLE);
CREATE TABLE IF NOT EXISTS clusters (
    run_id INTEGER, cluster INTEGER, size INTEGER, name VARCHAR, keywords JSON, representatives JSON);
CREATE TABLE IF NOT EXISTS coords (run_id INTEGER, point_id VARCHAR, x REAL, y REAL);
CREATE TABLE IF NOT EXISTS sweeps (run_id INTEGER, k INTEGER, inertia DOUBLE, silhouette DOUBLE, chosen BOOLEAN);
CREATE TABLE IF NOT EXISTS silhouettes (run_id INTEGER, point_id VARCHAR, cluster INTEGER, value REAL);
ALTER TABLE clusters ADD COLUMN IF NOT EXISTS silhouette DOUBLE;
ALTER TABLE coords ADD COLUMN IF NOT EXISTS cluster INTEGER;
ALTER TABLE runs ADD COLUMN IF NOT EXISTS base_run INTEGER;
ALTER TABLE clusters ADD COLUMN IF NOT EXISTS centroid FLOAT[];
ALTER TABLE clusters ADD COLUMN IF NOT EXISTS radius DOUBLE;
CREATE TABLE IF NOT EXISTS events (run_id INTEGER, kind VARCHAR, cluster INTEGER, related JSON);
CREATE TABLE IF NOT EXISTS anchors (run_id INTEGER, point_id VARCHAR, cluster INTEGER, x REAL, y REAL, vector FLOAT[]);
CREATE TABLE IF NOT EXISTS names (collection VARCHAR, cluster INTEGER, name VARCHAR, PRIMARY KEY (collection, cluster));
CREATE TABLE IF NOT EXISTS decoder_epochs (collection VARCHAR, trained_at TIMESTAMP, epoch INTEGER, phase VARCHAR,
    train_loss DOUBLE, val_loss DOUBLE);
"""
INTERRUPTED = "interrupted: the job stopped before it completed"
_DAMAGED = ("not a valid DuckDB database", "Could not read enough bytes", "Corrupt", "checksum")
_RUN_TABLES = ("metrics", "clusters", "coords", "sweeps", "silhouettes", "events", "anchors")

# The runs whose rows make up run ? as a whole: its full fit (base_run) and the incremental runs on top of
# it, up to and including ? itself. Runs recorded before base_run existed are their own base.
_CHAIN = """(SELECT r.run_id FROM runs r, runs me WHERE me.run_id = ? AND r.run_id <= me.run_id
             AND COALESCE(r.base_run, r.run_id) = COALESCE(me.base_run, me.run_id)
             AND (r.status = 'complete' OR r.run_id = me.run_id))"""

_RUN_COLUMNS = ["run_id", "collection", "mode", "base_run", "algorithm", "params", "seed", "model", "versions",
                "n_points", "n_clusters", "started_at", "finished_at", "timings", "status", "error"]
_JSON_COLUMNS = {"params", "versions", "timings", "keywords", "representatives", "related"}


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _rows(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    names = [d[0] for d in cursor.description]
    out = []
    for values in cursor.fetchall():
        row = {}
        for name, value in zip(names, values):
            if name in _JSON_COLUMNS and isinstance(value, str):
                value = json.loads(value)
            elif isinstance(value, datetime):
                value = value.isoformat(timespec="seconds") + "Z"
            row[name] = value
        out.append(row)
    return out


def _insert_columns(con: duckdb.DuckDBPyConnection, table: str, run_id: int, columns: dict[str, np.ndarray]) -> None:
    """Bulk insert of one run's rows, given as columns: DuckDB scans the numpy arrays (no row-by-row round
    trips, and no pyarrow to import, which would cost a small run a fifth of its time)."""

    def column(values) -> np.ndarray:
        if isinstance(values, np.ndarray) and values.ndim == 1:
            return values
        rows = np.empty(len(values), dtype=object)  # Python values, or a vector per row (None: none) as one array each
        rows[:] = list(values)
        return rows

    rows = len(next(iter(columns.values())))
    con.register("new_rows", {"run_id": np.full(rows, run_id, np.int32),
                              **{name: column(values) for name, values in columns.items()}})
    con.execute(f"INSERT INTO {table} (run_id, {', '.join(columns)}) SELECT * FROM new_rows")
    con.unregister("new_rows")


@dataclass
class RunRecord:
    """Everything a run produced, as the report store keeps it. `clusters` carry id, size, name, keywords,
    representatives, silhouette, centroid and radius; `coords` has columns point_id, cluster, x, y;
    `silhouettes` point_id, cluster, value; `sweep` rows k, inertia, silhouette, chosen; `events` kind,
    cluster, related; `params` are the parameters as finally used (k chosen by a sweep, say); `anchors`,
    given for a full run, the points its map laid out, as columns of `coords` plus their vectors: they
    replace the collection's older ones (empty: it has no map)."""

    n_points: int
    metrics: dict[str, float]
    clusters: Sequence[dict]
    params: dict
    coords: dict[str, np.ndarray] | None = None
    silhouettes: dict[str, np.ndarray] | None = None
    sweep: Sequence[dict] = ()
    events: Sequence[dict] = ()
    anchors: dict[str, np.ndarray] | None = None


def _remembered(read: Callable) -> Callable:
    """A resident store's answer to a read, kept until its next write: it is the file's only writer then. Reads
    inside a session (a job's, perhaps in its own transaction) are neither kept nor answered from what is."""

    @wraps(read)
    def remembered(self: "ReportStore", *args, **kwargs):
        if not self._resident or self._held is not None:
            return read(self, *args, **kwargs)
        key = (read.__name__, *args, *sorted(kwargs.items()))
        with self._memo_lock:
            if key in self._memo:
                return self._memo[key]
            generation = self._generation
        value = read(self, *args, **kwargs)
        with self._memo_lock:
            if generation == self._generation:
                self._memo[key] = value
        return value

    return remembered


def _writes(write: Callable) -> Callable:
    @wraps(write)
    def writing(self: "ReportStore", *args, **kwargs):
        try:
            return write(self, *args, **kwargs)
        finally:
            self._changed()

    return writing


class ReportStore:
    """Runs, metrics, per-cluster stats and coordinates; readable with plain `duckdb FILE`."""

    def __init__(self, path: Path, resident: bool = False):
        """`resident` (a server): open the file once, locked until `close`, and give each unit of work a
        cursor of its own, so that questions read the last complete run while a job writes its next one."""
        self.path = Path(path)
        self._schema_ready = False
        self._local = threading.local()  # the connection a `session` keeps open is its thread's
        self._resident = resident
        self._shared: tuple[duckdb.DuckDBPyConnection, ExitStack] | None = None
        self._opening = threading.Lock()
        self._memo: dict[tuple, object] = {}
        self._memo_lock = threading.Lock()
        self._generation = 0

    def _changed(self) -> None:
        with self._memo_lock:
            self._generation += 1
            self._memo.clear()

    def close(self) -> None:
        """Close the file a resident store keeps open (a no-op otherwise)."""
        with self._opening:
            if self._shared is not None:
                con, lock = self._shared
                self._shared = None
                con.close()
                lock.close()

    @property
    def version(self) -> int | None:
        """A number that changes with every write, or None when the file is not held open (another process may
        write to it unseen)."""
        return self._generation if self._resident else None

    @property
    def _held(self) -> duckdb.DuckDBPyConnection | None:
        return getattr(self._local, "held", None)

    @_held.setter
    def _held(self, con: duckdb.DuckDBPyConnection | None) -> None:
        self._local.held = con

    @contextmanager
    def session(self) -> Iterator[None]:
        """Keep the file open across the calls inside, for a short job that makes many."""
        if self._held is not None:  # nested in a session
            yield
            return
        with self._connect() as con:
            self._held = con
            try:
                yield
            finally:
                self._held = None

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        if self._held is not None:
            yield self._held
            return
        if self._resident:
            cursor = self._connection().cursor()
            try:
                yield cursor
            finally:
                cursor.close()
            return
        # DuckDB lets one process open the file at a time: hold it only for short units of work.
        with exclusive(self.path.with_name(self.path.name + ".lock"), "the report store"):
            con = self._open()
            try:
                yield con
            finally:
                con.close()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """A resident store's one connection, opened (and its lock taken) on first use."""
        with self._opening:
            if self._shared is None:
                stack = holding(self.path.with_name(self.path.name + ".lock"), "the report store")
                try:
                    self._shared = (self._open(), stack)
                except BaseException:
                    stack.close()
                    raise
            return self._shared[0]

    def _open(self) -> duckdb.DuckDBPyConnection:
        """A connection to the file; a damaged file is moved aside (saying so on stderr) and a new one started:
        the run history is lost, but the collections and their labels are intact in the store."""
        try:
            con = duckdb.connect(str(self.path))
            if not self._schema_ready:  # once per ReportStore: a cheap open for every later unit of work
                con.execute(SCHEMA)
                self._schema_ready = True
            return con
        except duckdb.Error as exc:
            if not any(sign in str(exc) for sign in _DAMAGED):
                raise EmbcError(f"cannot open the report store {self.path}: {' '.join(str(exc).split())}") from None
            aside = self.path.with_name(f"{self.path.name}.damaged-{_now():%Y%m%dT%H%M%S}")
            os.replace(self.path, aside)
            print(f"embc: the report store {self.path} was damaged ({' '.join(str(exc).split())}): moved to {aside}; "
                  "starting a new one (the collections and their labels are intact)", file=sys.stderr, flush=True)
            con = duckdb.connect(str(self.path))
            con.execute(SCHEMA)
            self._schema_ready = True
            return con

    def _job_lock(self, collection: str) -> Path:
        return Layout(self.path.parent).jobs / f"{check_name(collection)}.lock"

    @contextmanager
    def job(self, collection: str) -> Iterator[None]:
        """Hold the collection's job lock: one recluster per collection at a time (a second one waits)."""
        with exclusive(self._job_lock(collection), f"the recluster job on '{collection}'"):
            yield

    def settle(self, collection: str) -> None:
        """Mark a run that shows as running, while no job holds the collection's lock, as failed: its process
        was killed."""
        newest = self.runs(collection)[:1]
        if newest and newest[0]["status"] == "running" and not held(self._job_lock(collection)):
            self.fail_run(newest[0]["run_id"], INTERRUPTED)

    @_writes
    def start_run(self, collection: str, mode: str, algorithm: str, params: dict, seed: int, model: str,
                  versions: dict, base_run: int | None = None) -> int:
        """A new run, status 'running'; `base_run` is the full run an incremental run extends."""
        with self._connect() as con:
            run_id = con.execute("SELECT nextval('run_ids')").fetchone()[0]
            con.execute("INSERT INTO runs (run_id, collection, mode, base_run, algorithm, params, seed, model, "
                        "versions, started_at, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running')",
                        [run_id, collection, mode, base_run or run_id, algorithm, json.dumps(params), seed, model,
                         json.dumps(versions), _now()])
        return int(run_id)

    def finish_run(self, run_id: int, record: RunRecord, timings: dict[str, float]) -> None:
        """Record everything a run produced, in one transaction, and mark it complete (see `finishing`)."""
        with self.finishing(run_id, record) as recorded:
            recorded.update(timings)

    @contextmanager
    def finishing(self, run_id: int, record: RunRecord) -> Iterator[dict[str, float]]:
        """Record everything a run produced in one transaction, which marks the run complete, with the timings
        put in the dict this yields, once the block inside ends (a job waits there for its label write),
        and records nothing if the block raises."""
        r = record
        with self._connect() as con:
            con.execute("BEGIN")
            try:
                con.executemany("INSERT INTO metrics VALUES (?, ?, ?)",
                                [[run_id, k, float(v)] for k, v in r.metrics.items() if v is not None])
                if r.clusters:  # a centroid as an array (None: none); executemany took 30 ms for 50 clusters
                    _insert_columns(con, "clusters", run_id, {
                        "cluster": np.array([c["id"] for c in r.clusters], np.int32),
                        "size": np.array([c["size"] for c in r.clusters], np.int64),
                        "name": [c["name"] for c in r.clusters],
                        "keywords": [json.dumps(c.get("keywords", [])) for c in r.clusters],
                        "representatives": [json.dumps(c.get("representatives", [])) for c in r.clusters],
                        **{key: [c.get(key) for c in r.clusters] for key in ("silhouette", "centroid", "radius")}})
                if r.events:
                    con.executemany("INSERT INTO events VALUES (?, ?, ?, ?)",
                                    [[run_id, e["kind"], e["cluster"], json.dumps(e["related"])] for e in r.events])
                if r.coords is not None and len(r.coords["point_id"]):
                    _insert_columns(con, "coords", run_id, r.coords)
                if r.silhouettes is not None and len(r.silhouettes["point_id"]):
                    _insert_columns(con, "silhouettes", run_id, r.silhouettes)
                if r.anchors is not None:
                    # Only the latest full run's anchors are ever used: new points join the latest map.
                    con.execute("DELETE FROM anchors WHERE run_id IN (SELECT run_id FROM runs WHERE collection = "
                                "(SELECT collection FROM runs WHERE run_id = ?))", [run_id])
                    if r.anchors and len(r.anchors["point_id"]):
                        _insert_columns(con, "anchors", run_id, r.anchors)
                if r.sweep:
                    con.executemany("INSERT INTO sweeps VALUES (?, ?, ?, ?, ?)",
                                    [[run_id, row["k"], row["inertia"], row["silhouette"], row["chosen"]]
                                     for row in r.sweep])
                timings: dict[str, float] = {}
                yield timings
                con.execute("UPDATE runs SET n_points = ?, n_clusters = ?, finished_at = ?, timings = ?, params = ?, "
                            "status = 'complete' WHERE run_id = ?",
                            [r.n_points, sum(1 for c in r.clusters if c["id"] >= 0), _now(), json.dumps(timings),
                             json.dumps(r.params), run_id])
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            finally:
                self._changed()

    @_writes
    def fail_run(self, run_id: int, error: str) -> None:
        with self._connect() as con:
            con.execute("UPDATE runs SET status = 'failed', error = ?, finished_at = ? WHERE run_id = ?",
                        [error, _now(), run_id])

    def runs(self, collection: str) -> list[dict]:
        """Run history, newest first."""
        with self._connect() as con:
            return _rows(con.execute(f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs WHERE collection = ? "
                                     "ORDER BY run_id DESC", [collection]))

    @_remembered
    def run(self, collection: str, run_id: int | None = None) -> dict | None:
        """A run of the collection: the given one, else the latest complete one."""
        where = "run_id = ?" if run_id is not None else "status = 'complete'"
        args = [collection] + ([run_id] if run_id is not None else [])
        with self._connect() as con:
            rows = _rows(con.execute(f"SELECT {', '.join(_RUN_COLUMNS)} FROM runs WHERE collection = ? AND {where} "
                                     "ORDER BY run_id DESC LIMIT 1", args))
        return rows[0] if rows else None

    def metrics(self, run_id: int) -> dict[str, float]:
        """The run's metrics; an incremental run's are its full fit's, plus its own (new_points, ...)."""
        with self._connect() as con:
            return dict(con.execute("SELECT name, value FROM metrics WHERE run_id IN "
                                    "(?, (SELECT COALESCE(base_run, run_id) FROM runs WHERE run_id = ?)) "
                                    "ORDER BY run_id, name", [run_id, run_id]).fetchall())

    @_remembered
    def clusters(self, run_id: int) -> list[dict]:
        """The run's clusters; a cluster's name is the one a user gave its id, else the run's own."""
        with self._connect() as con:
            return _rows(con.execute("SELECT c.cluster AS id, c.size, COALESCE(n.name, c.name) AS name, c.keywords, "
                                     "c.representatives, c.silhouette FROM clusters c JOIN runs r USING (run_id) "
                                     "LEFT JOIN names n ON n.collection = r.collection AND n.cluster = c.cluster "
                                     "WHERE c.run_id = ? ORDER BY c.cluster", [run_id]))

    @_writes
    def rename(self, collection: str, cluster: int, name: str) -> None:
        """Name a cluster id of the collection, in every run that has it, until renamed again."""
        with self._connect() as con:
            con.execute("INSERT OR REPLACE INTO names VALUES (?, ?, ?)", [collection, cluster, name])

    @_writes
    def delete_run(self, run_id: int) -> None:
        """Delete a run and its rows."""
        with self._connect() as con:
            con.execute("BEGIN")
            for table in _RUN_TABLES:
                con.execute(f"DELETE FROM {table} WHERE run_id = ?", [run_id])
            con.execute("DELETE FROM runs WHERE run_id = ?", [run_id])
            con.execute("COMMIT")

    @_writes
    def forget(self, collection: str) -> None:
        """Delete every record of the collection: its runs, their rows and its cluster names."""
        with self._connect() as con:
            con.execute("BEGIN")
            runs = "(SELECT run_id FROM runs WHERE collection = ?)"
            for table in _RUN_TABLES:
                con.execute(f"DELETE FROM {table} WHERE run_id IN {runs}", [collection])
            con.execute("DELETE FROM runs WHERE collection = ?", [collection])
            con.execute("DELETE FROM names WHERE collection = ?", [collection])
            con.execute("DELETE FROM decoder_epochs WHERE collection = ?", [collection])
            con.execute("COMMIT")

    @_writes
    def record_decoder(self, collection: str, epochs: Sequence) -> None:
        """A decoder's training: each epoch's training and validation loss (`embc.decode.train.Epoch`)."""
        now = _now()
        with self._connect() as con:
            con.executemany("INSERT INTO decoder_epochs VALUES (?, ?, ?, ?, ?, ?)",
                            [[collection, now, e.epoch, e.phase, e.train_loss, e.val_loss] for e in epochs])

    def decoder_epochs(self, collection: str) -> list[dict]:
        """The losses per epoch of the collection's latest decoder training (empty: none trained)."""
        with self._connect() as con:
            return _rows(con.execute("SELECT epoch, phase, train_loss, val_loss, trained_at FROM decoder_epochs "
                                     "WHERE collection = ? AND trained_at = (SELECT max(trained_at) FROM "
                                     "decoder_epochs WHERE collection = ?) ORDER BY epoch", [collection, collection]))

    @_remembered
    def centroids(self, run_id: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cluster ids, centroids and extents of a run (noise left out)."""
        with self._connect() as con:
            rows = con.execute("SELECT cluster, centroid, radius FROM clusters WHERE run_id = ? AND cluster >= 0 "
                               "AND centroid IS NOT NULL ORDER BY cluster", [run_id]).fetchall()
        return (np.array([r[0] for r in rows], np.int64), np.array([r[1] for r in rows], np.float32),
                np.array([r[2] for r in rows], np.float64))

    def events(self, run_id: int) -> list[dict]:
        """ID-matching events of a full run: birth, death, split, merge."""
        with self._connect() as con:
            return _rows(con.execute("SELECT kind, cluster, related FROM events WHERE run_id = ? "
                                     "ORDER BY kind, cluster", [run_id]))

    def next_cluster_id(self, collection: str) -> int:
        """An id no run of the collection has used."""
        with self._connect() as con:
            used = con.execute("SELECT max(c.cluster) FROM clusters c JOIN runs r USING (run_id) "
                               "WHERE r.collection = ?", [collection]).fetchone()[0]
        return 0 if used is None else int(used) + 1

    def anchors(self, run_id: int) -> dict[str, np.ndarray]:
        """The map anchors of a full run (see `finish_run`): point_id, cluster, x, y and vector columns; empty
        for a run without a map, one a later full run replaced, or one recorded before anchors were kept."""
        with self._connect() as con:
            out = con.execute("SELECT point_id, cluster, x, y, vector FROM anchors WHERE run_id = ? ORDER BY point_id",
                              [run_id]).fetchnumpy()
        out["vector"] = np.stack(out["vector"]) if len(out["vector"]) else np.empty((0, 0), np.float32)
        return out

    def sweep(self, run_id: int) -> list[dict]:
        """The k sweep of a `--k auto` run or of the full run an incremental run extends (else empty)."""
        with self._connect() as con:
            return _rows(con.execute(f"SELECT k, inertia, silhouette, chosen FROM sweeps WHERE run_id IN {_CHAIN} "
                                     "ORDER BY k", [run_id]))

    @_remembered
    def columns(self, table: str, run_id: int, sample: int | None = None) -> dict[str, np.ndarray]:
        """A run's rows of `coords` or `silhouettes` as numpy columns: for an incremental run, its full fit's
        rows and those each incremental run since added (a point's latest row); `sample`: at most that many,
        picked at random (repeatably)."""
        if table not in ("coords", "silhouettes"):
            raise ValueError(table)
        chain = _CHAIN.replace("?", str(int(run_id)))
        query = (f"SELECT * EXCLUDE (run_id) FROM {table} WHERE run_id IN {chain} "
                 "QUALIFY row_number() OVER (PARTITION BY point_id ORDER BY run_id DESC) = 1")
        if sample is not None:
            query = f"SELECT * FROM ({query}) USING SAMPLE reservoir({int(sample)} ROWS) REPEATABLE (0)"
        with self._connect() as con:
            rows = con.sql(f"{query} ORDER BY point_id").to_arrow_table()
        return {name: rows[name].to_numpy() for name in rows.column_names}
