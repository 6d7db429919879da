"""A JSONL, CSV, TSV, Parquet or .npy file cut into parts of whole rows, each under a byte budget: how a client
sends a table larger than a server takes in one request. Each part keeps its rows' keys (`FILE#LINE`,
`FILE#ROW`) through its line offset, which the server adds to the lines or rows it reads (`read_file`)."""

from __future__ import annotations

import codecs
import csv
import io
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np

from embc.ingest.sources import (DELIMITERS, MARKED, ROW_SUFFIXES, DamagedRows, UnreadableVectors,
                                 load_vectors, not_utf8, open_parquet, parquet_batches)
from embc.results import Skipped

SPLITTABLE = ROW_SUFFIXES | {".npy", ".parquet"}
CHUNK = 1 << 20
NPY_HEADER = 256  # bytes of a .npy file before its array, at most (numpy pads it to a multiple of 64)


@dataclass
class TablePart:
    """Rows of a table as a file of their own: a CSV or TSV part begins with the table's header. Its line or
    row `n` is the table's `n + line_offset`; `first_key` is its first row's key (`FILE#LINE`, `FILE#ROW`)
    without the file: for a text table, the line where that row ends. A .npy part's ids, when the array has
    them, are `ids`: its `NAME.ids.txt`, sent with it."""

    data: bytes
    line_offset: int
    first_key: int
    rows: int
    ids: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.data) + len(self.ids or b"")


class UnsplittableTable(ValueError):
    """The table cannot be read as text (the reason is the message)."""


def _records(handle, delimiter: str | None) -> Iterator[tuple[str, int]]:
    """Each record of an open table as its text and the number of lines it takes: a line of JSONL, a row of CSV
    (whose quoted fields may hold line breaks)."""
    if delimiter is None:
        for line in handle:
            yield line, 1
        return
    read: list[str] = []

    def lines() -> Iterator[str]:
        for line in handle:
            read.append(line)
            yield line

    csv.field_size_limit(sys.maxsize)  # as the server reads the file
    for _ in csv.reader(lines(), delimiter=delimiter):
        yield "".join(read), len(read)
        read.clear()


def _part(head: bytes, rows: list[bytes], header_lines: int, first: tuple[int, int]) -> TablePart:
    """A part of `rows` after the header (`head`, of `header_lines`), whose first row begins and ends at the
    table's lines `first`."""
    return TablePart(head + b"".join(rows), first[0] - header_lines - 1, first[1], len(rows))


def _check_utf8(path: Path) -> None:
    """UnsplittableTable unless the file is UTF-8 text throughout, said as `read_file` says it: before any part
    is sent, so that the table goes in whole or not at all, as it would in one request."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # of the chunk read
    with open(path, "rb") as handle:
        if any(handle.read(4).startswith(mark) for mark, _ in MARKED):
            raise UnsplittableTable("UTF-16 or UTF-32 text, of which only a whole file is read")
        handle.seek(0)
        while True:
            chunk = handle.read(CHUNK)
            pending = len(decoder.getstate()[0])  # the end of the last chunk, which the decoder holds back
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                raise UnsplittableTable(not_utf8(exc.object[exc.start], offset - pending + exc.start)) from None
            if not chunk:
                return
            offset += len(chunk)


def table_parts(path: Path, budget: int) -> Iterator[TablePart | DamagedRows]:
    """The rows of the JSONL, CSV, TSV, Parquet or .npy file at `path` in parts of at most `budget` bytes each (a
    row larger than that alone in its part), and the rows of a Parquet file that a damaged page keeps from being
    read; UnsplittableTable, before any part, when the file cannot be read."""
    suffix = path.suffix.lower()
    if suffix == ".npy":
        return _vector_parts(path, budget)
    if suffix == ".parquet":
        return _parquet_parts(path, budget)
    _check_utf8(path)
    return _text_parts(path, budget)


def _text_parts(path: Path, budget: int) -> Iterator[TablePart]:
    """A text table's rows, read as `read_file` reads them: UTF-8, lines ending at \\r, \\n or \\r\\n."""
    delimiter = DELIMITERS.get(path.suffix.lower())
    # newline="": line ends are kept as they are, as the server's reader sees them
    with open(path, encoding="utf-8-sig", newline="") as handle:
        records = _records(handle, delimiter)
        header, header_lines = next(records, ("", 0)) if delimiter is not None else ("", 0)
        head = header.encode()
        part: list[bytes] = []
        size, line, first = len(head), header_lines, (0, 0)  # line: the table's last line read
        for text, lines in records:
            data = text.encode()
            if part and size + len(data) > budget:
                yield _part(head, part, header_lines, first)
                part, size = [], len(head)
            if not part:
                first = line + 1, line + lines
            part.append(data)
            size += len(data)
            line += lines
        if part:
            yield _part(head, part, header_lines, first)


def _vector_parts(path: Path, budget: int) -> Iterator[TablePart]:
    """The vectors of a .npy file in parts, each with its ids if the array has them."""
    try:
        matrix, ids = load_vectors(path)
    except UnreadableVectors as exc:
        raise UnsplittableTable(str(exc)) from None
    costs = np.full(len(matrix), matrix.dtype.itemsize * matrix.shape[1], dtype=np.int64)
    if ids is not None:
        costs += [len(i.encode()) + 1 for i in ids]
    ends = np.cumsum(costs)  # bytes up to each row's end

    def part(start: int, end: int) -> TablePart:
        out = io.BytesIO()
        np.save(out, np.ascontiguousarray(matrix[start:end]), allow_pickle=False)
        listed = None if ids is None else "".join(f"{i}\n" for i in ids[start:end]).encode()
        return TablePart(out.getvalue(), start, start, end - start, listed)

    start = 0
    while start < len(matrix):
        before = int(ends[start - 1]) if start else 0
        end = max(start + 1, int(np.searchsorted(ends, before + budget - NPY_HEADER, side="right")))
        yield part(start, end)
        start = end


def _parquet_parts(path: Path, budget: int) -> Iterator[TablePart | DamagedRows]:
    """The rows of a Parquet file in parts, each a Parquet file of its own, and those a damaged page keeps from
    being read. Small row groups are gathered into one part, up to the budget."""
    import pyarrow as pa

    table = open_parquet(path, path.name)
    if isinstance(table, Skipped):
        raise UnsplittableTable(table.reason)
    rows = max(1, table.metadata.num_rows)
    # Parts of about half the budget at the file's own bytes a row; one that comes out larger is halved.
    batch = max(1, budget * rows // (2 * max(1, path.stat().st_size)))
    gathered: list = []  # record batches read and not yet sent: `held` rows, the file's rows from `start`
    start = held = 0
    for records in parquet_batches(table, batch):
        if gathered and (isinstance(records, DamagedRows) or held + records.num_rows > batch):
            yield from _fitting_parquet(pa.Table.from_batches(gathered), start, budget)
            start, held, gathered = start + held, 0, []
        if isinstance(records, DamagedRows):
            yield records
            start += records.rows
        else:
            gathered.append(records)
            held += records.num_rows
    if gathered:
        yield from _fitting_parquet(pa.Table.from_batches(gathered), start, budget)


def _fitting_parquet(records, start: int, budget: int) -> Iterator[TablePart]:
    """`records` (a pyarrow Table, the file's rows from `start`) as Parquet parts of at most `budget`."""
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(records, out)
    if out.tell() <= budget or records.num_rows == 1:
        yield TablePart(out.getvalue(), start, start, records.num_rows)
        return
    half = records.num_rows // 2
    yield from _fitting_parquet(records.slice(0, half), start, budget)
    yield from _fitting_parquet(records.slice(half), start + half, budget)
