"""`embc.Workspace`: the public library. A data directory of collections that it owns (the embedded Qdrant
collections or a server's, the report store, vector caches, trained models), with the embedders it loads
kept for every later call. The command line is a thin shell over it."""

from __future__ import annotations

import os
import shutil
import threading
import unicodedata
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from embc.arguments import check_cluster_id, check_export_target, check_keys, check_limit
from embc.cluster.params import REFIT_FRACTION, check_refit_fraction, is_integer
from embc.cluster.progress import Progress
from embc.environment import check_settings
from embc.errors import EmbcError, NotFound, ParameterError
from embc.ingest.items import as_vector, max_text, vector_problem
from embc.layout import Layout, default_home
from embc.results import (ClusterStats, ClusterSummary, DecoderResult, Entry, Event, IngestResult, Report, Run,
                          RunResult, SweepPoint)
from embc.store.vectors import CollectionInfo, Record, Store, check_name

if TYPE_CHECKING:
    import pyarrow as pa
    from PIL.Image import Image

    from embc.cluster.describe import BackgroundWords
    from embc.coalesce import Coalesced
    from embc.decode.decoder import Decoder
    from embc.ingest.embedders import Embedder
    from embc.queries import Nearest
    from embc.store.reports import ReportStore

Source = str | os.PathLike | Iterable[Any]


def _one_of(**given) -> None:
    """Refuse (ParameterError) anything but exactly one of the keyword arguments given as not None."""
    named = [name for name, value in given.items() if value is not None]
    if len(named) != 1:
        *first, last = given
        raise ParameterError(f"give exactly one of {', '.join(first)} or {last} (given: {', '.join(named) or 'none'})")


def open_store(layout: Layout, url: str | None = None, api_key: str | None = None, resident: bool = False) -> Store:
    """The server adapter when a Qdrant URL is given (or EMBC_QDRANT_URL), else the embedded one (`resident`:
    keeping its collections open)."""
    url = url or os.environ.get("EMBC_QDRANT_URL")
    if url:
        from embc.store.server import ServerStore

        return ServerStore.connect(url, api_key or os.environ.get("EMBC_QDRANT_API_KEY"))
    from embc.store.embedded import EmbeddedStore

    return EmbeddedStore(layout.collections, resident=resident)


class Workspace:
    """Collections in a data directory: ingest, recluster, and ask what is in each cluster.

    `path`: the data directory (default: as the CLI, `EMBC_HOME` else the user data folder). `qdrant_url`
    and `api_key` use a Qdrant server for the vectors; `store` passes any Store adapter instead. `resident`
    (a long-running process such as `embc serve`): keep the embedded collections and the report store open
    and locked from first use until `close`, so that questions answer in milliseconds, from any thread, while
    jobs run; other processes wait for them meanwhile. Use it as a context manager to close it."""

    def __init__(self, path: str | os.PathLike | None = None, *, qdrant_url: str | None = None,
                 api_key: str | None = None, store: Store | None = None, resident: bool = False):
        check_settings()
        self.layout = Layout(default_home(path))
        self._qdrant = (qdrant_url, api_key)
        self._store = self._given_store = store
        self._resident = resident
        self._reports = None
        self._opening = threading.Lock()
        self._embedders: dict[tuple, Coalesced] = {}
        self._without: dict[tuple, Coalesced | None] = {}  # embedders without torch, where there are
        self._loading = threading.RLock()  # a model is loaded once, however many threads ask for it first
        self._creating: dict[str, threading.Lock] = {}  # a new collection's first ingest, one at a time
        self._decoders: dict[str, tuple[float, Decoder]] = {}

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Let go of the stores this Workspace opened (a store passed in stays open)."""
        if self._store is not None and self._store is not self._given_store:
            self._store.close()
            self._store = None
        if self._reports is not None:
            self._reports.close()
            self._reports = None

    def __repr__(self) -> str:
        return f"Workspace({str(self.layout.root)!r})"

    @property
    def path(self) -> Path:
        return self.layout.root

    @property
    def store(self) -> Store:
        """The vector store (opened on first use)."""
        if self._store is None:
            with self._opening:  # a server's threads ask at once: one store, or the second waits for its locks forever
                if self._store is None:
                    self._store = open_store(self.layout, *self._qdrant, resident=self._resident)
        return self._store

    @property
    def reports(self) -> ReportStore:
        """The report store, `reports.duckdb` in the data directory."""
        if self._reports is None:
            with self._opening:
                if self._reports is None:
                    from embc.store.reports import ReportStore

                    self.layout.make()
                    self._reports = ReportStore(self.layout.reports, resident=self._resident)
        return self._reports

    def version(self, collection: str) -> tuple[int, int] | None:
        """A token that changes with every write to the collection or to the report store, while answers read
        from them stay the same: None unless this Workspace is their only writer (`resident`, embedded store)."""
        store, reports = self.store.version(collection), self.reports.version
        return None if store is None or reports is None else (store, reports)

    def embedder(self, model: str, dim: int | None = None, weights: str | None = None,
                 precision: str = "fp32") -> Embedder:
        """The embedder called `model`, loaded once per Workspace and reused by every later call: without torch
        where it can (`_engine`)."""
        return self._engine(model, dim, weights, precision).embedder

    def _engine(self, model: str, dim: int | None = None, weights: str | None = None,
                precision: str = "fp32") -> Coalesced:
        """The embedder called `model`, for items and queries alike; queries asked at once from several threads (a
        server's) share model calls. A sentence-transformers model, a CNN or CLIP in fp32 runs without torch where it
        can."""
        from embc.ingest.registry import family

        if family(model) in ("sentence", "cnn", "clip") and precision == "fp32":
            key = self._key(model, dim, weights, precision)
            without = self._once(self._without, key, lambda: self._without_torch(model, weights))
            if without is not None:
                return without
        return self._loaded(model, dim, weights, precision)

    def _torch_model(self, model: str, dim: int | None = None, weights: str | None = None,
                     precision: str = "fp32") -> Embedder:
        """The embedder called `model` on its own engine (torch for neural models): decoders train through it."""
        return self._loaded(model, dim, weights, precision).embedder

    def _loaded(self, model: str, dim: int | None, weights: str | None, precision: str) -> Coalesced:
        from embc.coalesce import Coalesced
        from embc.ingest.registry import load_embedder

        return self._once(self._embedders, self._key(model, dim, weights, precision), lambda: Coalesced(
            load_embedder(model, dim=dim, weights=weights, precision=precision, cache=self.layout.openvino)))

    def _once(self, table: dict, key: tuple, load: Callable[[], Any]) -> Any:
        """`table[key]`, made by `load()` the first time, however many threads ask for it at once."""
        if key not in table:
            with self._loading:
                if key not in table:
                    table[key] = load()
        return table[key]

    @staticmethod
    def _key(model: str, dim: int | None, weights: str | None, precision: str) -> tuple:
        from embc.ingest.registry import learns

        # The dimension is a choice only for precomputed vectors and trained models; others have their own.
        return model, dim if model == "precomputed" or learns(model) else None, weights, precision

    def _without_torch(self, model: str, weights: str | None) -> Coalesced | None:
        """The embedder of a sentence-transformers model, a CNN or CLIP that runs without torch
        (`embc.ingest.text_without_torch`, `images_without_torch`, `clip_without_torch`), converted from the torch
        model and kept for later processes the first time; None where there is none (a model they do not take, or
        one OpenVINO cannot convert), which leaves the torch model loaded to do the work."""
        from embc.coalesce import Coalesced
        from embc.ingest import clip_without_torch, images_without_torch, text_without_torch
        from embc.ingest.registry import family

        cache = self.layout.openvino
        if family(model) == "sentence":
            found, keep = text_without_torch.kept(model, cache), text_without_torch.keep
        else:
            module = clip_without_torch if family(model) == "clip" else images_without_torch
            found, keep = module.kept(model, weights, cache), module.keep
        if found is None:
            key = self._key(model, None, weights, "fp32")
            loaded = self._loaded(model, None, weights, "fp32").embedder
            try:
                found = keep(loaded, cache)
            except Exception:  # a model OpenVINO cannot convert, or a full disk: the torch model does the work
                return None
            if found is not None:
                del self._embedders[key]  # the torch model is let go: the converted one does its work
        return None if found is None else Coalesced(found)

    # Collections

    def collections(self) -> list[CollectionInfo]:
        """Every collection: name, points, model, dimension and modality."""
        return self.store.collections()

    def collection(self, name: str) -> CollectionInfo:
        """One collection's info, with its number of points; EmbcError when there is none of that name."""
        info = self._info(name)
        info.points = self.store.count(name)
        return info

    def _info(self, name: str) -> CollectionInfo:
        """The collection's info without counting its points (which opens an embedded collection)."""
        return self.store.collection(check_name(name))

    # Writing

    def ingest(self, collection: str, source: Source, *, model: str | None = None, weights: str | None = None,
               text_field: str | None = None, label_field: str | None = None, id_field: str | None = None,
               vector_field: str | None = None, folder_labels: bool = True, bottleneck: int | None = None,
               retrain: bool = False, prune: bool = False,
               progress: Callable[[int], None] | None = None) -> IngestResult:
        """Embed and store items: `source` is a file or folder (a str or Path), a list of Paths, or an iterable
        of records (texts, dicts like JSONL rows, (key, vector) pairs, PIL images). Unchanged items are left
        alone, bad ones skipped with their reason. `prune`: also remove points whose file is gone from a
        folder given. `progress(n)` as each n inputs are done."""
        from embc.ingest.registry import TABLE_MODELS, check_model
        from embc.ingest.pipeline import check_same_model, existing, ingest
        from embc.ingest.records import record_items
        from embc.ingest.sources import Fields, iter_items

        stored = existing(self.store, collection)
        if model is not None:
            check_model(model)
        if weights is not None and not Path(weights).is_file():
            raise EmbcError(f"no weights file '{weights}'")
        weights = str(Path(weights).resolve()) if weights else None
        if stored is not None:  # before any input is read as that model's: a table read as text skips every row
            check_same_model(stored, model, weights)
        if bottleneck is not None and not is_integer(bottleneck, 1):
            raise ParameterError(f"bottleneck must be an integer >= 1, not {bottleneck!r}")
        table = (model or (stored.model if stored else "")) in TABLE_MODELS
        fields = Fields(text=text_field, label=label_field, id=id_field, vector=vector_field,
                        folder_labels=folder_labels, table=table)
        paths = _paths(source)
        if prune and paths is None:
            raise ParameterError("prune needs folders to compare with: give paths, not records")
        items = iter_items(paths, fields) if paths is not None else record_items(source, fields)
        self.layout.make()
        # Ingests that would each make the collection take turns: the first trains its model (word2vec, a table
        # model) and stores, the others then find the collection and embed with that model.
        with self._first_ingest(collection) if stored is None else nullcontext():
            result = ingest(self.store, collection, items, model=model, on_progress=progress, weights=weights,
                            model_dir=self.layout.model_dir(collection), dim=bottleneck, retrain=retrain,
                            vectors_dir=self.layout.vectors, load=self.embedder)
        if prune:
            from embc.ingest.prune import prune_missing

            result.pruned = prune_missing(self.store, collection, paths)
        return result

    def _first_ingest(self, collection: str) -> threading.Lock:
        with self._opening:
            return self._creating.setdefault(collection, threading.Lock())

    def recluster(self, collection: str, algorithm: str | None = None, k: int | str | None = None, *,
                  eps: float | None = None, min_size: int | None = None, linkage: str | None = None,
                  reduce: str | None = None, sample_cap: int | None = None, n_init: int | None = None,
                  seed: int | None = None, projection: str | None = None, full: bool = False,
                  refit_fraction: float = REFIT_FRACTION, progress: Progress | None = None) -> RunResult:
        """Bring the clustering up to date: assign new points to the clusters, or refit when due (or `full`);
        write each point's cluster into the store and record the run. Unset arguments reuse the last run's.
        Every parameter is checked first: a ParameterError records nothing."""
        from embc.cluster.job import recluster

        info = self._info(collection)
        if seed is not None and not is_integer(seed, 0, 2**32):
            raise ParameterError(f"seed must be an integer from 0 to 2**32 - 1, not {seed!r}")
        check_refit_fraction(refit_fraction)
        params = {"k": k, "eps": eps, "min_size": min_size, "linkage": linkage, "reduce": reduce,
                  "sample_cap": sample_cap, "n_init": n_init}
        run = recluster(self.store, self.reports, collection, algorithm, params, seed, projection, full,
                        refit_fraction, progress, vectors_dir=self.layout.vectors, words=self._keyword_model(info))
        if run["run_id"] is None:
            return RunResult(None, run["mode"], run["reason"], collection, 0)
        # The clusters as recorded: with the names users gave their ids.
        return RunResult(run["run_id"], run["mode"], run["reason"], collection, run["points"], run["algorithm"],
                         run["params"], [ClusterStats.of(c) for c in self.reports.clusters(run["run_id"])],
                         run["metrics"], [Event.of(e) for e in run["events"]], run["timings"],
                         lambda: self.labels(collection))

    def recluster_plan(self, collection: str, algorithm: str | None = None, **params: Any) -> tuple[str, dict]:
        """The algorithm and parameters (k, eps, min_size, linkage, reduce, sample_cap, n_init) a full
        `recluster` would fit with now: those given, the others the last complete run's; ParameterError for any
        it would refuse, the collection's size too."""
        from embc.cluster.job import choose
        from embc.cluster.params import check_size

        points = self.collection(collection).points
        algorithm, chosen = choose(self.reports.run(collection), algorithm, params)
        check_size(chosen, points, collection)
        return algorithm, chosen

    def _keyword_model(self, info: CollectionInfo) -> BackgroundWords | None:
        """Keywords embedded by the collection's own model, as query texts are, when it embeds text: they name text
        clusters."""
        from embc.cluster.describe import BackgroundWords
        from embc.ingest import clip_without_torch, text_without_torch
        from embc.ingest.items import Item
        from embc.ingest.registry import accepts, family

        if not accepts(info.model, "text"):
            return None

        def load():
            embedder = self._engine(info.model, dim=info.dim, weights=info.weights, precision=info.precision)
            return lambda words: embedder.embed([Item(key=w, source="keyword", kind="text", text=w) for w in words])

        kind, cache = family(info.model), self.layout.openvino
        without_torch = kind == "words" or info.precision == "fp32" and (
            kind == "sentence" and text_without_torch.is_kept(info.model, cache)
            or kind == "clip" and clip_without_torch.is_kept(info.model, info.weights, cache))
        return BackgroundWords(load, needs_torch=not without_torch)

    def delete(self, collection: str, items: Sequence[str] | None = None) -> int:
        """Delete items by key (or point id), or with no `items` the whole collection with its runs, vector
        cache and trained model; returns the number of points removed."""
        from embc.queries import point_ids

        self._info(collection)
        if items is not None:
            check_keys(items)
            found = self.store.retrieve(collection, point_ids(items), keys=["path"])
            if found:
                self.store.delete(collection, [r.id for r in found])
                self._forget_uploads(collection, [r.payload.get("path") for r in found])
            return len(found)
        points = self.store.count(collection)
        self.store.delete_collection(collection)
        self.reports.forget(collection)
        (self.layout.vectors / f"{collection}.vectors").unlink(missing_ok=True)
        shutil.rmtree(self.layout.model_dir(collection), ignore_errors=True)
        shutil.rmtree(self.layout.uploads(collection), ignore_errors=True)
        self._embedders = {key: e for key, e in self._embedders.items()
                           if key[2] != str(self.layout.model_dir(collection))}
        return points

    def _forget_uploads(self, collection: str, paths: list[str | None]) -> None:
        """Remove the files that `embc serve` kept for deleted items (uploaded images); a file anywhere else is
        the user's own, and stays."""
        kept = self.layout.uploads(collection).resolve()
        for path in filter(None, paths):
            if (file := Path(path).resolve()).is_relative_to(kept):
                file.unlink(missing_ok=True)

    def delete_run(self, collection: str, run: int) -> None:
        """Delete a run from the history: a failed one, or one that a later full run replaced. The runs that the
        collection's clusters now come from (the latest complete run, and the full run it extends) stay."""
        from embc.queries import chosen_run

        self._info(collection)
        found = chosen_run(self.reports, collection, run, complete=False)
        latest = self.reports.run(collection)
        current = {latest["run_id"], latest["base_run"]} if latest else set()
        base = found["base_run"] if found["mode"] == "incremental" else None
        if run in current or (base is not None and base in current) or found["status"] == "running":
            raise EmbcError(f"run {run} is running" if found["status"] == "running" else
                            f"run {run} is one the clusters of '{collection}' come from now: only a failed run, or "
                            "one a later full run replaced, can be deleted")
        self.reports.delete_run(run)

    def rename(self, collection: str, cluster: int, name: str) -> None:
        """Name a cluster of the latest run; the name stays with its id in later runs (ids are stable)."""
        from embc.queries import check_cluster

        self._info(collection)
        cluster = check_cluster_id(cluster)
        if not isinstance(name, str) or not name.strip() or len(name) > 200 or any(
                unicodedata.category(c) == "Cc" for c in name):
            raise ParameterError("a cluster name is one line of 1 to 200 characters, none of them a control character")
        check_cluster(self.store, self.reports, collection, cluster)
        self.reports.rename(collection, cluster, name.strip())

    # Questions

    def clusters(self, collection: str, run: int | None = None) -> list[ClusterSummary]:
        """The clusters of the latest (or a given) run: id, size, name, keywords and an example."""
        from embc.queries import cluster_list

        self._info(collection)
        return cluster_list(self.store, self.reports, collection, run)

    def cluster(self, collection: str, cluster: int | str, run: int | None = None) -> ClusterSummary:
        """One cluster of the latest (or a given) run, as `clusters` lists it (-1 or "noise": the noise, where
        the run left some)."""
        from embc.queries import check_cluster

        cluster = check_cluster_id(cluster)
        found = [c for c in self.clusters(collection, run) if c.id == cluster]
        if not found:  # the list holds every cluster the check knows: it raises, naming them
            check_cluster(self.store, self.reports, collection, cluster, run)
        return found[0]

    def members(self, collection: str, cluster: int | str, limit: int | None = None, run: int | None = None,
                order: str = "centre", arrow: bool = False) -> "list[Entry] | pa.Table":
        """The items of a cluster (-1 or "noise": the noise), nearest its centre first (`order="key"`: by item
        key); `limit` None or 0: all of them. `arrow`: as an Arrow table with a column per field."""
        from embc.queries import cluster_members

        self._info(collection)
        entries = cluster_members(self.store, self.reports, collection, check_cluster_id(cluster), check_limit(limit),
                                  run, order)
        if not arrow:
            return entries
        import pyarrow as pa

        from embc.export import values_text

        rows = [{**e.to_dict(), "values": values_text(e.values)} for e in entries]
        return pa.Table.from_pylist(rows, schema=pa.schema(
            [("id", pa.string()), ("item", pa.string()), ("label", pa.string()), ("cluster", pa.int32()),
             ("text", pa.string()), ("path", pa.string()), ("values", pa.string())]))

    def similar(self, collection: str, *, text: str | None = None, image=None, row: Mapping | None = None,
                item: str | None = None, vector: Sequence[float] | np.ndarray | None = None,
                cluster: int | str | None = None, limit: int = 10) -> list[Entry]:
        """The stored items nearest to a text, an image (a file path or a PIL image), a table row (a mapping of
        column to value, need not be stored), a stored item (key or point id) or a vector, best first;
        optionally inside one cluster of the latest run."""
        return self.similar_many(collection, [dict(text=text, image=image, row=row, item=item, vector=vector,
                                                   cluster=cluster, limit=limit)])[0]

    def similar_many(self, collection: str, asks: Sequence[Mapping[str, Any]]) -> list[list[Entry]]:
        """`similar` for each ask (a mapping of its keyword arguments), searched in one store call and with the
        texts embedded in one model call: what a server asked many questions at once does."""
        from embc.queries import check_asks, embed_texts, find_points, similar_items

        asks = check_asks(asks)
        info = self._info(collection)
        texts = {n: _query_text(ask["text"]) for n, ask in enumerate(asks) if ask.get("text") is not None}
        items = {n: str(ask["item"]) for n, ask in enumerate(asks) if ask.get("item") is not None}
        # One question is answered as `similar` answers it; several share one model call for their texts and one
        # store call to look up the items they name.
        embedded, stored = {}, {}
        if len(texts) > 1:
            embedded = dict(zip(texts, embed_texts(info, self._engine, list(texts.values()))))
        if len(items) > 1:
            found = find_points(self.store, info.name, list(items.values()), keys=[])
            stored = {n: found.get(item) for n, item in items.items()}
        return similar_items(self.store, self.reports, collection, [
            self._nearest(info, **{**ask, "text": texts.get(n), "embedded": embedded.get(n), "stored": stored.get(n)})
            for n, ask in enumerate(asks)])

    def _nearest(self, info: CollectionInfo, text: str | None = None, image=None, row: Mapping | None = None,
                 item: str | None = None, vector: Sequence[float] | np.ndarray | None = None,
                 cluster: int | str | None = None, limit: int = 10, embedded: np.ndarray | None = None,
                 stored: Record | None = None) -> Nearest:
        """A similarity question, checked, with its query embedded (unless `embedded` already) or its item looked
        up (unless `stored` already)."""
        from embc.queries import Nearest, embed_query, find_point

        _one_of(text=text, image=image, row=row, item=item, vector=vector)
        limit = check_limit(limit)
        cluster = None if cluster is None else check_cluster_id(cluster)
        if item is not None:
            record = stored or find_point(self.store, info.name, str(item))
            return Nearest(record.vector, cluster, limit, record.id)
        if vector is not None:
            return Nearest(_query_vector(vector, info.dim), cluster, limit)
        if embedded is None:
            embedded = embed_query(info, self._engine, text=text, image=image, row=row)
        return Nearest(embedded, cluster, limit)

    def item(self, collection: str, key: str) -> Entry:
        """One stored item, by item key or point id; NotFound when there is none."""
        from embc.queries import entry, find_point

        self._info(collection)
        return entry(find_point(self.store, collection, str(key)))

    def map_points(self, collection: str, run: int | None = None) -> dict[str, np.ndarray]:
        """The 2-D map of the latest (or a given) complete run: `point_id`, `x`, `y` and `cluster` columns,
        in point id order (empty when the run kept no map)."""
        from embc.queries import chosen_run

        self._info(collection)
        return self.reports.columns("coords", chosen_run(self.reports, collection, run)["run_id"])

    def report(self, collection: str, run: int | None = None) -> Report:
        """A run's metrics, clusters and id events (default: the latest complete run), and the run history."""
        from embc.queries import chosen_run

        self._info(collection)
        chosen = chosen_run(self.reports, collection, run, complete=False)
        rid = chosen["run_id"]
        return Report(collection, Run.of(chosen), self.reports.metrics(rid),
                      [ClusterStats.of(c) for c in self.reports.clusters(rid)],
                      [Event.of(e) for e in self.reports.events(rid)], self.runs(collection),
                      self._sweep(rid))

    def events(self, collection: str, run: int | None = None) -> list[Event]:
        """What became of the cluster ids in a full run (default: the latest complete run), as `report` gives
        them: birth, death, split and merge, with the ids involved."""
        from embc.queries import chosen_run

        self._info(collection)
        return [Event.of(e) for e in self.reports.events(chosen_run(self.reports, collection, run, complete=False)
                                                         ["run_id"])]

    def _sweep(self, run_id: int) -> list[SweepPoint]:
        from embc.cluster.sweep import judged

        rows = self.reports.sweep(run_id)
        if not rows:
            return []
        return [SweepPoint(r["k"], r["inertia"], r["silhouette"], float(c), bool(r["chosen"]), bool(near))
                for r, c, near in zip(rows, *judged(rows))]

    def runs(self, collection: str) -> list[Run]:
        """Every run of the collection, newest first, complete or not (a run whose job was killed: failed)."""
        self._info(collection)
        self.reports.settle(collection)
        return [Run.of(r) for r in self.reports.runs(collection)]

    def labels(self, collection: str) -> dict[str, int]:
        """Each item key's cluster as stored (-1: noise), for the points a run has clustered."""
        return {p["item"]: p["cluster"] for _, p in self._payloads(collection, ["item", "cluster"])
                if p.get("cluster") is not None}

    def _payloads(self, collection: str, keys: list[str]) -> Iterator[tuple[str, dict]]:
        """(point id, payload with only `keys`) of every point, a page of the store at a time."""
        for page in self.store.pages(collection, with_vectors=False, keys=keys):
            yield from zip(page.ids, page.payloads)

    def labels_of(self, collection: str) -> dict[str, str]:
        """Each point's ground-truth label (the `label` its item came with), by point id, where it has one."""
        self._info(collection)
        return {i: str(p["label"]) for i, p in self._payloads(collection, ["label"]) if p.get("label") is not None}

    def export(self, collection: str, target: str | os.PathLike | BinaryIO | None = None,
               format: str | None = None, run: int | None = None, vectors: bool = False) -> "int | pa.Table":
        """Every point with its cluster, the cluster's name, its label and its 2-D position (none of them before
        the first run), and with `vectors` its stored vector (Parquet, JSON lines and Arrow only). To a file
        (format from its extension: .parquet, .csv, .tsv, .jsonl, or `format`) or a binary stream, written a page
        at a time, returning the number of rows; with no `target`, as an Arrow table."""
        from embc.export import export, export_table, format_for

        self._info(collection)
        if target is None:
            return export_table(self.store, self.reports, collection, run, vectors)
        check_export_target(target)
        if isinstance(target, (str, os.PathLike)):
            self.layout.check_outside(target)
        return export(self.store, self.reports, collection, target, format_for(target, format), run, vectors)

    # Decoders

    def train_decoder(self, collection: str, size: int | None = None, epochs: int | None = None,
                      progress: Progress | None = None) -> DecoderResult:
        """Train (or train again) the decoder that turns the collection's vectors back into images of its items
        (`size` x `size`, default 64) or into table rows, on its stored vectors and the items' own pixels or
        values; kept with the collection's models, its losses per epoch in the report store. Unset arguments
        keep those of the decoder trained before."""
        from embc.decode.decoder import exists
        from embc.decode.job import train_decoder

        info = self._info(collection)
        try:
            before = self.decoder(collection) if exists(self.layout.decoder(collection)) else None
        except EmbcError:  # one that cannot be read is trained anew
            before = None
        if size is None:
            size = before.size if before is not None and before.kind == "image" else 64
        if epochs is None and before is not None:
            epochs = before.facts.get("epochs")
        return train_decoder(self.store, self.reports, info, self.layout.decoder(collection), self._torch_model,
                             size, epochs, progress)

    def decoder(self, collection: str) -> Decoder:
        """The collection's trained decoder, loaded once (and again after it is trained again)."""
        from embc.decode.decoder import FACTS, Decoder, missing

        folder = self.layout.decoder(collection)
        try:
            stamp = (folder / FACTS).stat().st_mtime
        except FileNotFoundError:
            raise missing(collection) from None
        if self._decoders.get(collection, (None,))[0] != stamp:
            self._decoders[collection] = (stamp, Decoder.load(folder))
        return self._decoders[collection][1]

    def decoder_due(self, collection: str) -> bool:
        """Whether the collection has a decoder and has grown past 30% of what it held when that was trained
        (as a recluster refits): `embc serve --every` trains it again then."""
        from embc.decode.decoder import exists
        from embc.decode.job import grown

        return exists(self.layout.decoder(collection)) and grown(self.decoder(collection),
                                                                 self.store.count(collection))

    def decode(self, collection: str, *, item: str | None = None, cluster: int | str | None = None,
               vector: Sequence[float] | np.ndarray | None = None, text: str | None = None,
               run: int | None = None) -> Image | dict:
        """What a point of the collection's space looks like, drawn by its decoder: a stored item's vector, a
        cluster's centre in the latest (or a given) run, any vector, or a text's (a CLIP collection). A PIL
        image for an image collection; for a table collection, a row in the original units."""
        from embc.decode.rows import to_rows
        from embc.queries import chosen_run, embed_query, find_point

        _one_of(item=item, cluster=cluster, vector=vector, text=text)
        info = self._info(collection)
        decoder = self.decoder(collection)
        if item is not None:
            point = find_point(self.store, collection, str(item)).vector
        elif cluster is not None:
            ids, centres, _ = self.reports.centroids(chosen_run(self.reports, collection, run)["run_id"])
            found = np.flatnonzero(ids == check_cluster_id(cluster))
            if not len(found):
                raise NotFound(f"no cluster {cluster} with a centre in collection '{collection}'")
            point = centres[found[0]]
        elif vector is not None:
            point = _query_vector(vector, info.dim)
        else:
            point = embed_query(info, self._engine, text=_query_text(text))
        decoded = decoder.decode(point)
        if decoder.kind == "image":
            from PIL import Image

            return Image.fromarray(decoded[0])
        features = self.embedder(info.model, dim=info.dim, weights=info.weights, precision=info.precision).features
        return to_rows(features, decoded)[0]

    def plot(self, collection: str, kind: str, out: str | os.PathLike, run: int | None = None,
             cluster: int | str | None = None, per_cluster: int = 8, between: tuple[str, str] | None = None) -> Path:
        """Draw a figure of the latest (or a given) run as a PNG file (SVG or PDF when `out` ends so): map (the
        2-D map coloured by cluster), elbow (the k sweep of a k="auto" run), silhouette (per-cluster blades),
        montage (each cluster's images, `per_cluster` of them, or only `cluster`'s); with a decoder
        (`train_decoder`): centroids (each cluster's decoded centre beside its nearest members), interpolate
        (decoded images on the line `between` two item keys) and loss (its training and validation loss per
        epoch)."""
        from embc.report.figures import figure_format
        from embc.report.plots import DECODED, KINDS, plot

        info = self._info(collection)
        if kind not in KINDS:
            raise ParameterError(f"unknown figure {kind!r}: choose from {', '.join(KINDS)}")
        if not isinstance(out, (str, os.PathLike)):
            raise ParameterError(f"out is the file to write the figure to, not {out!r}")
        figure_format(Path(out))  # a name no figure can be written as fails before the drawing
        self.layout.check_outside(out)
        if kind == "montage":
            from embc.queries import check_accepts

            check_accepts(info, "image", "a montage shows images; list a cluster's members instead")
        decoder = self.decoder(collection) if kind in DECODED else None
        if decoder is not None and decoder.kind != "image":
            raise EmbcError(f"collection '{collection}' holds {info.modality}s: its decoder draws rows, not images: "
                            "decode a cluster or an item instead")
        per_cluster = check_limit(per_cluster, "per_cluster")
        return plot(self.store, self.reports, collection, kind, Path(out), run,
                    None if cluster is None else check_cluster_id(cluster), per_cluster or 8, decoder, between)


def _paths(source: Source) -> list[Path] | None:
    """The paths in `source`, or None when it holds records: a str or Path alone is a path, and so is every
    member of a list of Paths; strings inside a list are texts."""
    if isinstance(source, (str, os.PathLike)):
        if not os.fspath(source):  # Path("") would be the working folder, which nobody names by leaving it out
            raise ParameterError("an empty path: name a file or folder")
        return [Path(source)]
    if isinstance(source, (list, tuple)) and source and all(isinstance(s, os.PathLike) for s in source):
        from embc.ingest.sources import Keyed

        return [s if isinstance(s, Keyed) else Path(s) for s in source]
    from embc.ingest.records import check_records

    check_records(source)
    return None


def _query_text(text) -> str:
    """The query text, cut as ingest cuts a stored one (a 10 MB text took minutes and gigabytes to embed)."""
    if not isinstance(text, str):
        raise ParameterError(f"the query text must be a string, not {type(text).__name__}")
    if not text.strip():
        raise ParameterError("the query text is empty")
    return text[:max_text()]


def _query_vector(vector, dim: int) -> np.ndarray:
    try:
        query = as_vector(vector)
    except (TypeError, ValueError):
        raise ParameterError("vector must be a list of numbers") from None
    if query.shape != (dim,):
        raise ParameterError(f"vector must have the collection's {dim} dimensions, not shape {query.shape}")
    problem = vector_problem(query)
    if problem:
        raise ParameterError(problem)
    return query
