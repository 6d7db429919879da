"""The Store protocol that the rest of embc uses, and its value types."""

from __future__ import annotations

import difflib
import re
import threading
from itertools import chain
from dataclasses import dataclass
from typing import Callable, ContextManager, Iterable, Iterator, Protocol, Sequence

import numpy as np

from embc.errors import EmbcError, NotFound
from embc.wording import quoted

# Equality filters on payload fields, e.g. {"cluster": 7}, where None means "the field is missing" (points
# not yet clustered): all that embc's queries need.
Match = dict[str, object]
# Points that get the same payload values in one store call: (ids, values), e.g. one cluster's labels.
Group = tuple[Sequence[str], dict]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


DAMAGED = "damaged"  # the modality `collections` shows for a collection that cannot be read


@dataclass
class CollectionInfo:
    """What a collection remembers about how its vectors were made."""

    name: str
    dim: int
    model: str
    modality: str
    weights: str | None = None  # a local weights file the model was loaded from
    points: int = 0
    precision: str = "fp32"  # what the model computed in (embc.ingest.precision); collections made before: fp32

    @classmethod
    def of_meta(cls, name: str, meta: object, points: int = 0) -> CollectionInfo:
        """The collection as its stored metadata (`meta()`) describes it; ValueError for metadata that is not
        what embc writes (a damaged or hand-edited file, another client's metadata)."""
        if not isinstance(meta, dict):
            raise ValueError(f"a {type(meta).__name__}, not a mapping")
        info = cls(name=name, points=points, **meta)
        if isinstance(info.dim, bool) or not isinstance(info.dim, int) or info.dim < 1:
            raise ValueError(f"dim is {info.dim!r}, not a number of dimensions")
        for field in ("model", "modality", "precision"):
            if not isinstance(getattr(info, field), str) or not getattr(info, field):
                raise ValueError(f"{field} is {getattr(info, field)!r}, not a name")
        if not isinstance(info.weights, str | None):
            raise ValueError(f"weights is {info.weights!r}, not a file name")
        return info

    def meta(self) -> dict:
        return {"dim": self.dim, "model": self.model, "modality": self.modality, "weights": self.weights,
                "precision": self.precision}

    def to_dict(self) -> dict:
        """The collection as `embc collections --json` shows it."""
        return {"name": self.name, "points": self.points, "model": self.model, "dim": self.dim,
                "modality": self.modality, "precision": self.precision}


@dataclass
class Record:
    """A stored point as embc sees it: id, payload, and the vector or score when asked for."""

    id: str
    payload: dict
    vector: np.ndarray | None = None
    score: float | None = None


@dataclass
class Search:
    """One nearest-neighbour search: the `limit` points nearest `vector`, of those that `match`."""

    vector: np.ndarray
    limit: int
    match: Match | None = None


@dataclass
class Page:
    """A page of points paged out of a collection; `total` is how many matched when the page-out began."""

    ids: list[str]
    vectors: np.ndarray | None
    payloads: list[dict]
    total: int


def missing_collection(name: str, names: Iterable[str]) -> NotFound:
    """The error for a collection that is not there, naming the one of `names` it may be a slip for."""
    close = difflib.get_close_matches(name, [other for other in names if other != name], n=1)
    return NotFound(f"no collection '{name}': " + (f"did you mean '{close[0]}'?" if close else "ingest into it first"))


def to_record(point, with_vector: bool) -> Record:
    """A Record from either client's point, record or scored point."""
    vector = np.asarray(point.vector, dtype=np.float32) if with_vector else None
    return Record(id=str(point.id), payload=dict(point.payload or {}), vector=vector,
                  score=getattr(point, "score", None))


def to_page(records: list, with_vectors: bool, total: int) -> Page:
    """A Page from either client's scroll records."""
    vectors = None
    if with_vectors and records:
        # Streaming the floats into one buffer is twice as fast as np.array on a list of lists.
        dim = len(records[0].vector)
        vectors = np.fromiter(chain.from_iterable(r.vector for r in records), np.float32,
                              len(records) * dim).reshape(len(records), dim)
    return Page(ids=[str(r.id) for r in records], vectors=vectors,
                payloads=[dict(r.payload or {}) for r in records], total=total)


class Store(Protocol):
    """Everything embc asks of a vector database."""

    def session(self, name: str) -> ContextManager[None]:
        """Hold the collection for a short job's several calls (the embedded engine opens it once)."""

    def create_collection(self, info: CollectionInfo) -> CollectionInfo: ...

    def collection(self, name: str) -> CollectionInfo:
        """The collection's info; EmbcError when it does not exist."""

    def collections(self) -> list[CollectionInfo]: ...

    def delete_collection(self, name: str) -> None: ...

    def upsert(self, name: str, ids: Sequence[str], vectors: np.ndarray, payloads: Sequence[dict]) -> None: ...

    def pages(self, name: str, page_size: int = 2048, with_vectors: bool = True,
              keys: Sequence[str] | None = None, match: Match | None = None) -> Iterator[Page]:
        """All matching points, a page at a time, in a stable order; `keys` limits the payload fields."""

    def set_payloads(self, name: str, groups: Sequence[Group],
                     progress: Callable[[int, int], None] | None = None) -> None:
        """For each (ids, values) group, set the same payload values on all its points: one call a group, with
        `progress(done, total)` after each."""

    def watch(self, name: str) -> ContextManager[Callable[[], set[str]]]:
        """While the block runs: a call that gives the ids upserted into the collection since it began, by any embc
        process (on a server, any host: found by their ingest time, so also those of the minutes before, for
        clocks that run behind); a job's labels may be stale for those (`page_out.changed` says which)."""

    def clear_labels(self, name: str, ids: Sequence[str]) -> None:
        """Remove the run's labels (LABEL_KEYS) from the points, those still there: the next run assigns them."""

    def start_set_payloads(self, name: str, groups: Sequence[Group],
                           progress: Callable[[int, int], None] | None = None) -> Callable[[], None]:
        """`set_payloads` beside the caller's own work, with `progress(done, total)` after each group; call the
        result to wait for the write to end (it raises what the write raised)."""

    def retrieve(self, name: str, ids: Sequence[str], with_vectors: bool = False,
                 keys: Sequence[str] | None = None) -> list[Record]:
        """The points among `ids` that the collection holds; none asked, none returned without a store call."""

    def count(self, name: str, match: Match | None = None) -> int: ...

    def facet(self, name: str, key: str) -> dict[object, int]:
        """Number of points for each value of an indexed payload field."""

    def search(self, name: str, vector: np.ndarray, limit: int, match: Match | None = None) -> list[Record]: ...

    def search_many(self, name: str, searches: Sequence[Search]) -> list[list[Record]]:
        """Each search's hits, best first, from one store call."""

    def delete(self, name: str, ids: Sequence[str]) -> None: ...

    def index_due(self, name: str, points: int) -> bool:
        """Whether `index` would speed up the searches of the collection, of `points`, now."""

    def quiet(self, name: str) -> bool:
        """Whether nothing was written to the collection of late, by this store (False where others write)."""

    def index(self, name: str, stop: threading.Event | None = None) -> bool:
        """Build the collection's vector index beside the questions; False when nothing changed (or `stop` was
        set before it was done)."""

    def version(self, name: str) -> int | None:
        """A number that changes with every write to the collection, or None where another process may write
        to it unseen (what was read from it cannot be kept)."""

    def close(self) -> None:
        """Let go of what the store keeps open."""


def reported(groups: Sequence[Group],
             progress: Callable[[int, int], None] | None) -> Iterator[Group]:
    """The groups, with `progress(done, total)` as each one is written."""
    for done, group in enumerate(groups, 1):
        yield group
        if progress:
            progress(done, len(groups))


LABEL_KEYS = ["cluster", "cluster_run"]  # what a run writes into each point's payload
INGESTED_KEY = "ingested_at"  # when ingest upserted the point (UTC, ISO 8601)


def to_those_present(by_ids: Callable[[], object], by_filter: Callable[[], object]) -> None:
    """`by_ids()`, a write to points named by their ids (the engine's fastest), or where it fails because some
    of them are gone (deleted after the job read them, by a client of the server or by another process between
    the job's steps), `by_filter()`: the same write to those still there, matched by a filter on their ids. A
    failure of another kind fails that way too, and is raised."""
    try:
        by_ids()
    except Exception:
        by_filter()


# Payload fields that get an index, with their type: clusters are listed and counted by `cluster`. It is
# only ever matched by value, so its index has no range part, which would make every label write about a
# third slower. Items need none: a point's id is derived from its item key. An index costs every opening
# of an embedded collection (an `item` index: 0.15 s at 100k points) and every write.
INDEXED_FIELDS = {"cluster": "integer"}


def check_name(name: str) -> str:
    """A collection name that is safe as a folder name and a Qdrant collection name."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise EmbcError(f"invalid collection name {quoted(name)}: use 1-100 letters, digits, '_', '-' and '.', "
                        "starting with a letter or digit")
    return name
