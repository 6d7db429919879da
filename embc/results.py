"""What the library hands back: small typed results, each with `to_dict()` for JSON."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache
from typing import Callable, Literal


class _Result:
    """`to_dict()` for JSON, and `of(mapping)` from a row that may carry more (or fewer) keys."""

    def to_dict(self) -> dict:
        return {name: _plain(getattr(self, name)) for name in _names(type(self))}

    @classmethod
    def of(cls, row: dict):
        return cls(**{f.name: row.get(f.name) for f in fields(cls) if f.init and not f.name.startswith("_")})


@cache
def _names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def _plain(value):
    """A copy of `value` with every result in it as its dict: what `dataclasses.asdict` makes, at a tenth of
    the cost (a page of 50 items over HTTP spent more in `asdict` than in the store)."""
    if isinstance(value, _Result):
        return value.to_dict()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass
class Entry(_Result):
    """A stored item as queries return it: `values` is a table row's columns (None for other items), `score`
    (similarity) only from `similar`."""

    id: str
    item: str | None
    label: str | None
    cluster: int | None
    text: str | None
    path: str | None
    values: dict | None = None
    score: float | None = None

    def to_dict(self) -> dict:
        out = super().to_dict()
        if self.score is None:
            del out["score"]
        return out


@dataclass
class ClusterSummary(_Result):
    """A cluster as it stands: its live size in the store, its name and keywords, and an example member."""

    id: int
    size: int
    name: str | None
    keywords: list[str]
    example: str | None
    run_id: int


@dataclass
class ClusterStats(_Result):
    """A cluster as a run recorded it: size, name, keywords, the members nearest its centre, its silhouette."""

    id: int
    size: int
    name: str | None
    keywords: list[str] = field(default_factory=list)
    representatives: list[dict] = field(default_factory=list)
    silhouette: float | None = None


@dataclass
class Event(_Result):
    """What became of a cluster id in a full run: birth, death, split or merge, with the other ids involved (those
    a split made, or those a merge joined)."""

    kind: Literal["birth", "death", "split", "merge"]
    cluster: int
    related: list[int]


@dataclass
class Run(_Result):
    """One recluster run as recorded in the report store."""

    run_id: int
    collection: str
    mode: str
    base_run: int | None
    algorithm: str
    params: dict
    seed: int
    model: str
    versions: dict
    n_points: int | None
    n_clusters: int | None
    started_at: str
    finished_at: str | None
    timings: dict | None
    status: str
    error: str | None


@dataclass
class SweepPoint(_Result):
    """One k of a `--k auto` sweep: the sample's inertia and silhouette, and the criterion, how far the
    (normalised) inertia lies below the chord from the first k to the last; the chosen k lies farthest, and
    `near_knee` marks the k within 10% of it."""

    k: int
    inertia: float
    silhouette: float | None
    below_chord: float
    chosen: bool
    near_knee: bool


@dataclass
class Report(_Result):
    """A run with its metrics, clusters and id events, the collection's run history (newest first), and the
    k sweep that chose its k (empty unless `--k auto`)."""

    collection: str
    run: Run
    metrics: dict[str, float]
    clusters: list[ClusterStats]
    events: list[Event]
    runs: list[Run]
    sweep: list[SweepPoint] = field(default_factory=list)


@dataclass
class RunResult(_Result):
    """What a recluster did: `mode` full, incremental, or none (nothing new: `run_id` is None). `labels`, each
    item key's cluster, is read from the store when first asked for."""

    run_id: int | None
    mode: str
    reason: str
    collection: str
    points: int
    algorithm: str | None = None
    params: dict = field(default_factory=dict)
    clusters: list[ClusterStats] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    _labels: Callable[[], dict[str, int]] | None = field(default=None, repr=False, compare=False)

    @property
    def n_clusters(self) -> int:
        """The clusters found, noise not counted."""
        return sum(c.id >= 0 for c in self.clusters)

    @property
    def labels(self) -> dict[str, int]:
        """Each item key's cluster (-1: noise), as stored."""
        return self._labels() if self._labels else {}

    def to_dict(self) -> dict:
        if self.run_id is None:
            return {"run_id": None, "mode": self.mode, "reason": self.reason, "points": 0}
        out = {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}
        out["clusters"] = [c.to_dict() for c in self.clusters]
        out["events"] = [e.to_dict() for e in self.events]
        return {key: out[key] for key in ("run_id", "mode", "reason", "collection", "algorithm", "params", "points",
                                          "clusters", "metrics", "events", "timings")}


@dataclass
class Skipped(_Result):
    """An input that could not become an item, and why."""

    source: str
    reason: str


@dataclass
class IngestResult(_Result):
    """What an ingest did; `skipped` inputs with their reasons, `pruned` points whose files are gone, and the
    embedder's own counts in `notes` (word models: words, unknown_words)."""

    collection: str = ""
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    pruned: int = 0
    notes: dict = field(default_factory=dict)

    def add(self, other: IngestResult) -> None:
        """Count in `other`, a later part of the same ingest."""
        for name in ("added", "updated", "unchanged", "pruned"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.skipped += other.skipped

    def to_dict(self) -> dict:
        return {"collection": self.collection, "added": self.added, "updated": self.updated,
                "unchanged": self.unchanged, "skipped": len(self.skipped),
                "skipped_items": [s.to_dict() for s in self.skipped], "pruned": self.pruned, **self.notes}


@dataclass
class DecoderResult(_Result):
    """A trained decoder: what it learnt from, its losses, and how faithful its images are where that can be
    measured (`same_cluster`: the share of held-out items whose decoded image, embedded again by the
    collection's model, lands in the item's own cluster)."""

    collection: str
    kind: str  # image or row
    size: int  # the image side, or the number of scaled features
    items: int
    held_out: int
    skipped: int
    epochs: int
    best_epoch: int
    train_loss: float
    val_loss: float | None
    seconds: float
    same_cluster: float | None = None
