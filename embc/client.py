"""`embc.Client`: a running `embc serve`, with the Workspace's methods and the same typed results, over HTTP.
The CLI uses it with `--server URL` (or EMBC_URL), and on a data directory that a server owns."""

from __future__ import annotations

import io
import json
import math
import os
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Callable, Iterable, Sequence

import httpx
import numpy as np

from embc.arguments import check_cluster_id, check_export_target, check_image, check_keys, check_limit, is_image
from embc.cluster.params import REFIT_FRACTION
from embc.cluster.progress import Progress
from embc.errors import EmbcError, NotFound, ParameterError, masked, writing_to
from embc.results import (ClusterStats, ClusterSummary, DecoderResult, Entry, Event, IngestResult, Report, Run,
                          RunResult, Skipped, SweepPoint)
from embc.store.vectors import CollectionInfo, check_name

if TYPE_CHECKING:
    from embc.ingest.table_parts import TablePart

UPLOAD_BYTES = 16 << 20  # per request: well under the server's default body limit (64 MiB)
UPLOAD_FILES = 500
FORM_BYTES = 4_096  # of a request beside its files or records: form fields, JSON around the records
PART_BYTES = 256  # of each file's part of a form, beside its name and bytes
PAGE = 1_000  # members per request, the most the server gives
RECORDS = 1_000  # records per request
ASKED_AT_ONCE = 8  # similarity questions in flight from one similar_many


def _error(response: httpx.Response) -> EmbcError:
    """The server's JSON error as the library's own exception: 404 NotFound, 422 ParameterError."""
    try:
        body = response.json()
        message = body["error"]
        if isinstance(body.get("detail"), list):  # a request the schema refused: say where
            message += ": " + "; ".join(f"{'.'.join(map(str, d['loc'][1:]))}: {d['msg']}" for d in body["detail"])
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {response.status_code}: {response.text[:200]}"
    kind = {404: NotFound, 422: ParameterError}.get(response.status_code, EmbcError)
    return kind(message)


def _cause(exc: Exception) -> str:
    """What went wrong in a request, with any password in a URL it quotes masked."""
    return masked(str(exc)) or type(exc).__name__


class Client:
    """The collections a server at `url` holds: ingest, recluster, and ask what is in each cluster; `api_key`
    (default EMBC_API_KEY) is sent as `Authorization: Bearer`."""

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 600):
        self.url = url.rstrip("/")
        self._shown = masked(self.url)  # as messages and repr show it: a password in the URL is not printed
        self._max_body: int | None = None
        key = api_key or os.environ.get("EMBC_API_KEY")
        try:
            self._http = httpx.Client(base_url=self.url, timeout=timeout,
                                      headers={"Authorization": f"Bearer {key}"} if key else {})
        except httpx.InvalidURL as exc:
            raise ParameterError(f"not a URL of embc serve: {self._shown} ({_cause(exc)})") from None

    def __repr__(self) -> str:
        return f"Client({self._shown!r})"

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        if "json" in kwargs:  # numpy's arrays and numbers go as JSON's own; inf and nan cannot go at all
            try:
                kwargs["content"] = _json(kwargs.pop("json"))
            except (TypeError, ValueError) as exc:
                raise ParameterError(f"the request cannot be sent as JSON: {exc}") from None
            kwargs["headers"] = {"Content-Type": "application/json"}
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise EmbcError(f"cannot reach embc serve at {self._shown}: {_cause(exc)}") from None
        if response.status_code >= 400:
            raise _error(response)
        return response

    def _path(self, collection: str, rest: str = "") -> str:
        return f"/v1/collections/{check_name(collection)}{rest}"

    # Collections

    def collections(self) -> list[CollectionInfo]:
        return [CollectionInfo(**c) for c in self._call("GET", "/v1/collections").json()]

    def collection(self, name: str) -> CollectionInfo:
        return CollectionInfo(**self._call("GET", self._path(name)).json())

    # Writing

    def ingest(self, collection: str, source, *, model: str | None = None, text_field: str | None = None,
               label_field: str | None = None, id_field: str | None = None, folder_labels: bool = True,
               progress: Callable[[int], None] | None = None, **unsupported: Any) -> IngestResult:
        """Upload files and folders (each file under the key `embc ingest` gives it), or send records (dicts
        like JSONL rows), in batches."""
        given = [name for name, value in unsupported.items() if value not in (None, False)]
        if given:
            raise ParameterError(f"{', '.join(given)}: not available through embc serve (stop the server to use it "
                                 "on the data directory)")
        form = _given(model=model, text_field=text_field, label_field=label_field, id_field=id_field,
                      folder_labels=None if folder_labels else "false")
        total = IngestResult(collection)
        if isinstance(source, (str, os.PathLike)):
            source = [source]
        if isinstance(source, (list, tuple)) and source and all(isinstance(s, os.PathLike) for s in source):
            batches = self._uploads(collection, source, form)
        else:
            from embc.ingest.pipeline import chunks
            from embc.ingest.records import check_records

            check_records(source)
            batches = (self._send(collection, batch, model, n * RECORDS)
                       for n, batch in enumerate(chunks(source, RECORDS)))
        for result, inputs in batches:
            total.add(result)
            if progress:
                progress(inputs)
        return total

    def _server_max_body(self) -> int:
        """The largest request body the server takes (asked once)."""
        if self._max_body is None:
            self._max_body = int(self._call("GET", "/healthz").json().get("max_body", UPLOAD_BYTES + FORM_BYTES))
        return self._max_body

    def _uploads(self, collection: str, paths: Sequence[os.PathLike], form: dict) -> Iterable[tuple[IngestResult, int]]:
        """Each request's result, with the number of inputs it took (as `embc ingest` counts them)."""
        from embc.ingest.sources import ids_key

        refused: set[str] = set()  # tables the server skipped whole (no text column): so would it every part
        for batch in _batches(paths, self._server_max_body()):
            if isinstance(batch, list):
                yield self._upload(collection, batch, form)
            elif isinstance(batch, Skipped):
                yield IngestResult(collection, skipped=[batch]), 1
            elif batch.key in refused:
                yield IngestResult(collection), batch.rows.rows
            else:
                files = [(batch.key, batch.rows.data)]
                if batch.rows.ids is not None:
                    files.append((ids_key(batch.key), batch.rows.ids))
                result = self._post_files(collection, files, {**form, "line_offset": str(batch.rows.line_offset)})
                if any(s.source == batch.key for s in result.skipped):
                    refused.add(batch.key)
                yield result, batch.rows.rows

    def _upload(self, collection: str, batch: list[tuple[Path, str]], form: dict) -> tuple[IngestResult, int]:
        """One request's files; with the number of inputs in them (rows of a table), as the CLI counts them."""
        from embc.ingest.sources import IDS_SUFFIX, count_inputs

        handles = [open(path, "rb") for path, _ in batch]
        try:
            result = self._post_files(collection, [(key, handle) for (_, key), handle in zip(batch, handles)], form)
        finally:
            for handle in handles:
                handle.close()
        return result, count_inputs([path for path, key in batch if not key.endswith(IDS_SUFFIX)])

    def _post_files(self, collection: str, files: list[tuple[str, BinaryIO | bytes]], form: dict) -> IngestResult:
        body = self._call("POST", self._path(collection, "/items"), files=[("files", f) for f in files],
                          data=form).json()
        return _ingested(body, collection)

    def _send(self, collection: str, records: list, model: str | None, first: int) -> tuple[IngestResult, int]:
        """One request's records, the first of them record `first` of the whole ingest. A record that JSON
        cannot carry (a number that is inf, an object) is skipped here with its reason, as the server skips
        one it cannot use."""
        sent, numbers, unsent = [], [], []
        for number, record in enumerate(records, first):
            try:
                sent.append(_json(_as_row(record)))
                numbers.append(number)
            except (TypeError, ValueError) as exc:
                unsent.append(Skipped(f"records#{number}", f"cannot be sent as JSON: {exc}"))
        result = IngestResult(collection)
        max_body = self._server_max_body()
        most, batch_bytes = _room(max_body)
        sizes = [len(row) + 2 for row in sent]  # each with its ", " in the joined body
        for group in _fitting(sizes, batch_bytes):
            if len(group) == 1 and sizes[group[0]] > most:
                unsent.append(Skipped(f"records#{numbers[group[0]]}", _too_large(max_body)))
                continue
            # The body joined from the records as they were made, each alone so that one JSON cannot carry is
            # found: not made a second time whole.
            body = self._call("POST", self._path(collection, "/items"), content=b'{"records": [%s], "model": %s}' % (
                b", ".join(sent[i] for i in group), _json(model)), headers={"Content-Type": "application/json"}).json()
            part = _ingested(body, collection)
            for skipped in part.skipped:  # the server numbers the records it was sent from 0
                if (number := skipped.source.removeprefix("records#")).isdigit():
                    skipped.source = f"records#{numbers[group[int(number)]]}"
            result.add(part)
        result.skipped = sorted(unsent + result.skipped, key=_record_number)
        return result, len(records)

    def recluster(self, collection: str, algorithm: str | None = None, k: int | str | None = None, *,
                  full: bool = False, progress: Progress | None = None, refit_fraction: float = REFIT_FRACTION,
                  **params: Any) -> RunResult:
        """Start a recluster job on the server and wait for it, reporting its progress."""
        body = {"algorithm": algorithm, "k": k, "full": full, "refit_fraction": refit_fraction, **params}
        job = self._call("POST", self._path(collection, "/recluster"), json=_given(**body)).json()["job_id"]
        return _run_result(self._wait(job, progress), collection)

    def _wait(self, job: str, progress: Progress | None) -> dict:
        """The result of a job on the server, once it is done, reporting its progress meanwhile. Interrupted, the
        wait ends and the job goes on: the KeyboardInterrupt says where to follow it."""
        try:
            while True:
                state = self._call("GET", f"/v1/jobs/{job}").json()
                if progress and state["progress"]["step"]:
                    progress(state["progress"]["step"], state["progress"]["done"], state["progress"]["total"])
                if state["state"] in ("failed", "cancelled"):
                    raise EmbcError(state["error"])
                if state["state"] == "done":
                    return state["result"]
                time.sleep(0.25)
        except KeyboardInterrupt:
            raise KeyboardInterrupt(f"job {job} goes on in the server: {self._shown}/v1/jobs/{job} (DELETE it to "
                                    "cancel the job)") from None

    def cancel_job(self, job: str) -> None:
        """Cancel a job on the server: it ends at its next step."""
        self._call("DELETE", f"/v1/jobs/{job}")

    def train_decoder(self, collection: str, size: int | None = None, epochs: int | None = None,
                      progress: Progress | None = None) -> DecoderResult:
        """Start training the collection's decoder on the server and wait for it, reporting its progress."""
        job = self._call("POST", self._path(collection, "/decoder"),
                         json=_given(size=size, epochs=epochs)).json()["job_id"]
        return DecoderResult(**self._wait(job, progress))

    def decode(self, collection: str, *, item: str | None = None, cluster: int | str | None = None,
               vector: Sequence[float] | None = None, text: str | None = None, run: int | None = None):
        """What the collection's decoder draws for an item, a cluster's centre, a vector or a text: a PIL image,
        or a table collection's row."""
        response = self._call("POST", self._path(collection, "/decode"), json=_given(
            item=item, cluster=cluster, vector=vector, text=text, run=run))
        if response.headers.get("content-type", "").startswith("image/"):
            from PIL import Image

            return Image.open(io.BytesIO(response.content))
        return response.json()

    def delete(self, collection: str, items: Sequence[str] | None = None) -> int:
        if items is None:
            points = self.collection(collection).points
            self._call("DELETE", self._path(collection))
            return points
        check_keys(items)
        removed = 0
        for key in items:
            try:
                self._call("DELETE", self._path(collection, f"/items/{_segment(key)}"))
                removed += 1
            except NotFound:
                self.collection(collection)  # a collection that is not there is the error, not a missing item
        return removed

    def delete_run(self, collection: str, run: int) -> None:
        self._call("DELETE", self._path(collection, f"/runs/{int(run)}"))

    def rename(self, collection: str, cluster: int, name: str) -> None:
        self._call("PUT", self._path(collection, f"/clusters/{check_cluster_id(cluster)}/name"), json={"name": name})

    # Questions

    def clusters(self, collection: str, run: int | None = None) -> list[ClusterSummary]:
        rows = self._call("GET", self._path(collection, "/clusters"), params=_given(run=run)).json()
        return [ClusterSummary.of(r) for r in rows]

    def cluster(self, collection: str, cluster: int | str, run: int | None = None) -> ClusterSummary:
        path = self._path(collection, f"/clusters/{check_cluster_id(cluster)}")
        return ClusterSummary.of(self._call("GET", path, params=_given(run=run)).json())

    def members(self, collection: str, cluster: int | str, limit: int | None = None, run: int | None = None,
                order: str = "centre") -> list[Entry]:
        """The items of a cluster, a page at a time; `limit` None or 0: all of them."""
        cluster, limit = check_cluster_id(cluster), check_limit(limit)
        out: list[Entry] = []
        cursor = None
        while not limit or len(out) < limit:
            page = self._call("GET", self._path(collection, f"/clusters/{cluster}/items"), params=_given(
                limit=min(PAGE, (limit - len(out)) if limit else PAGE), cursor=cursor, run=run, order=order)).json()
            out += [Entry.of(e) for e in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return out

    def similar(self, collection: str, *, text: str | None = None, image=None, row: dict | None = None,
                item: str | None = None, vector=None, cluster: int | str | None = None, limit: int = 10) -> list[Entry]:
        """The nearest stored items; an image (a file path or a PIL image) is uploaded."""
        path = self._path(collection, "/similar")
        if image is not None:
            check_image(image)
            if is_image(image):
                upload = ("image.png", io.BytesIO())
                image.save(upload[1], "PNG")
                upload[1].seek(0)
            elif Path(image).is_file():
                upload = (Path(image).name, open(image, "rb"))
            else:
                raise EmbcError(f"no image file '{image}'")
            with upload[1]:
                hits = self._call("POST", path, files={"image": upload},
                                  data=_given(cluster=cluster, limit=limit)).json()
        else:
            hits = self._call("POST", path, json=_given(text=text, row=row, item=item, vector=vector,
                                                        cluster=cluster, limit=limit)).json()
        return [Entry.of(h) for h in hits]

    def similar_many(self, collection: str, asks: Sequence[dict[str, Any]]) -> list[list[Entry]]:
        """`similar` for each ask, sent at once: the server answers the questions that arrive together in one
        search."""
        from concurrent.futures import ThreadPoolExecutor

        from embc.queries import check_asks

        asks = check_asks(asks)
        with ThreadPoolExecutor(min(ASKED_AT_ONCE, max(len(asks), 1))) as pool:
            return list(pool.map(lambda ask: self.similar(collection, **ask), asks))

    def item(self, collection: str, key: str) -> Entry:
        """One stored item, by item key or point id."""
        return Entry.of(self._call("GET", self._path(collection, f"/items/{_segment(key)}")).json())

    def report(self, collection: str, run: int | None = None) -> Report:
        r = self._call("GET", self._path(collection, "/report"), params=_given(run=run)).json()
        return Report(r["collection"], Run.of(r["run"]), r["metrics"], [ClusterStats.of(c) for c in r["clusters"]],
                      [Event.of(e) for e in r["events"]], [Run.of(x) for x in r["runs"]],
                      [SweepPoint.of(p) for p in r["sweep"]])

    def events(self, collection: str, run: int | None = None) -> list[Event]:
        return [Event.of(e) for e in self._call("GET", self._path(collection, "/events"),
                                                params=_given(run=run)).json()]

    def runs(self, collection: str) -> list[Run]:
        return [Run.of(r) for r in self._call("GET", self._path(collection, "/runs")).json()]

    def export(self, collection: str, target: str | os.PathLike | BinaryIO, format: str | None = None,
               run: int | None = None, vectors: bool = False) -> int:
        """Stream every point (with `vectors`, and its vector) to a file or a binary stream, as the server writes
        it; the number of rows."""
        from embc.export import check_vectors, format_for, write_all

        check_export_target(target)
        fmt = format_for(target, format)
        check_vectors(fmt, vectors)
        try:
            with ExitStack() as stack:
                response = stack.enter_context(self._http.stream("GET", self._path(collection, "/export"),
                                                                 params=_given(format=fmt, run=run,
                                                                               vectors=vectors or None)))
                if response.status_code >= 400:
                    response.read()
                    raise _error(response)
                rows = int(response.headers.get("x-embc-rows", 0))
                sink = target if hasattr(target, "write") else stack.enter_context(
                    open(stack.enter_context(writing_to(Path(target))), "wb"))
                for chunk in response.iter_bytes():
                    write_all(sink, chunk)
        except httpx.TransportError as exc:
            raise EmbcError(f"the export from {self._shown} broke off: {_cause(exc)}") from None
        return rows

    def plot(self, collection: str, kind: str, out: str | os.PathLike, run: int | None = None,
             cluster: int | str | None = None, per_cluster: int = 8, between: tuple[str, str] | None = None) -> Path:
        from embc.report.figures import figure_format

        out = Path(out)
        ends = {"from": between[0], "to": between[1]} if between else {}
        figure = self._call("GET", self._path(collection, f"/plots/{_segment(kind)}"), params=_given(
            run=run, cluster=cluster, per_cluster=per_cluster, format=figure_format(out), **ends)).content
        with writing_to(out):
            out.write_bytes(figure)
        return out


def _json(value: Any) -> bytes:
    """JSON of `value`, numpy's arrays and numbers included; ValueError for inf or nan, TypeError for what JSON
    has no form of."""
    def plain(v: Any) -> Any:
        if isinstance(v, np.ndarray | np.generic):
            return v.tolist()
        raise TypeError(f"JSON has no form of {type(v).__name__}")

    try:
        return json.dumps(value, default=plain, allow_nan=False).encode()
    except ValueError as exc:
        if "Out of range float" not in str(exc):
            raise
        raise ValueError("a number is inf or nan, which JSON cannot carry") from None


def _as_row(record: Any) -> dict:
    """A record as the JSON row the server reads: a text, a dict (nan, pandas' missing value, as null) or a
    (key, vector) pair."""
    if isinstance(record, str):
        return {"text": record}
    if isinstance(record, tuple) and len(record) == 2:
        return {"id": str(record[0]), "vector": record[1]}
    if isinstance(record, dict):
        return {k: None if isinstance(v, float | np.floating) and math.isnan(v) else v for k, v in record.items()}
    raise TypeError(f"{type(record).__name__} is not a text, a dict or a (key, vector) pair (images go as files: "
                    "ingest their paths)")


def _record_number(skipped: Skipped) -> int:
    number = skipped.source.removeprefix("records#")
    return int(number) if number.isdigit() else -1


def _given(**values: Any) -> dict:
    return {k: v for k, v in values.items() if v is not None}


def _segment(key: str) -> str:
    from urllib.parse import quote

    return quote(str(key), safe="")


@dataclass
class Part:
    """Rows of a table too large for one request, sent under the table's key."""

    key: str
    rows: TablePart


def _batches(paths: Sequence[str | os.PathLike], max_body: int) -> Iterable[list[tuple[Path, str]] | Part | Skipped]:
    """(file, key) pairs to upload, keyed as `embc ingest` keys them, in batches of bounded size under the
    server's `max_body`, a .npy file with its ids beside it. A table (JSONL, CSV, TSV, Parquet, .npy) larger than
    a request may be comes between them in parts of whole rows; a path that is not there, another file too
    large, or a row too large, as a skip with its reason, where `embc ingest` reports it."""
    from embc.ingest.sources import files_in, unreadable
    from embc.ingest.table_parts import SPLITTABLE

    most, batch_bytes = _room(max_body)
    batch: list[tuple[Path, str]] = []
    size = 0
    for file, key, _, _ in files_in(paths):
        files = _with_ids(file, key) if file.is_file() else []
        cost = sum(f.stat().st_size + len(k.encode()) + PART_BYTES for f, k in files)
        problem = unreadable(file)
        if problem is not None or cost > most:
            if batch:
                yield batch
                batch, size = [], 0
            if problem is None and file.suffix.lower() in SPLITTABLE:
                yield from _parts(file, key, max_body, len(files))
            else:
                yield Skipped(key, problem or _too_large(max_body))
            continue
        if batch and (size + cost > batch_bytes or len(batch) + len(files) > UPLOAD_FILES):
            yield batch
            batch, size = [], 0
        batch.extend(files)
        size += cost
    if batch:
        yield batch


def _with_ids(file: Path, key: str) -> list[tuple[Path, str]]:
    """The file to upload, and with a .npy file its ids (`NAME.ids.txt`) if it has them: the server reads them
    only beside the array, from the same request."""
    from embc.ingest.sources import ids_key, ids_path

    ids = ids_path(file) if file.suffix.lower() == ".npy" else None
    return [(file, key)] + ([(ids, ids_key(key))] if ids is not None and ids.is_file() else [])


def _parts(file: Path, key: str, max_body: int, files: int) -> Iterable[Part | Skipped]:
    """The table at `file` (sent as `files` files: a .npy with its ids as two) in parts that each fit a request;
    a row too large for one alone is skipped."""
    from embc.ingest.sources import DamagedRows
    from embc.ingest.table_parts import UnsplittableTable, table_parts

    most, batch_bytes = _room(max_body)
    overhead = files * (len(key.encode()) + PART_BYTES)  # of the files' parts of the form, as `_batches` counts it
    try:
        for rows in table_parts(file, batch_bytes - overhead):
            if isinstance(rows, DamagedRows):
                yield rows.skipped(key)
            elif rows.size + overhead > most:
                yield Skipped(f"{key}#{rows.first_key}", _too_large(max_body))
            else:
                yield Part(key, rows)
    except UnsplittableTable as exc:
        yield Skipped(key, f"{_too_large(max_body)}, and cannot be sent in parts: {exc}")


def _room(max_body: int) -> tuple[int, int]:
    """The most bytes of files or records that one request can carry under a server's `max_body`, and the
    most that a batch of several carries (a larger one goes alone)."""
    most = max_body - FORM_BYTES
    return most, min(UPLOAD_BYTES, most)


def _fitting(sizes: list[int], room: int) -> Iterable[list[int]]:
    """The indices of `sizes` in runs whose sum is at most `room`; one larger than `room` alone."""
    group: list[int] = []
    total = 0
    for i, size in enumerate(sizes):
        if group and total + size > room:
            yield group
            group, total = [], 0
        group.append(i)
        total += size
    if group:
        yield group


def _too_large(max_body: int) -> str:
    return f"too large for the server: a request body may hold {max_body:,} bytes (embc serve --max-body)"


def _ingested(body: dict, collection: str) -> IngestResult:
    return IngestResult(collection, body["added"], body["updated"], body["unchanged"],
                        [Skipped.of(s) for s in body["skipped_items"]], body["pruned"])


def _run_result(r: dict, collection: str) -> RunResult:
    if r["run_id"] is None:
        return RunResult(None, r["mode"], r["reason"], collection, 0)
    return RunResult(r["run_id"], r["mode"], r["reason"], collection, r["points"], r.get("algorithm"), r["params"],
                     [ClusterStats.of(c) for c in r["clusters"]], r["metrics"], [Event.of(e) for e in r["events"]],
                     r["timings"])
