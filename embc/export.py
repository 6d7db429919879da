"""Export a collection: every point with its cluster, the cluster's name, its label, its 2-D position and what it
holds (a text, a file, or a table row's columns; on request its vector), a page at a time, as Parquet, CSV, TSV
or JSON lines (to a file or a stream), or as one Arrow table."""

from __future__ import annotations

import errno
import json
import os
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator

from embc.errors import ParameterError, writing_to

if TYPE_CHECKING:
    import pyarrow as pa

    from embc.store.reports import ReportStore
    from embc.store.vectors import Store

FORMATS = ("parquet", "csv", "tsv", "jsonl")
_PAYLOAD = ["item", "source", "kind", "label", "cluster", "text", "path", "values"]


def format_for(target: str | os.PathLike | BinaryIO, given: str | None = None) -> str:
    """The format asked for, else the one the file's extension names."""
    if given is not None:
        if given not in FORMATS:
            raise ParameterError(f"unknown export format {given!r}: choose from {', '.join(FORMATS)}")
        return given
    suffix = Path(target).suffix.lower().lstrip(".") if isinstance(target, (str, os.PathLike)) else ""
    if suffix not in FORMATS:
        raise ParameterError(f"cannot tell the format from {str(target)!r}: name a .parquet, .csv, .tsv or .jsonl "
                             "file, or give the format")
    return suffix


# The export's columns; `vector` follows them on request. `ingest` reads a row with all of them as an export's.
COLUMNS = ("id", "item", "source", "kind", "label", "cluster", "cluster_name", "x", "y", "text", "path", "values")


def _schema(vectors: bool = False) -> "pa.Schema":
    import pyarrow as pa

    types = {"cluster": pa.int32(), "x": pa.float32(), "y": pa.float32()}
    return pa.schema([(name, types.get(name, pa.string())) for name in COLUMNS]
                     + [("vector", pa.list_(pa.float32()))] * vectors)


def values_text(values: dict | None) -> str | None:
    """A table row's columns as a cell of a table: their JSON text (rows differ in their columns)."""
    return None if values is None else json.dumps(values, ensure_ascii=False)


def check_vectors(fmt: str, vectors: bool) -> None:
    """ParameterError for vectors asked for in a format whose cells cannot hold a list."""
    if vectors and fmt in ("csv", "tsv"):
        raise ParameterError(f"vectors cannot go into {fmt.upper()}, whose cells hold no lists: export them as "
                             "parquet or jsonl")


def batches(store: "Store", reports: "ReportStore", collection: str, run: int | None = None,
            vectors: bool = False) -> Iterator["pa.Table"]:
    """The export's rows, one Arrow table per page of the store; with `vectors`, each point's stored vector
    too. With `run` (an earlier run than the latest), clusters and positions are that run's; before the first
    run, every point without them."""
    import pyarrow as pa

    from embc.queries import chosen_run, is_latest

    if run is None and reports.run(collection) is None:
        names, coords, latest = {}, {"point_id": [], "cluster": [], "x": [], "y": []}, True
    else:
        chosen = chosen_run(reports, collection, run)
        latest = is_latest(reports, collection, run, chosen)
        names = {c["id"]: c["name"] for c in reports.clusters(chosen["run_id"])}
        coords = reports.columns("coords", chosen["run_id"])
    position = {pid: n for n, pid in enumerate(coords["point_id"])}
    schema = _schema(vectors)
    for page in store.pages(collection, with_vectors=vectors, keys=_PAYLOAD):
        at = [position.get(pid) for pid in page.ids]
        xy = {axis: [None if n is None else float(coords[axis][n]) for n in at] for axis in ("x", "y")}
        columns = {key: [p.get(key) for p in page.payloads] for key in _PAYLOAD}
        columns["label"] = [None if v is None else str(v) for v in columns["label"]]
        columns["values"] = list(map(values_text, columns["values"]))
        if not latest:
            columns["cluster"] = [None if n is None else int(coords["cluster"][n]) for n in at]
        columns["cluster_name"] = [names.get(c) for c in columns["cluster"]]
        if vectors:
            columns["vector"] = page.vectors.tolist()
        yield pa.table({"id": page.ids, **columns, **xy}, schema=schema).select(schema.names)


def export_table(store: "Store", reports: "ReportStore", collection: str, run: int | None = None,
                 vectors: bool = False) -> "pa.Table":
    """The whole export as one Arrow table."""
    import pyarrow as pa

    return pa.concat_tables([_schema(vectors).empty_table(), *batches(store, reports, collection, run, vectors)])


def write_all(sink: BinaryIO, data: bytes) -> None:
    """Write `data`; BrokenPipeError when the sink took only a part of it: a pipe whose reader left mid-write
    does so without an error."""
    written = sink.write(data)
    if written is not None and written < len(data):
        raise BrokenPipeError(errno.EPIPE, "the output's reader went away")


def _with_values(row: dict) -> dict:
    if row["values"] is not None:
        row["values"] = json.loads(row["values"])
    return row


def export(store: "Store", reports: "ReportStore", collection: str, target: str | os.PathLike | BinaryIO, fmt: str,
           run: int | None = None, vectors: bool = False) -> int:
    """Write the export to a file or a binary stream a page at a time; returns the number of rows."""
    import pyarrow.csv as csv
    import pyarrow.parquet as pq

    check_vectors(fmt, vectors)
    schema = _schema(vectors)
    rows = 0
    with ExitStack() as stack:
        if isinstance(target, (str, os.PathLike)):
            sink = stack.enter_context(open(stack.enter_context(writing_to(Path(target))), "wb"))
        else:
            sink = target
        if fmt == "parquet":
            writer = stack.enter_context(pq.ParquetWriter(sink, schema))
        elif fmt in ("csv", "tsv"):
            options = csv.WriteOptions(delimiter="\t" if fmt == "tsv" else ",")
            writer = stack.enter_context(csv.CSVWriter(sink, schema, write_options=options))
        for table in batches(store, reports, collection, run, vectors):
            if fmt == "jsonl":  # where a row's columns are an object again
                write_all(sink, "".join(json.dumps(_with_values(row), ensure_ascii=False) + "\n"
                                        for row in table.to_pylist()).encode())
            else:
                writer.write_table(table)
            rows += table.num_rows
        if fmt in ("parquet", "csv", "tsv") and rows == 0:
            writer.write_table(schema.empty_table())
    return rows
