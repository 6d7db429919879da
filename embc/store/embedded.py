"""The embedded adapter: the Qdrant engine in-process (qdrant-edge-py), one folder per collection."""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import threading
import time
import uuid
from contextlib import ExitStack, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Callable, ContextManager, Iterable, Iterator, Sequence

import numpy as np
from qdrant_edge import (CountRequest, Distance, EdgeConfig, EdgeShard, EdgeVectorParams, FacetRequest,
                         FieldCondition, Filter, HasIdCondition, IntegerIndexParams, IsEmptyCondition, MatchValue,
                         Memory, PayloadSelector, Point, Query, QueryBatchRequest, QueryRequest,
                         ScalarQuantizationConfig, ScalarType, ScrollRequest, UpdateOperation)

from embc.coalesce import Coalescer
from embc.errors import EmbcError
from embc.store import indexing, upserted
from embc.store.locking import exclusive, holding
from embc.store.vectors import (DAMAGED, INDEXED_FIELDS, LABEL_KEYS, CollectionInfo, Group, Match, Page, Record,
                                Search, check_name, missing_collection, reported, to_page, to_record, to_those_present)

RESIDENT_WRITE = 1024  # points per write call in a resident store: a few ms of the engine (and the GIL) each
INDEX_FROM = 20_000  # points from which a resident collection gets a vector index: exact search takes 4-5 ms
QUIET = 5.0  # seconds without a write before an index is built: a stream of writes would undo it at once
SWAP_WAIT = 0.5  # seconds a swap waits for the calls under way on the shard, holding new ones back meanwhile
CLOSE_WAIT = 5.0  # seconds a resident shard's closing (to delete it, or the store's) waits for the calls on it
RETRY = 600.0  # seconds before a build that failed is tried again: each try copies the whole shard
REINDEX_FROM = 200_000  # points written and labelled before, from which a label write rebuilds the index
_SCHEMA = {"integer": IntegerIndexParams(lookup=True, range=False)}


def shard_config(dim: int) -> EdgeConfig:
    """A collection's engine settings."""
    # Cold: the vectors stay in their files until read. Cached (the engine's default) reads all of them in on
    # every opening, and embc opens a collection for each unit of work: at 100k points that is 0.2 s and
    # 150 MB more for a count, a query or a label write. The index's int8 copies are a quarter of that, kept in
    # memory for its searches (`indexing.SEARCH`); only an index build makes them.
    return EdgeConfig(vectors=EdgeVectorParams(size=dim, distance=Distance.Cosine, memory=Memory.Cold),
                      quantization_config=ScalarQuantizationConfig(ScalarType.Int8, quantile=0.99,
                                                                   memory=Memory.Cached))


def _filter(match: Match | None) -> Filter | None:
    if not match:
        return None
    return Filter(must=[IsEmptyCondition(k) if v is None else FieldCondition(key=k, match=MatchValue(v))
                        for k, v in match.items()])


def _query(search: Search) -> QueryRequest:
    return QueryRequest(limit=search.limit, query=Query.Nearest(np.asarray(search.vector, dtype=np.float32).tolist()),
                        filter=_filter(search.match), with_payload=True, params=indexing.SEARCH)


def _load(folder: Path) -> EdgeShard:
    """The collection's shard (call under its lock), with a swap that a crash cut short finished, and any
    payload index that a crash in a large label write left dropped built again."""
    shard = None
    try:
        indexing.recover(folder)
        shard = EdgeShard.load(str(folder / indexing.LIVE))
        _add_indexes(shard, [field for field in INDEXED_FIELDS if field not in shard.info().payload_schema])
        return shard
    except Exception as exc:
        if shard is not None:
            shard.close()
        raise EmbcError(f"cannot open collection '{folder.name}': {exc}") from exc


def _add_indexes(shard: EdgeShard, fields: Iterable[str]) -> None:
    for field in fields:
        shard.update(UpdateOperation.create_field_index(field, _SCHEMA[INDEXED_FIELDS[field]]))


def _release_freed_memory() -> None:
    """Hand the heap the engine freed back to the OS. glibc keeps it otherwise: after a page-out, about half
    the vectors' size, which the matrix read back next would be allocated on top of."""
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc only
    if trim:
        trim(0)


def _of(ids: list[uuid.UUID]) -> Filter:
    """The points of `ids` that are there (a write by ids fails on one that is not)."""
    return Filter(must=[HasIdCondition(set(ids))])


def _with_payload(keys: Sequence[str] | None):
    return True if keys is None else (PayloadSelector.Include(list(keys)) if keys else False)


def _in_thread(work: Callable[[], None]) -> Callable[[], None]:
    """Start `work` in a thread; the result waits for it and raises what it raised."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the waiting job
            failed.append(exc)

    thread = threading.Thread(target=run, name="embc-label-write", daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if failed:
            raise failed[0]
    return wait


class EmbeddedStore:
    """Collections under `root`: `NAME/meta.json` says how the vectors were made, `NAME/shard` holds them.

    A shard can be open in one process at a time, so every unit of work (a batch of upserts, a page-out,
    a label write) takes the collection's lock, opens the shard, and closes it again. `resident` (a server)
    keeps each collection open and locked from its first use until `close`, shared by every thread, and
    writes labels in small calls between which other threads' questions are answered.
    """

    def __init__(self, root: Path, resident: bool = False):
        self.root = Path(root)
        self._local = threading.local()  # a session's shards are its thread's (a server runs several)
        self._resident: dict[str, tuple[EdgeShard, ExitStack]] | None = {} if resident else None
        self._loading = threading.Lock()
        self._facets: dict[tuple[str, str], dict] = {}  # resident: kept until the collection's next write
        self._writes: dict[str, int] = {}
        self._memo_lock = threading.Lock()
        self._searches: dict[str, Coalescer] = {}  # resident: searches asked at once go in one batch query
        # resident: the calls using each shard, which its swap for an indexed copy waits out (see `index`)
        self._in_use = threading.Condition()
        self._users: dict[str, int] = {}
        self._swapping: dict[str, int] = {}  # blocks holding new calls back (an index swap, a closing) at once
        self._since_index: dict[str, tuple[int, float]] = {}  # points written since the last index, last write
        self._indexed: set[str] = set()  # collections whose index this store built
        self._index_failed: dict[str, float] = {}  # when a collection's last build failed

    def close(self) -> None:
        """Close the collections a resident store keeps open (a no-op otherwise). One whose calls do not end
        within CLOSE_WAIT (a request thread its server stopped waiting for) stays open until the process ends:
        its writes are in the engine's log."""
        for name in list(self._resident or ()):
            with suppress(EmbcError), self._closed(name):
                pass

    def _per_write(self, n: int) -> int:
        """Points per engine call of a write of `n`: all at once, except in a resident store."""
        return RESIDENT_WRITE if self._resident is not None else max(n, 1)

    def _changed(self, name: str, points: int = 0) -> None:
        """After a write to the collection (of `points`): what was kept of it is stale."""
        with self._memo_lock:
            self._writes[name] = self._writes.get(name, 0) + 1
            self._since_index[name] = (self._since_index.get(name, (0, 0.0))[0] + points, time.monotonic())
            for key in [k for k in self._facets if k[0] == name]:
                del self._facets[key]

    @contextmanager
    def _closed(self, name: str) -> Iterator[None]:
        """A resident shard closed and its lock let go once the calls on it have ended (EmbcError when they do
        not within CLOSE_WAIT), and no call on it until the block ends; the next loads it again. Closing it
        under a call fails in the engine ("Already borrowed"), and left the lock held: every later load waited."""
        with self._alone(name, CLOSE_WAIT) as alone:
            if not alone:
                raise EmbcError(f"collection '{name}' is in use: try again")
            self._changed(name)
            with self._loading:
                shard, lock = self._resident.pop(name, (None, None))
            if shard is not None:
                try:
                    shard.close()
                finally:
                    lock.close()
            yield

    def _kept(self, name: str) -> EdgeShard:
        """The resident shard of the collection, loaded (and its lock taken) on first use."""
        with self._loading:
            if name not in self._resident:
                self.collection(name)
                stack = holding(self._dir(name) / "lock", f"collection '{name}'")
                try:
                    shard = _load(self._dir(name))
                except EmbcError:
                    stack.close()
                    raise
                self._resident[name] = (shard, stack)
            return self._resident[name][0]

    def _dir(self, name: str) -> Path:
        return self.root / check_name(name)

    @property
    def _open(self) -> dict[str, EdgeShard]:
        """The shards this thread's sessions hold."""
        if not hasattr(self._local, "open"):
            self._local.open = {}
        return self._local.open

    @contextmanager
    def session(self, name: str) -> Iterator[None]:
        """Keep the collection open (and locked) across the calls inside: loading a shard costs up to half
        a second at 100k points, more than a small job's work."""
        if name in self._open or self._resident is not None:  # nested, or always open
            yield
            return
        with self._shard(name) as shard:
            self._open[name] = shard
            try:
                yield
            finally:
                del self._open[name]

    @contextmanager
    def _shard(self, name: str) -> Iterator[EdgeShard]:
        if name in self._open:
            yield self._open[name]
            return
        if self._resident is not None:
            with self._using(name):
                yield self._kept(name)
            return
        self.collection(name)
        folder = self._dir(name)
        with exclusive(folder / "lock", f"collection '{name}'"):
            shard = _load(folder)
            try:
                yield shard
            finally:
                shard.close()
                _release_freed_memory()

    @contextmanager
    def _using(self, name: str) -> Iterator[None]:
        """A call on a resident shard: not while it is being swapped (a thread already using it goes on)."""
        uses = self._local.__dict__.setdefault("uses", {})
        with self._in_use:
            while self._swapping.get(name) and not uses.get(name):
                self._in_use.wait()
            self._users[name] = self._users.get(name, 0) + 1
        uses[name] = uses.get(name, 0) + 1
        try:
            yield
        finally:
            uses[name] -= 1
            with self._in_use:
                self._users[name] -= 1
                self._in_use.notify_all()

    @contextmanager
    def _alone(self, name: str, wait: float) -> Iterator[bool]:
        """No other call on the resident shard until the block ends; False (and no wait for them to end) when
        calls under way do not end within `wait` seconds (a page-out may hold it for seconds)."""
        deadline = time.monotonic() + wait
        with self._in_use:
            self._swapping[name] = self._swapping.get(name, 0) + 1
            while self._users.get(name) and time.monotonic() < deadline:
                self._in_use.wait(max(deadline - time.monotonic(), 0))
            alone = not self._users.get(name)
        try:
            yield alone
        finally:
            with self._in_use:
                self._swapping[name] -= 1
                self._in_use.notify_all()

    def index_due(self, name: str, points: int) -> bool:
        """Whether a resident collection of `points` should have its vector index built (again): it holds at
        least INDEX_FROM points, a tenth of which (all, when none was built here) were written since, and none
        in the last QUIET seconds, nor a failed build in the last RETRY seconds."""
        if not self.quiet(name):
            return False
        with self._memo_lock:
            written = self._since_index.get(name, (0, 0.0))[0]
            indexed = name in self._indexed
            failed = self._index_failed.get(name, -RETRY)
        if time.monotonic() - failed < RETRY:
            return False
        return points >= INDEX_FROM and (not indexed or written >= points / 10)

    def quiet(self, name: str) -> bool:
        """Whether a resident collection had no write in the last QUIET seconds."""
        if self._resident is None:
            return False
        with self._memo_lock:
            last = self._since_index.get(name, (0, 0.0))[1]
        return time.monotonic() - last >= QUIET

    def index(self, name: str, stop: threading.Event | None = None) -> bool:
        """Build a resident collection's vector index beside the questions (see `embc.store.indexing`), and
        swap it in; False when the collection was written to meanwhile, or `stop` was set, and nothing changed."""
        if self._resident is None:
            raise EmbcError("only a resident store (a server's) builds vector indexes")
        folder = self._dir(name)
        version = self.version(name)
        try:
            with self._shard(name) as shard:
                shard.flush()
                copy = indexing.copy_shard(folder)
            if self.version(name) != version:
                return False
            try:
                if not indexing.build(copy, self.collection(name).dim, stop):
                    return False
            except EmbcError:
                with self._memo_lock:
                    self._index_failed[name] = time.monotonic()
                raise
            with self._alone(name, SWAP_WAIT) as alone, self._loading:  # `_closed` takes `_loading` too
                if not alone or self.version(name) != version or name not in self._resident:
                    return False
                shard, stack = self._resident[name]
                shard.close()
                indexing.swap(folder)
                try:
                    self._resident[name] = (EdgeShard.load(str(folder / indexing.LIVE)), stack)
                except Exception:
                    indexing.swap(folder, back=True)
                    self._resident[name] = (EdgeShard.load(str(folder / indexing.LIVE)), stack)
                    raise
                with self._memo_lock:
                    self._indexed.add(name)
                    self._since_index[name] = (0, self._since_index.get(name, (0, 0.0))[1])
                return True
        finally:
            indexing.clean(folder)

    def create_collection(self, info: CollectionInfo) -> CollectionInfo:
        if self._resident is None:
            return self._create(info)
        with self._loading:  # not beside a thread that is loading it (and so holds its lock)
            return self.collection(info.name) if info.name in self._resident else self._create(info)

    def _create(self, info: CollectionInfo) -> CollectionInfo:
        folder = self._dir(info.name)
        with exclusive(folder / "lock", f"collection '{info.name}'"):
            if (folder / "meta.json").exists():
                return self.collection(info.name)
            # A folder without meta.json is a creation that died part-way: start it again.
            shutil.rmtree(folder / indexing.LIVE, ignore_errors=True)
            shard = EdgeShard.create(str(folder / indexing.LIVE), shard_config(info.dim))
            try:
                _add_indexes(shard, INDEXED_FIELDS)
            finally:
                shard.close()
            tmp = folder / "meta.json.tmp"
            tmp.write_text(json.dumps(info.meta()))
            os.replace(tmp, folder / "meta.json")
        return self.collection(info.name)

    def collection(self, name: str) -> CollectionInfo:
        meta = self._dir(name) / "meta.json"
        if not meta.exists():
            raise missing_collection(name, (path.parent.name for path in self.root.glob("*/meta.json")))
        try:
            return CollectionInfo.of_meta(name, json.loads(meta.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise EmbcError(f"collection '{name}' is damaged: {meta} cannot be read ({exc})") from None

    def collections(self) -> list[CollectionInfo]:
        """Every collection with its size; one that cannot be read is listed as damaged, the others as usual."""
        if not self.root.exists():
            return []
        infos = []
        for path in sorted(self.root.glob("*/meta.json")):
            try:
                info = self.collection(path.parent.name)
                info.points = self.count(info.name)
            except EmbcError:
                info = CollectionInfo(path.parent.name, 0, "", DAMAGED)
            infos.append(info)
        return infos

    def delete_collection(self, name: str) -> None:
        self.collection(name)
        # Calls that arrive meanwhile wait for the files to go, and then find no collection.
        with self._closed(name) if self._resident is not None else nullcontext(), \
                exclusive(self._dir(name) / "lock", f"collection '{name}'"):
            (self._dir(name) / "meta.json").unlink()
            shutil.rmtree(self._dir(name) / indexing.LIVE)
            indexing.clean(self._dir(name))
        self._changed(name)  # after the files went too: a question between the eviction and here kept a view

    def upsert(self, name: str, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[dict]) -> None:
        points = [Point(i, v, p) for i, v, p in zip(ids, np.asarray(vectors, dtype=np.float32).tolist(), payloads)]
        per = self._per_write(len(points))
        with self._shard(name) as shard:
            for start in range(0, len(points), per):
                shard.update(UpdateOperation.upsert_points(points[start:start + per]))
        self._changed(name, len(points))
        upserted.note(self._dir(name), ids)

    def watch(self, name: str) -> ContextManager[Callable[[], set[str]]]:
        return upserted.watching(self._dir(name))

    def clear_labels(self, name: str, ids: Sequence[str]) -> None:
        with self._shard(name) as shard:
            shard.update(UpdateOperation.delete_payload_by_filter(_of([uuid.UUID(i) for i in ids]), LABEL_KEYS))
        self._changed(name, len(ids))

    def pages(self, name: str, page_size: int = 2048, with_vectors: bool = True,
              keys: Sequence[str] | None = None, match: Match | None = None) -> Iterator[Page]:
        with self._shard(name) as shard:
            total = shard.count(CountRequest(exact=True, filter=_filter(match)))
            offset = None
            while True:
                records, offset = shard.scroll(ScrollRequest(
                    offset=offset, limit=page_size, filter=_filter(match),
                    with_payload=_with_payload(keys), with_vector=with_vectors))
                if records:
                    yield to_page(records, with_vectors, total)
                if offset is None:
                    return

    def set_payloads(self, name: str, groups: Sequence[Group],
                     progress: Callable[[int, int], None] | None = None) -> None:
        with self._shard(name) as shard:
            dropped = self._drop_indexes(shard, groups)
            for ids, values in reported(groups, progress):
                per = self._per_write(len(ids))
                for start in range(0, len(ids), per):
                    chunk = ids[start:start + per]
                    # The engine takes UUID objects much faster than strings (1.4 s vs 2.3 s for 100k ids).
                    points = [uuid.UUID(i) for i in chunk]
                    to_those_present(lambda: shard.update(UpdateOperation.set_payload(points, values)),
                                     lambda: shard.update(UpdateOperation.set_payload_by_filter(_of(points), values)))
                    self._changed(name, len(chunk))
            _add_indexes(shard, dropped)

    def _drop_indexes(self, shard: EdgeShard, groups: Sequence[Group]) -> list[str]:
        """Drop the indexes of the fields that a write of many points sets, where they already hold values for
        many points, to build them again once it is done (`_add_indexes`); the fields dropped. The engine's
        upkeep of an index over values it holds costs a large write more than building it again: replacing
        1,000,000 labels took 20.5 s of writes and 10.9 s of flush with the `cluster` index against 8.8-17.5 s,
        3.9 s and 4.7 s to build it again; 300,000, 8.7 s against 7.4 s; 100,000, 2.0 s against 2.3 s. A
        first write (no values yet) is faster with it: 300,000 in 4.6 s against 5.1 s. Never in a resident
        store, whose questions use the index meanwhile."""
        if self._resident is not None or sum(len(ids) for ids, _ in groups) < REINDEX_FROM:
            return []
        fields = [field for field in INDEXED_FIELDS if any(field in values for _, values in groups) and shard.count(
            CountRequest(exact=True, filter=Filter(must_not=[IsEmptyCondition(field)]))) >= REINDEX_FROM]
        for field in fields:  # a crash before they are built again is mended at the next opening
            shard.update(UpdateOperation.delete_field_index(field))
        return fields

    def start_set_payloads(self, name: str, groups: Sequence[Group],
                           progress: Callable[[int, int], None] | None = None) -> Callable[[], None]:
        self.collection(name)
        if self._resident is not None:  # beside the job's own work, in small calls
            return _in_thread(lambda: self.set_payloads(name, groups, progress))
        if name in self._open:  # this process holds the collection: a second one would wait for it forever
            self.set_payloads(name, groups, progress)
            return lambda: None
        from embc.store import payload_writer

        return payload_writer.start(self.root, name, groups, progress)

    def retrieve(self, name: str, ids: Sequence[str], with_vectors: bool = False,
                 keys: Sequence[str] | None = None) -> list[Record]:
        if not ids:  # nothing asked: no shard opened, and no error for a collection that is gone
            return []
        with self._shard(name) as shard:
            points = shard.retrieve(list(ids), with_payload=_with_payload(keys), with_vector=with_vectors)
        return [to_record(p, with_vectors) for p in points]

    def count(self, name: str, match: Match | None = None) -> int:
        with self._shard(name) as shard:
            return shard.count(CountRequest(exact=True, filter=_filter(match)))

    def version(self, name: str) -> int | None:
        if self._resident is None:  # the collection is open only while in use: another process may write next
            return None
        with self._memo_lock:
            return self._writes.get(name, 0)

    def facet(self, name: str, key: str) -> dict[object, int]:
        with self._memo_lock:
            if (name, key) in self._facets:
                return dict(self._facets[(name, key)])
            before = self._writes.get(name, 0)
        with self._shard(name) as shard:
            hits = shard.facet(FacetRequest(key=key, limit=1_000_000, exact=True)).hits
        # An open shard's index keeps a value whose points have all moved to another (as a count of 0).
        counts = {hit.value: hit.count for hit in hits if hit.count > 0}
        with self._memo_lock:
            if self._resident is not None and self._writes.get(name, 0) == before:  # no write since it began
                self._facets[(name, key)] = counts
        return dict(counts)

    def search(self, name: str, vector: np.ndarray, limit: int, match: Match | None = None) -> list[Record]:
        request = _query(Search(vector, limit, match))
        if self._resident is None:
            with self._shard(name) as shard:
                return [to_record(p, False) for p in shard.query(request)]
        searches = self._searches.get(name) or self._searches.setdefault(name, Coalescer(
            lambda requests: self._query_batch(name, requests)))
        return [to_record(p, False) for p in searches(request)]

    def search_many(self, name: str, searches: Sequence[Search]) -> list[list[Record]]:
        found = self._query_batch(name, [_query(search) for search in searches]) if searches else []
        return [[to_record(p, False) for p in hits] for hits in found]

    def _query_batch(self, name: str, requests: list[QueryRequest]) -> list[list]:
        with self._shard(name) as shard:
            return shard.query_batch(QueryBatchRequest(requests))

    def delete(self, name: str, ids: Sequence[str]) -> None:
        with self._shard(name) as shard:
            shard.update(UpdateOperation.delete_points(list(ids)))
        self._changed(name, len(ids))
