"""The server adapter: a Qdrant server (or anything that speaks its API) through qdrant-client."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from functools import wraps
from typing import Callable, Iterator, Sequence

import numpy as np
from qdrant_client import QdrantClient, models

from embc.errors import EmbcError, masked
from embc.store.vectors import (DAMAGED, INDEXED_FIELDS, INGESTED_KEY, LABEL_KEYS, CollectionInfo, Group, Match, Page,
                                Record, Search, check_name, missing_collection, reported, to_page, to_record,
                                to_those_present)

_SCHEMA = {"integer": models.IntegerIndexParams(type=models.IntegerIndexType.INTEGER, lookup=True, range=False)}
# How far behind this one another host's clock may run for a job's watch to see its upserts: the watch takes
# in the points stamped that long before the job began too, which `page_out.changed` then keeps by their vector.
CLOCK_SKEW = timedelta(minutes=5)
_META_KEY = "embc"  # collection metadata key: marks embc's collections and says how their vectors were made


def _filter(match: Match | None) -> models.Filter | None:
    if not match:
        return None
    return models.Filter(must=[
        models.IsEmptyCondition(is_empty=models.PayloadField(key=k)) if v is None
        else models.FieldCondition(key=k, match=models.MatchValue(value=v)) for k, v in match.items()])


def _with_payload(keys: Sequence[str] | None):
    return True if keys is None else (list(keys) if keys else False)


def _checked(method: Callable) -> Callable:
    """A failing call on a collection that does not exist becomes the same clear error as elsewhere."""

    @wraps(method)
    def call(self: "ServerStore", name: str, *args, **kwargs):
        try:
            return method(self, name, *args, **kwargs)
        except EmbcError:
            raise
        except Exception:
            self.collection(name)
            raise

    return call


def _of(ids: Sequence[str]) -> models.FilterSelector:
    """The points of `ids` that are there (a write by ids fails on one that is not)."""
    return models.FilterSelector(filter=models.Filter(must=[models.HasIdCondition(has_id=list(ids))]))


class ServerStore:
    """One Qdrant collection per embc collection; the collection's metadata says how its vectors were made."""

    def __init__(self, client: QdrantClient):
        self.client = client

    @contextmanager
    def session(self, name: str) -> Iterator[None]:
        """Nothing to hold: a server serves every call."""
        yield

    def close(self) -> None:
        self.client.close()

    @classmethod
    def connect(cls, url: str, api_key: str | None = None) -> "ServerStore":
        try:  # a URL that cannot be parsed fails here as one that cannot be reached
            client = QdrantClient(url=url, api_key=api_key, timeout=30)
            client.get_collections()
        except Exception as exc:
            cause = str(exc).splitlines()[0] or type(exc).__name__
            raise EmbcError(masked(f"cannot reach Qdrant at {url}: {cause} (is the server running? check its URL and "
                                   "API key)", (api_key,))) from exc
        return cls(client)

    def create_collection(self, info: CollectionInfo) -> CollectionInfo:
        name = check_name(info.name)
        if not self.client.collection_exists(name):
            self.client.create_collection(
                name, vectors_config=models.VectorParams(size=info.dim, distance=models.Distance.COSINE),
                metadata={_META_KEY: info.meta()})
            for field, kind in INDEXED_FIELDS.items():
                self.client.create_payload_index(name, field, field_schema=_SCHEMA[kind])
        return self.collection(name)

    def collection(self, name: str) -> CollectionInfo:
        meta = None
        if self.client.collection_exists(check_name(name)):
            meta = (self.client.get_collection(name).config.metadata or {}).get(_META_KEY)
        if meta is None:
            raise missing_collection(name, (c.name for c in self.client.get_collections().collections))
        try:
            return CollectionInfo.of_meta(name, meta)
        except (TypeError, ValueError) as exc:
            raise EmbcError(f"collection '{name}' is damaged: its metadata in Qdrant cannot be read ({exc})") from None

    def collections(self) -> list[CollectionInfo]:
        infos = []
        for description in sorted(self.client.get_collections().collections, key=lambda c: c.name):
            meta = (self.client.get_collection(description.name).config.metadata or {}).get(_META_KEY)
            if meta is None:  # not one of embc's
                continue
            try:
                infos.append(CollectionInfo.of_meta(description.name, meta, self.count(description.name)))
            except (TypeError, ValueError):
                infos.append(CollectionInfo(description.name, 0, "", DAMAGED))
        return infos

    def delete_collection(self, name: str) -> None:
        self.collection(name)
        self.client.delete_collection(name)

    @_checked
    def upsert(self, name: str, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[dict]) -> None:
        self.client.upsert(name, points=models.Batch(ids=list(ids), vectors=np.asarray(vectors, np.float32).tolist(),
                                                     payloads=list(payloads)), wait=True)

    @contextmanager
    def watch(self, name: str) -> Iterator[Callable[[], set[str]]]:
        # Any process on any host may write to a server: the points are found by the time their ingest stamped
        # on them (every embc upsert does), from CLOCK_SKEW before the job began, for hosts whose clocks run behind.
        since = datetime.now(timezone.utc) - CLOCK_SKEW
        stamped = models.Filter(must=[models.FieldCondition(key=INGESTED_KEY, range=models.DatetimeRange(gte=since))])
        yield lambda: {str(record.id) for records in self._scroll(name, stamped) for record in records}

    @_checked
    def clear_labels(self, name: str, ids: Sequence[str]) -> None:
        self.client.delete_payload(name, keys=LABEL_KEYS, points=_of(ids), wait=True)

    def pages(self, name: str, page_size: int = 2048, with_vectors: bool = True,
              keys: Sequence[str] | None = None, match: Match | None = None) -> Iterator[Page]:
        total = self.count(name, match)
        for records in self._scroll(name, _filter(match), page_size, _with_payload(keys), with_vectors):
            yield to_page(records, with_vectors, total)

    def _scroll(self, name: str, where: models.Filter | None, page_size: int = 2048, with_payload=False,
                with_vectors: bool = False) -> Iterator[list[models.Record]]:
        offset = None
        while True:
            records, offset = self.client.scroll(name, scroll_filter=where, limit=page_size, offset=offset,
                                                 with_payload=with_payload, with_vectors=with_vectors)
            if records:
                yield records
            if offset is None:
                return

    @_checked
    def set_payloads(self, name: str, groups: Sequence[Group],
                     progress: Callable[[int, int], None] | None = None) -> None:
        for ids, values in reported(groups, progress):
            to_those_present(lambda: self.client.set_payload(name, payload=values, points=list(ids), wait=True),
                             lambda: self.client.set_payload(name, payload=values, points=_of(ids), wait=True))

    def start_set_payloads(self, name: str, groups: Sequence[Group],
                           progress: Callable[[int, int], None] | None = None) -> Callable[[], None]:
        # The client waits on the network without the GIL: a thread is enough.
        pool = ThreadPoolExecutor(1)
        writing = pool.submit(self.set_payloads, name, groups, progress)
        pool.shutdown(wait=False)
        return writing.result

    @_checked
    def retrieve(self, name: str, ids: Sequence[str], with_vectors: bool = False,
                 keys: Sequence[str] | None = None) -> list[Record]:
        if not ids:  # nothing asked: no round trip, and no error for a collection that is gone
            return []
        points = self.client.retrieve(name, ids=list(ids), with_payload=_with_payload(keys), with_vectors=with_vectors)
        return [to_record(p, with_vectors) for p in points]

    @_checked
    def count(self, name: str, match: Match | None = None) -> int:
        return self.client.count(name, count_filter=_filter(match), exact=True).count

    def version(self, name: str) -> int | None:
        return None  # other clients of the server write unseen

    def index_due(self, name: str, points: int) -> bool:
        return False  # a Qdrant server builds its indexes itself

    def quiet(self, name: str) -> bool:
        return False

    def index(self, name: str, stop: threading.Event | None = None) -> bool:
        return False

    @_checked
    def facet(self, name: str, key: str) -> dict[object, int]:
        hits = self.client.facet(name, key, limit=1_000_000, exact=True).hits
        return {hit.value: hit.count for hit in hits}

    def search(self, name: str, vector: np.ndarray, limit: int, match: Match | None = None) -> list[Record]:
        return self.search_many(name, [Search(vector, limit, match)])[0]

    @_checked
    def search_many(self, name: str, searches: Sequence[Search]) -> list[list[Record]]:
        requests = [models.QueryRequest(query=np.asarray(s.vector, dtype=np.float32).tolist(), filter=_filter(s.match),
                                        limit=s.limit, with_payload=True) for s in searches]
        found = self.client.query_batch_points(name, requests) if requests else []
        return [[to_record(p, False) for p in response.points] for response in found]

    @_checked
    def delete(self, name: str, ids: Sequence[str]) -> None:
        self.client.delete(name, points_selector=models.PointIdsList(points=list(ids)), wait=True)
